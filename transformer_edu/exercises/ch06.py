"""Checkers for chapter 6, multi-head attention (paper section 3.2.2)."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..multi_head_attention import MultiHeadAttention
from ._check import Feedback, call_learner, compare_tensors, correct, not_yet


def check_split_heads(split_fn) -> Feedback:
    """`split_fn(x, n_heads)` should turn (B, T, D) into (B, H, T, d_k), head i holding columns i*d_k:(i+1)*d_k."""
    torch.manual_seed(0)
    b, t, d, h = 2, 5, 12, 3
    x = torch.randn(b, t, d)
    expected = x.view(b, t, h, d // h).transpose(1, 2)  # (B, H, T, d_k)
    got, error = call_learner(split_fn, x, h)
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return the split tensor of shape (B, H, T, d_k)")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (b, t, h, d // h):
        return not_yet(f"the shape is (B, T, H, d_k) = {tuple(got.shape)}: the heads must come before the positions, "
                       f"(B, H, T, d_k) = {tuple(expected.shape)}. Swap dimensions 1 and 2 with .transpose(1, 2).")
    problem = compare_tensors("the split tensor", got, expected,
                              hint="Head i should hold columns i*d_k to (i+1)*d_k of every position.")
    if problem is None:
        return correct("x.view(B, T, H, d_k).transpose(1, 2) gives (B, H, T, d_k); head i holds columns "
                       "i*d_k:(i+1)*d_k of every position.")
    if isinstance(got, torch.Tensor) and torch.equal(got, x.reshape(b, h, t, d // h)):
        return not_yet("the shape is right but the values are scrambled: reshaping (B, T, D) straight to "
                       "(B, H, T, d_k) cuts the flat memory in the wrong order, so one 'head' mixes pieces of "
                       "different positions. First view as (B, T, H, d_k), then transpose(1, 2).")
    return problem


def check_merge_heads(merge_fn) -> Feedback:
    """`merge_fn(x)` should turn (B, H, T, d_k) back into (B, T, H * d_k): the Concat in the equation."""
    torch.manual_seed(1)
    b, h, t, d_k = 2, 3, 5, 4
    x = torch.randn(b, h, t, d_k)
    expected = x.transpose(1, 2).reshape(b, t, h * d_k)  # (B, T, D)
    got, error = call_learner(merge_fn, x)
    if error is not None:
        if "view size is not compatible" in error.message:
            return not_yet(f"{error.message}. After transpose the tensor is not contiguous in memory, so .view "
                           f"cannot reshape it: use .reshape (or .contiguous().view).")
        return error
    if got is None:
        return not_yet("your function returned None: return the merged tensor of shape (B, T, H * d_k)")
    problem = compare_tensors("the merged tensor", got, expected,
                              hint="Position t should hold head 0's d_k values, then head 1's, and so on.")
    if problem is None:
        return correct("x.transpose(1, 2).reshape(B, T, H * d_k) puts each position's heads side by side: "
                       "Concat(head_1, ..., head_h).")
    if isinstance(got, torch.Tensor) and torch.equal(got, x.reshape(b, t, h * d_k)):
        return not_yet("the shape is right but the values are scrambled: reshaping (B, H, T, d_k) straight to "
                       "(B, T, D) without moving the head axis mixes positions. Transpose(1, 2) first, then reshape.")
    return problem


def mha_parameter_count(d_model: int, n_heads: int) -> int:
    """The reference: four D x D matrices (W^Q, W^K, W^V, W^O) and four bias vectors; h does not appear."""
    return 4 * d_model * d_model + 4 * d_model


def check_parameter_count(count_fn) -> Feedback:
    """`count_fn(d_model, n_heads)` should return the number of parameters of MultiHeadAttention(d_model, n_heads)."""
    for d_model, n_heads in [(512, 8), (512, 1), (64, 4), (12, 3)]:
        got, error = call_learner(count_fn, d_model, n_heads)
        if error is not None:
            return error
        expected = sum(p.numel() for p in MultiHeadAttention(d_model, n_heads).parameters())
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        if got != expected:
            d, d_k = d_model, d_model // n_heads
            hints = []
            if got == 4 * d * d:
                hints.append("the four projections have biases too (d_model numbers each)")
            if got == 3 * d * d + 3 * d:
                hints.append("W^O, the output projection after Concat, is missing")
            if got in (4 * n_heads * (d * d + d), n_heads * (4 * d * d + 4 * d)):
                hints.append("each head's W^Q_i is d_model x d_k, not d_model x d_model: together the h heads "
                             "fill one d_model x d_model matrix")
            if got == 4 * (d * d_k + d_k) or got == 3 * (d * d_k + d_k) + d * d + d:
                hints.append("count all h heads: side by side their projections fill d_model x d_model")
            hint = "; ".join(hints) or "count W^Q, W^K, W^V and W^O (each d_model x d_model) and their four biases"
            return not_yet(f"for d_model={d_model}, n_heads={n_heads} expected {expected:,}, got {got!r}: {hint}")
    return correct(f"4 d_model^2 + 4 d_model, whatever h is: {mha_parameter_count(512, 8):,} for the base model.")


def measured_multiply_adds(n: int, d_model: int, n_heads: int) -> tuple[int, int]:
    """Multiply-adds of one self-attention call on n positions, measured by torch's FLOP counter.

    Returns (projections, attention): the four nn.Linear products, and the two products Q K^T and weights V.
    The counter counts 2 FLOPs per multiply-add and ignores bias additions and the softmax.
    """
    mha = MultiHeadAttention(d_model, n_heads)
    x = torch.randn(1, n, d_model)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        mha(x, x, x)
    total = counter.get_total_flops() // 2
    projections = 4 * n * d_model * d_model
    return projections, total - projections


def check_multiply_adds(count_fn) -> Feedback:
    """`count_fn(n, d_model, n_heads)` should return (projection multiply-adds, attention multiply-adds)."""
    for n, d_model, n_heads in [(10, 16, 4), (7, 24, 1), (33, 32, 8)]:
        got, error = call_learner(count_fn, n, d_model, n_heads)
        if error is not None:
            return error
        proj, attn = measured_multiply_adds(n, d_model, n_heads)
        if got is None:
            return not_yet("your function returned None: return a pair (projections, attention)")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return not_yet(f"return a pair (projections, attention), got {got!r}")
        g_proj, g_attn = got
        where = f"for n={n}, d_model={d_model}, n_heads={n_heads}"
        if g_proj != proj:
            hint = ("W^O is a fourth d_model x d_model product" if g_proj == 3 * n * d_model * d_model else
                    "each of the four projections multiplies n rows of width d_model by a d_model x d_model matrix")
            return not_yet(f"{where} the projections take {proj:,} multiply-adds, got {g_proj!r}: {hint}")
        if g_attn != attn:
            if g_attn == n * n * d_model:
                hint = "you counted Q K^T; the weighted sum of the values (weights times V) costs as much again"
            elif g_attn == n_heads * 2 * n * n * d_model or g_attn == n_heads * n * n * d_model:
                hint = "each head works on width d_k = d_model / h, so all h heads together cost as much as one of width d_model"
            else:
                hint = "Q K^T is n x d_k times d_k x n for each of h heads; weights times V is n x n times n x d_k"
            return not_yet(f"{where} Q K^T and weights V take {attn:,} multiply-adds together, got {g_attn!r}: {hint}")
    return correct("projections 4 n d_model^2, attention 2 n^2 d_model; neither depends on h, and they are equal "
                   "at n = 2 d_model.")
