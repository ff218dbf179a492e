"""Checkers for chapter 5, scaled dot-product attention and masks (paper sections 3.2.1 and 3.2.3)."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..attention import scaled_dot_product_attention
from ..masks import causal_mask, padding_mask
from ._check import Feedback, call_learner, compare_tensors, correct, not_yet


def _attention_cases() -> list[tuple[str, tuple]]:
    """(description, (q, k, v, mask)) for the attention checker, seeded so feedback is repeatable."""
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, T, d_k)
    ids = torch.tensor([[4, 5, 6, 0, 0], [4, 5, 6, 7, 8]])
    left_padded = torch.tensor([[0, 0, 4, 5, 6], [4, 5, 6, 7, 8]])
    return [
        ("no mask", (q, k, v, None)),
        ("a padding mask of shape (2, 1, 1, 5)", (q, k, v, padding_mask(ids, 0))),
        ("a causal mask of shape (1, 1, 5, 5)", (q, k, v, causal_mask(5))),
        ("a causal mask on left-padded keys, so the first two query rows of batch item 0 may attend to nothing",
         (q, k, v, padding_mask(left_padded, 0) & causal_mask(5))),
    ]


def _variant(q, k, v, mask, *, scale, fill=float("-inf"), invert=False, after=False):
    """Attention computed with one deliberate change, to recognise a learner's mistake."""
    scores = q @ k.transpose(-2, -1) / scale  # (..., T, S)
    if mask is not None and not after:
        scores = scores.masked_fill(mask if invert else ~mask, fill)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None and after:
        weights = weights.masked_fill(~mask, 0.0)  # zeroed after softmax, not renormalised
    return weights


def check_masked_attention(attention_fn) -> Feedback:
    """`attention_fn(q, k, v, mask)` should return (output, weights) of masked scaled dot-product attention.

    mask is None or bool (True = may attend) broadcastable to (..., T, S); a query row with no allowed key
    gets all-zero weights and a zero output, as the package's `scaled_dot_product_attention` returns.
    """
    for what, (q, k, v, mask) in _attention_cases():
        got, error = call_learner(attention_fn, q.clone(), k.clone(), v.clone(), None if mask is None else mask.clone())
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the pair (output, weights)")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return not_yet(f"return a pair (output, weights), got {type(got).__name__}")
        out, weights = got
        expected_out, expected_w = scaled_dot_product_attention(q, k, v, mask)
        where = f"with {what}"
        problem = compare_tensors(f"the weights {where}", weights, expected_w, atol=1e-6)
        if problem is not None and isinstance(weights, torch.Tensor) and weights.shape == expected_w.shape:
            w = weights.detach().to(torch.float64)
            d_k = q.shape[-1]
            known = [
                ("the scores were not divided by sqrt(d_k): divide Q K^T by sqrt(d_k) before the softmax",
                 _variant(q, k, v, mask, scale=1.0)),
                ("the scores were divided by d_k; the paper divides by sqrt(d_k), which keeps their variance at 1",
                 _variant(q, k, v, mask, scale=d_k)),
                ("the mask is inverted: True means 'may attend', so fill the scores where the mask is False "
                 "(use ~mask)", _variant(q, k, v, mask, scale=math.sqrt(d_k), invert=True)),
                ("the weights were zeroed after the softmax, so the rows no longer sum to 1: fill the blocked scores "
                 "with -inf before the softmax", _variant(q, k, v, mask, scale=math.sqrt(d_k), after=True)),
            ]
            for hint, wrong in known:
                if torch.allclose(w, wrong, atol=1e-6, equal_nan=True):
                    return not_yet(f"{where}: {hint}.")
            if torch.allclose(w.sum(dim=-2), torch.ones_like(w.sum(dim=-2)), atol=1e-6) and mask is None:
                return not_yet(f"{where}: each column sums to 1, not each row: take the softmax over the keys, "
                               f"the last dimension (dim=-1).")
            if mask is not None:
                blocked_rows = ~mask.expand_as(expected_w).any(dim=-1)  # (..., T) rows with no allowed key
                if blocked_rows.any():
                    rows = w[blocked_rows]
                    if torch.isnan(rows).any():
                        return not_yet(f"{where}: the fully masked rows are NaN (softmax of a row of -inf). Set "
                                       f"their weights to 0, e.g. weights.masked_fill(~mask.any(dim=-1, "
                                       f"keepdim=True), 0.0).")
                    if torch.allclose(rows.sum(dim=-1), torch.ones(rows.shape[0], dtype=w.dtype), atol=1e-6):
                        return not_yet(f"{where}: the fully masked rows still sum to 1 (a large negative number "
                                       f"such as -1e9 instead of -inf spreads them evenly over blocked keys). "
                                       f"Those rows should be all zeros.")
        if problem is not None:
            return problem
        problem = compare_tensors(f"the output {where}", out, expected_out, atol=1e-6,
                                  hint="The output is weights @ v.")
        if problem is not None:
            return problem
    return correct("softmax(Q K^T / sqrt(d_k)) V with blocked scores set to -inf before the softmax; rows with "
                   "nothing to attend to give zero weights instead of NaN.")


def check_causal_mask(mask_fn) -> Feedback:
    """`mask_fn(T)` should return a (1, 1, T, T) bool mask: True where query t may attend to key s (s <= t)."""
    for length in (4, 7, 1):
        got, error = call_learner(mask_fn, length)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a bool tensor of shape (1, 1, T, T)")
        if not isinstance(got, torch.Tensor):
            return not_yet(f"return a torch.Tensor, got {type(got).__name__}")
        expected = causal_mask(length)
        where = f"for T={length}"
        if got.dtype != torch.bool:
            return not_yet(f"{where}: the mask should be bool (True = may attend), got dtype {got.dtype}. A float "
                           f"mask would be added to the scores instead; build it with dtype=torch.bool.")
        if tuple(got.shape) == (length, length) and length > 1:
            return not_yet(f"{where}: the values may be right but the shape is {tuple(got.shape)}; add two leading "
                           f"axes (mask[None, None]) so it broadcasts over batch and heads: (1, 1, T, T).")
        if tuple(got.shape) != tuple(expected.shape):
            return not_yet(f"{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}.")
        if torch.equal(got, ~expected):
            return not_yet(f"{where}: this is the blocked-positions mask (True = may NOT attend), the convention of "
                           f"nn.MultiheadAttention. Ours is the opposite: True on and below the diagonal.")
        if length > 1 and torch.equal(got[0, 0], torch.ones(length, length, dtype=torch.bool).triu()):
            return not_yet(f"{where}: True above the diagonal lets query t see keys after it (the future). Use the "
                           f"lower triangle: torch.tril.")
        if length > 1 and torch.equal(got[0, 0], torch.ones(length, length, dtype=torch.bool).tril(-1)):
            return not_yet(f"{where}: the diagonal is False, so position t may not attend to itself (and position 0 "
                           f"to nothing). The paper hides positions after t only: keep the diagonal.")
        if not torch.equal(got, expected):
            return not_yet(f"{where}: expected {expected[0, 0].int().tolist()}, "
                           f"got {got[0, 0].int().tolist()} (1 = True).")
    return correct("True on and below the diagonal: query t may attend to keys 0 .. t, never to later positions.")


def check_torch_masks(convert_fn) -> Feedback:
    """`convert_fn(pad_mask, causal)` should turn our masks (True = may attend) into nn.MultiheadAttention's:
    key_padding_mask (B, S) and attn_mask (T, T), both bool with True = blocked. Checked by running
    nn.MultiheadAttention with them against our attention on the same projections."""
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [5, 6, 7, 8, 9, 10]])
    pad, causal = padding_mask(ids, 0), causal_mask(6)  # (2, 1, 1, 6), (1, 1, 6, 6)
    got, error = call_learner(convert_fn, pad.clone(), causal.clone())
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return the pair (key_padding_mask, attn_mask)")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return not_yet(f"return a pair (key_padding_mask, attn_mask), got {type(got).__name__}")
    key_padding, attn = got
    for name, value, ours, shape, hint in [
        ("key_padding_mask", key_padding, pad, (2, 6), "pad_mask[:, 0, 0, :] drops the two singleton axes"),
        ("attn_mask", attn, causal, (6, 6), "causal[0, 0] drops the two singleton axes"),
    ]:
        if not isinstance(value, torch.Tensor):
            return not_yet(f"{name} should be a torch.Tensor, got {type(value).__name__}")
        if value.dtype != torch.bool:
            return not_yet(f"{name} should stay bool (True = blocked), got dtype {value.dtype}")
        if tuple(value.shape) != shape:
            return not_yet(f"{name} should have shape {shape}, got {tuple(value.shape)}: {hint}.")
        if torch.equal(value, ours.reshape(shape)):
            return not_yet(f"{name} is our mask unchanged. nn.MultiheadAttention reads True as 'blocked', so it "
                           f"would attend only where we forbid it: flip it with ~.")
        if not torch.equal(value, ~ours.reshape(shape)):
            return not_yet(f"{name} should be True exactly where our mask is False; expected "
                           f"{(~ours.reshape(shape)).int().tolist()}, got {value.int().tolist()} (1 = True).")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 8, generator=g)  # (B, T, D)
    mha = nn.MultiheadAttention(8, 1, bias=False, batch_first=True).eval()
    with torch.no_grad():
        _, torch_weights = mha(x, x, x, key_padding_mask=key_padding, attn_mask=attn, need_weights=True)
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)  # each (D, D)
        _, our_weights = scaled_dot_product_attention(x @ w_q.T, x @ w_k.T, x @ w_v.T, (pad & causal)[:, 0])
    problem = compare_tensors("nn.MultiheadAttention's weights with your masks", torch_weights, our_weights, atol=1e-5)
    if problem is not None:
        return problem
    return correct("~ flips True = may attend into True = blocked; with (B, S) and (T, T) masks nn.MultiheadAttention "
                   "gives the same weights as our attention.")
