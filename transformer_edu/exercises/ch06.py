"""Checkers for chapter 6, multi-head attention (paper section 3.2.2)."""
from __future__ import annotations

import math
import numbers

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..masks import causal_mask, padding_mask
from ..multi_head_attention import MultiHeadAttention
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


def buggy_multi_head_attention(query, key, value, mha, mask=None):
    """MultiHead with the heads as a batch dimension; projections read from `mha`.

    query (B, T, D), key and value (B, S, D); mask: bool, True = may attend,
    broadcastable to (B, H, T, S). Returns the output (B, T, D) and the
    weights (B, H, T, S)."""
    B, T, D = query.shape
    S = key.shape[1]
    H, d_k = mha.n_heads, mha.d_k
    q = mha.w_q(query).view(B, T, H, d_k).transpose(1, 2)  # (B, H, T, d_k)
    k = mha.w_k(key).view(B, S, H, d_k).transpose(1, 2)  # (B, H, S, d_k)
    v = mha.w_v(value).view(B, S, H, d_k).transpose(1, 2)  # (B, H, S, d_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, T, S)
    concat = (weights @ v).transpose(1, 2).reshape(B, T, D)  # (B, T, H * d_v)
    return mha.w_o(concat), weights


def _variant(query, key, value, mha, mask, *, scale="d_k", split="right", merge="right"):
    """Multi-head attention with one deliberate change, to recognise a learner's mistake."""
    B, T, D = query.shape
    S = key.shape[1]
    H, d_k = mha.n_heads, mha.d_k

    def heads(x, length):
        if split == "view":
            return x.reshape(B, H, length, d_k)  # same shape, scrambled content
        return x.view(B, length, H, d_k).transpose(1, 2)

    q, k, v = heads(mha.w_q(query), T), heads(mha.w_k(key), S), heads(mha.w_v(value), S)
    divisor = {"d_k": math.sqrt(d_k), "D": math.sqrt(D), "none": 1.0, "d_k^1": float(d_k)}[scale]
    scores = q @ k.transpose(-2, -1) / divisor
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = weights @ v  # (B, H, T, d_k)
    concat = out.reshape(B, T, D) if merge == "reshape" else out.transpose(1, 2).reshape(B, T, D)
    return mha.w_o(concat), weights


def _cases():
    torch.manual_seed(6)
    mha = MultiHeadAttention(32, 4).double().eval()  # d_k = 8: sqrt(d_model), d_k and sqrt(d_k) all differ
    x = torch.randn(2, 5, 32, dtype=torch.float64)  # (B, T, D)
    memory = torch.randn(2, 7, 32, dtype=torch.float64)  # (B, S, D)
    pad = padding_mask(torch.tensor([[4, 5, 6, 7, 0, 0, 0], [4, 5, 6, 7, 8, 9, 3]]), 0)  # (B, 1, 1, S)
    return mha, [("self-attention with 4 heads", (x, x, x, None)),
                 ("causal self-attention with 4 heads", (x, x, x, causal_mask(5))),
                 ("encoder-decoder attention (S = 7, padded) with 4 heads", (x, memory, memory, pad))]


@checker
def check_multi_head_attention(mha_fn) -> Feedback:
    """`mha_fn(query, key, value, mha, mask)` should return (output, weights) equal to `mha(...,
    return_attention=True)`, reading the projections from `mha`."""
    mha, cases = _cases()
    for what, (query, key, value, mask) in cases:
        with torch.no_grad():
            got, error = call_learner(mha_fn, query, key, value, mha, mask)
            if error is not None:
                return error
            if got is None:
                return not_yet("your function returned None: return the pair (output, weights)")
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                return not_yet(f"return a pair (output, weights), got {type(got).__name__}")
            out, weights = got
            expected_out, expected_w = mha(query, key, value, mask=mask, return_attention=True)
            known = [
                ("the same results as buggy_multi_head_attention: the bug is still there. It is right with one "
                 "head; what changes in each head's scores when h grows?", dict(scale="D")),
                ("the scores were not scaled at all: each head divides its scores by the square root of its own "
                 "width", dict(scale="none")),
                ("the scores were divided by d_k; the paper divides by the square root of the width of the "
                 "vectors that are dotted", dict(scale="d_k^1")),
                ("the heads hold scrambled content: a straight reshape to (B, H, T, d_k) mixes positions. "
                 "View as (B, T, H, d_k) first, then transpose", dict(split="view")),
                ("the weights are right but the merge scrambles positions: move the head axis back next to "
                 "d_k before reshaping to (B, T, D)", dict(merge="reshape")),
            ]
            problem = compare_tensors(f"the weights ({what})", weights, expected_w, atol=1e-9)
            if problem is None:
                problem = compare_tensors(f"the output ({what})", out, expected_out, atol=1e-9)
            if problem is None:
                continue
            for hint, change in known:
                wrong_out, wrong_w = _variant(query, key, value, mha, mask, **change)
                if (isinstance(weights, torch.Tensor) and weights.shape == wrong_w.shape
                        and isinstance(out, torch.Tensor) and out.shape == wrong_out.shape
                        and torch.allclose(weights.double(), wrong_w, atol=1e-9)
                        and torch.allclose(out.double(), wrong_out, atol=1e-9)):
                    return not_yet(f"{what}: {hint}" + ("" if hint.endswith("?") else "."))
            return problem
    return correct("each head divides its scores by sqrt(d_k), the width of its own queries and keys, not by "
                   "sqrt(d_model): with h heads, sqrt(d_model) is sqrt(h) times too large, and every head's "
                   "weights come out too flat.")


def measured_cross_multiply_adds(t: int, s: int, d_model: int, n_heads: int) -> int:
    """All multiply-adds of one encoder-decoder attention call, T queries over S memory positions, as
    FlopCounterMode measures them (2 FLOPs per multiply-add; matrix products only)."""
    torch.manual_seed(0)
    module = MultiHeadAttention(d_model, n_heads)
    query, memory = torch.randn(1, t, d_model), torch.randn(1, s, d_model)  # (1, T, D), (1, S, D)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(query, memory, memory)
    return counter.get_total_flops() // 2


@checker
def check_cross_multiply_adds(count_fn) -> Feedback:
    """`count_fn(T, S, d_model, n_heads)` -> (projections, attention) multiply-adds of encoder-decoder
    attention with T queries (decoder) and S keys and values (encoder memory)."""
    cases = [(6, 10, 32, 4), (3, 20, 16, 2), (12, 12, 64, 8), (9, 2, 16, 1)]
    for t, s, d, h in cases:
        projections, attention = 2 * (t + s) * d * d, 2 * t * s * d
        reveal = f"For T={t}, S={s}, d_model={d}: projections {projections:,}, attention {attention:,}."
        got, error = call_learner(count_fn, t, s, d, h)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a pair (projections, attention)")
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(
                isinstance(n, numbers.Real) and not isinstance(n, bool) for n in got):
            return not_yet(f"return a pair of numbers (projections, attention), got {got!r}")
        got_p, got_a = got
        where = f"for T={t}, S={s}, d_model={d}, h={h}"
        if got_p != projections:
            if got_p == 4 * t * d * d or got_p == 4 * s * d * d:
                return not_yet(f"{where}: the projections are counted as if all four took the same sequence. "
                               f"Which projections read the decoder's T positions and which the encoder's S?",
                               answer=reveal)
            if got_p == (2 * t + s) * d * d or got_p == (t + 2 * s) * d * d:
                return not_yet(f"{where}: one projection is counted on the wrong sequence. W^O acts on the "
                               f"output, which has one row per query.", answer=reveal)
            return not_yet(f"{where}: the projections are off. Each is an (L x d_model)(d_model x d_model) "
                           f"product; count L for each of the four.", answer=reveal)
        if got_a != attention:
            if got_a == t * s * d:
                return not_yet(f"{where}: the attention count is half of what it should be: there are two "
                               f"products per head, the scores and the weighted sum of the values.", answer=reveal)
            if got_a in (2 * t * t * d, 2 * s * s * d):
                return not_yet(f"{where}: the score matrix of encoder-decoder attention is not square: what are "
                               f"its rows and its columns?", answer=reveal)
            if got_a == 2 * t * s * (d // h) and h > 1:
                return not_yet(f"{where}: that is one head's count; there are h heads of width d_k.",
                               answer=reveal)
            return not_yet(f"{where}: the attention count is off: per head, Q_i K_i^T is (T x d_k)(d_k x S), and "
                           f"the weighted sum of the values is (T x S)(S x d_v).", answer=reveal)
    t, s, d, h = cases[0]
    measured = measured_cross_multiply_adds(t, s, d, h)
    if measured != 2 * (t + s) * d * d + 2 * t * s * d:
        return not_yet(f"FlopCounterMode measured {measured:,} multiply-adds, not the sum of your two counts.")
    return correct("projections 2 T d_model^2 + 2 S d_model^2 (W^Q and W^O on the T queries, W^K and W^V on the "
                   "S memory positions), attention 2 T S d_model, as FlopCounterMode measures; h does not appear.")
