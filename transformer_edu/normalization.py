"""Layer normalization (the paper's, section 3.1, after Ba et al. 2016) and RMSNorm, a later change.

    LayerNorm(x) = (x - mean(x)) / sqrt(var(x) + eps) * gain + bias      (per position, over the D features)
    RMSNorm(x)   = x / sqrt(mean(x^2) + eps) * gain                       (Zhang and Sennrich, 2019)

RMSNorm drops the centring and the bias: it only rescales each position's vector to a root mean square of 1.
Its authors found that the re-scaling, not the re-centring, is what helps training, and it saves a reduction
per normalization; LLaMA and most language models since 2023 use it. The paper's LayerNorm is torch's
nn.LayerNorm (chapter 7 builds it by hand); RMSNorm is written out here and tested against torch.nn.RMSNorm.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .checks import check_features, check_int, check_number, checked_by, weight_dtype

NORMS = ("layer", "rms")  # "layer": the paper's LayerNorm; "rms": RMSNorm, a later change


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * gain over the last axis, with a learned gain per feature (no bias)."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        check_int("d_model", d_model)
        check_number("eps", eps, 0.0, low_open=True)
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))  # the gain, 1 at the start as LayerNorm's

    @checked_by("check_inputs")
    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, L, D) -> (B, L, D)."""
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (B, L, 1)
        return x / rms * self.weight  # (B, L, D)

    def check_inputs(self, x: Tensor) -> None:
        check_features(x, self.d_model, "RMSNorm input", weight_dtype(self))

    def extra_repr(self) -> str:
        return f"{self.d_model}, eps={self.eps}"


def make_norm(kind: str, d_model: int, eps: float = 1e-5) -> nn.Module:
    """The normalization a block uses: nn.LayerNorm for "layer" (the paper), RMSNorm for "rms"."""
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    return nn.LayerNorm(d_model, eps=eps) if kind == "layer" else RMSNorm(d_model, eps)
