"""Scaled dot-product attention (chapter 5; paper section 3.2.1, equation 1)."""
from __future__ import annotations

import math  # noqa: F401 (for your code)

import torch  # noqa: F401 (for your code)
from torch import Tensor

from transformer_edu.track import todo


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout=None) -> tuple[Tensor, Tensor]:
    """(output, weights) of softmax(q k^T / sqrt(d_k)) v.

    Shapes: q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); mask None or bool, True = may attend,
    broadcastable to (..., T, S) -> output (..., T, d_v), weights (..., T, S).
    Blocked scores become -inf before the softmax; a query row with no allowed key gets all-zero weights (not
    NaN). `dropout` (a module or None) is applied to the weights before they mix the values."""
    todo("attention")
