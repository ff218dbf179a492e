"""Residual connection and layer normalization around each sub-layer (paper section 3.1 and 5.4).

Paper (post-LN):  LayerNorm(x + Dropout(Sublayer(x)))
Later practice (pre-LN, Xiong et al. 2020):  x + Dropout(Sublayer(LayerNorm(x)))
Pre-LN keeps an un-normalized path from input to output, which trains deep stacks without the warm-up the
post-LN paper model needs; a pre-LN stack then needs one final LayerNorm (`final_norm` in the config).
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

from .checks import check_features, check_int


class AddNorm(nn.Module):
    """Wraps one sub-layer: residual add, dropout and LayerNorm, in post-LN (paper) or pre-LN order."""

    def __init__(self, d_model: int, dropout: float = 0.1, norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        check_int("d_model", d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)  # residual dropout, P_drop
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """Shapes: x (B, L, D); sublayer maps (B, L, D) -> (B, L, D); returns (B, L, D)."""
        check_features(x, self.norm.normalized_shape[0], "AddNorm input", self.norm.weight.dtype)
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))  # pre-LN (later change)
        return self.norm(x + self.dropout(sublayer(x)))  # post-LN (paper)
