"""Position-wise feed-forward network (paper section 3.3, equation 2).

    FFN(x) = max(0, x W_1 + b_1) W_2 + b_2

The same two linear layers are applied to every position separately (a 1x1 convolution, in the paper's
words); the inner width d_ff = 2048 is four times d_model = 512 in the base model.

Later changes: GELU instead of ReLU (BERT, GPT), and SwiGLU (Shazeer 2020; PaLM, LLaMA), a gated unit

    FFN_SwiGLU(x) = (Swish(x W_1 + b_1) * (x V + c)) W_2 + b_2,      Swish(z) = z sigmoid(z) (torch's SiLU)

where * multiplies element by element: a second projection V decides how much of each inner feature passes.
Here W_1 and V sit side by side in `w_1` (D -> 2F) and the SwiGLU activation splits its output in two, so
`forward` stays one line. Shazeer drops the biases b_1, c, b_2; we keep them, so the gate is the only change.
With the same d_ff, SwiGLU has 3DF weights instead of 2DF: compare at d_ff about (2/3) 4D for equal size.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_features, check_int, checked_by, weight_dtype


class SwiGLU(nn.Module):
    """The gated activation of SwiGLU: its input holds x W_1 + b_1 and x V + c side by side.
    Shapes: (B, L, 2F) -> (B, L, F)."""

    def forward(self, h: Tensor) -> Tensor:
        gate, value = h.chunk(2, dim=-1)  # (B, L, F) each: x W_1 + b_1 and x V + c
        return F.silu(gate) * value  # (B, L, F)


# ReLU is the paper's; GELU (BERT, GPT) and SwiGLU (Shazeer 2020) are later practice
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "swiglu": SwiGLU}


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        check_int("d_model", d_model)
        check_int("d_ff", d_ff)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.d_model = d_model
        gated = activation == "swiglu"  # W_1 and V side by side (D -> 2F)
        self.w_1 = nn.Linear(d_model, 2 * d_ff if gated else d_ff)  # W_1, b_1
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)  # not in the paper (tensor2tensor and nn.Transformer use it); 0 by default
        self.w_2 = nn.Linear(d_ff, d_model)  # W_2, b_2

    @checked_by("check_inputs")
    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, L, D) -> (B, L, D), through (B, L, F)."""
        return self.w_2(self.dropout(self.activation(self.w_1(x))))  # (B, L, F) -> (B, L, D)

    def check_inputs(self, x: Tensor) -> None:
        check_features(x, self.d_model, "feed-forward input", weight_dtype(self))
