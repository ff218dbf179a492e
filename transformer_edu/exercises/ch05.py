"""Checkers for chapter 5, scaled dot-product attention and masks (paper sections 3.2.1 and 3.2.3)."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..attention import scaled_dot_product_attention
from ..masks import causal_mask, padding_mask
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


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


@checker
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
                ("the weights were zeroed after the softmax (the bug of buggy_masked_attention), so the rows no "
                 "longer sum to 1: block the keys before the softmax, not after",
                 _variant(q, k, v, mask, scale=math.sqrt(d_k), after=True)),
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
                        return not_yet(f"{where}: the fully masked rows are NaN (softmax of a row of -inf). "
                                       f"Find the rows whose mask allows no key and set their weights to 0.",
                                       answer="For example: weights.masked_fill(~mask.any(dim=-1, "
                                              "keepdim=True), 0.0).")
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


@checker
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
            return not_yet(f"{name} should be True exactly where our mask is False; it is not (yours: "
                           f"{value.int().tolist()}, 1 = True).",
                           answer=f"Expected {(~ours.reshape(shape)).int().tolist()}.")
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


def buggy_masked_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d_k)) v; mask: bool, True = may attend.
    Returns (output, weights)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, S)
    weights = torch.softmax(scores, dim=-1)  # (..., T, S)
    if mask is not None:
        weights = weights * mask  # blocked keys get weight 0
    return weights @ v, weights


def saturation_experiment(std: float = 2.0, d_k: int = 64, n_queries: int = 500, n_keys: int = 16,
                          seed: int = 2) -> float:
    """Mean largest softmax weight over n_keys keys when the entries of q and k have standard deviation `std`
    and the scores are divided by sqrt(d_k), as the paper does."""
    g = torch.Generator().manual_seed(seed)
    qs = std * torch.randn(n_queries, 1, d_k, generator=g)  # (N, 1, d_k)
    ks = std * torch.randn(n_queries, n_keys, d_k, generator=g)  # (N, S, d_k)
    weights = torch.softmax((qs * ks).sum(dim=-1) / math.sqrt(d_k), dim=-1)  # (N, S)
    return weights.max(dim=-1).values.mean().item()


@checker
def check_saturation_prediction(prediction) -> Feedback:
    """`prediction`: the mean largest weight over 16 keys at d_k = 64, scores divided by sqrt(d_k), when the
    entries of q and k have variance 4 instead of 1. Runs the experiment and compares."""
    if prediction is None:
        return not_yet("write your prediction first: a number between 1/16 and 1.")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not math.isfinite(prediction):
        return not_yet(f"the prediction should be a number between 1/16 and 1, got {prediction!r}.")
    if not 1 / 16 - 1e-9 <= prediction <= 1 + 1e-9:
        return not_yet(f"a largest weight among 16 weights that sum to 1 lies between 1/16 and 1; got "
                       f"{prediction:g}.")
    measured, unit = saturation_experiment(), saturation_experiment(std=1.0)
    why = ("Each entry product q_i k_i now has variance 4 x 4 = 16, so q.k / sqrt(d_k) has variance 16 instead "
           "of 1: the same spread as the unscaled scores at d_k = 16 in the figure.")
    if abs(prediction - measured) <= 0.08:
        return correct(f"measured {measured:.2f} (with unit-variance entries: {unit:.2f}). {why} Dividing by "
                       f"sqrt(d_k) corrects for the width only; it assumes unit-variance entries, which is why "
                       f"the initialisation of the projections (chapter 6) matters.")
    if abs(prediction - unit) <= 0.03:
        return not_yet("that is the value for unit-variance entries. Dividing by sqrt(d_k) fixes the effect of the "
                       "width, not of the entries' variance: what is the variance of q.k / sqrt(d_k) now?",
                       answer=f"Measured: {measured:.2f}. {why}")
    direction = "lower" if prediction > measured else "higher"
    return not_yet(f"the measurement is {direction} than your prediction. Work out the variance of "
                   f"q.k / sqrt(d_k) when each entry has variance 4, then find the d_k at which the unscaled "
                   f"scores of the figure have that variance.", answer=f"Measured: {measured:.2f}. {why}")
