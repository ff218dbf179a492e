"""Scaled dot-product attention (paper section 3.2.1, equation 1).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Each query row is compared with every key by a dot product; the scores are divided by sqrt(d_k) so their
spread does not grow with the width d_k; softmax turns each row into weights that sum to 1; the output
is the weighted average of the value rows.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .checks import check_mask, check_qkv, checked_by


def check_attention_inputs(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, dropout=None) -> None:
    """What scaled_dot_product_attention needs (checks.py says when it runs)."""
    check_qkv(q, k, v)
    if mask is not None:
        check_mask(mask, (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2]),
                   four_dims=False)


@checked_by(check_attention_inputs)
def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout: torch.nn.Module | None = None) -> tuple[Tensor, Tensor]:
    """Return (output, weights) of softmax(q k^T / sqrt(d_k)) v.

    Shapes:
        q (..., T, d_k), k (..., S, d_k), v (..., S, d_v)
        mask: bool, True = may attend, broadcastable to (..., T, S)
        output (..., T, d_v), weights (..., T, S)
    A query row whose mask allows no key at all gets all-zero weights and a zero output.
    `dropout` (not in the paper, used by nn.Transformer) is applied to the weights before they mix values.
    """
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # blocked keys get weight exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)  # (..., T, S), each row sums to 1
    if mask is not None:
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # fully blocked rows: 0, not NaN
    mixed = dropout(weights) if dropout is not None else weights
    return mixed @ v, weights  # (..., T, d_v), (..., T, S)
