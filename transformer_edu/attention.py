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

from .masks import check_mask


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., length, width), got {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width d_k, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length, got k {tuple(k.shape)} and v {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the leading (batch, head) dimensions of q, k and v must match or broadcast, got "
                         f"q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)}") from None
    if k.shape[-2] == 0 or q.shape[-2] == 0:
        raise ValueError(f"attention needs at least one query and one key, got q {tuple(q.shape)} and k {tuple(k.shape)}")


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
    _check_qkv(q, k, v)
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
    if mask is not None:
        check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))  # blocked keys get weight exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)  # (..., T, S), each row sums to 1
    if mask is not None:
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # fully blocked rows: 0, not NaN
    mixed = dropout(weights) if dropout is not None else weights
    return mixed @ v, weights  # (..., T, d_v), (..., T, S)
