"""Checkers for chapter 7: feed-forward network, residual connections and layer normalization
(paper sections 3.3, 3.1 and 5.4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..feed_forward import PositionwiseFeedForward
from ._check import Feedback, compare_tensors, correct, not_yet


def _close(got, expected, atol: float = 1e-5) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.shape
            and bool(torch.allclose(got, expected, atol=atol, equal_nan=False)))


def check_layer_norm(norm_fn) -> Feedback:
    """`norm_fn(x, gamma, beta, eps)` should equal nn.LayerNorm over the last dimension."""
    torch.manual_seed(0)
    d = 8
    x = torch.randn(2, 4, d) * 3 + 1
    x[1, 2] = 0.7  # one position whose features are all equal: its variance is 0
    gamma, beta, eps = torch.randn(d), torch.randn(d), 1e-5
    expected = F.layer_norm(x, (d,), gamma, beta, eps)
    try:
        got = norm_fn(x.clone(), gamma.clone(), beta.clone(), eps)
    except Exception as exc:  # the learner's code: report, do not crash
        return not_yet(f"your function raised {exc!r}")
    if got is None:
        return not_yet("your function returned None: return the normalized tensor, the same shape as x")
    problem = compare_tensors("the output", got, expected, atol=1e-4)
    if problem is None:
        return correct("mean and biased variance over the last dimension, eps inside the square root, then "
                       "gamma * x_hat + beta: the same as nn.LayerNorm.")
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return problem
    ok = torch.ones(2, 4, dtype=torch.bool)
    ok[1, 2] = False  # compare the other positions when the constant one went wrong
    if _close(got[ok], expected[ok], 1e-4):
        shown = "NaN or infinite" if not torch.isfinite(got[1, 2]).all() else "wrong"
        return not_yet(f"only the position whose features are all equal came out {shown}: its variance is 0, so "
                       f"divide by sqrt(variance + eps), with eps inside the square root")
    mean = x.mean(-1, keepdim=True)
    unbiased = gamma * (x - mean) / torch.sqrt(x.var(-1, keepdim=True, unbiased=True) + eps) + beta
    if _close(got, unbiased, 1e-4):
        return not_yet("you used the unbiased variance (dividing by d_model - 1). Layer normalization divides by "
                       "d_model: x.var(dim=-1, unbiased=False) or ((x - mean) ** 2).mean(dim=-1)")
    plain = F.layer_norm(x, (d,), None, None, eps)
    if _close(got, plain, 1e-4):
        return not_yet("the normalization is right but gamma and beta are missing: return gamma * x_hat + beta")
    for dim in (0, 1):
        m, v = x.mean(dim, keepdim=True), x.var(dim, keepdim=True, unbiased=False)
        if _close(got, gamma * (x - m) / torch.sqrt(v + eps) + beta, 1e-4):
            return not_yet(f"you took the mean and variance over dimension {dim}; layer normalization uses the "
                           f"features of one position: the last dimension (dim=-1, keepdim=True)")
    return problem


def ffn_parameter_count(d_model: int, d_ff: int) -> int:
    """The reference: W_1 (d_model x d_ff), b_1 (d_ff), W_2 (d_ff x d_model), b_2 (d_model)."""
    return d_model * d_ff + d_ff + d_ff * d_model + d_model


def check_ffn_parameters(count_fn) -> Feedback:
    """`count_fn(d_model, d_ff)` should return the number of parameters of PositionwiseFeedForward(d_model, d_ff)."""
    for d_model, d_ff in [(512, 2048), (64, 256), (10, 7)]:
        try:
            got = count_fn(d_model, d_ff)
        except Exception as exc:
            return not_yet(f"calling your function with d_model={d_model}, d_ff={d_ff} raised {exc!r}")
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        expected = sum(p.numel() for p in PositionwiseFeedForward(d_model, d_ff).parameters())
        if got != expected:
            weights = 2 * d_model * d_ff
            if got == weights:
                hint = "the biases are missing: b_1 has d_ff numbers and b_2 has d_model"
            elif got in (weights + 2 * d_ff, weights + 2 * d_model):
                hint = "b_1 has d_ff numbers (one per inner unit) and b_2 has d_model (one per output feature)"
            elif got in (weights + d_ff, weights + d_model):
                hint = "one of the two biases is missing"
            elif got == 2 * d_model * d_model + 2 * d_model:
                hint = "the inner layer is d_ff wide, not d_model"
            else:
                hint = "count W_1 (d_model x d_ff), b_1, W_2 (d_ff x d_model) and b_2"
            return not_yet(f"for d_model={d_model}, d_ff={d_ff} expected {expected:,}, got {got!r}: {hint}")
    return correct(f"2 d_model d_ff + d_ff + d_model: {ffn_parameter_count(512, 2048):,} in the base model, about "
                   f"twice the {4 * 512 * 512 + 4 * 512:,} of its multi-head attention.")


def _add_norm_case():
    torch.manual_seed(0)
    d = 8
    norm = nn.LayerNorm(d)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(d) + 0.5)  # gamma, beta away from 1 and 0, so every mistake shows
        norm.bias.copy_(torch.randn(d))
    sublayer = PositionwiseFeedForward(d, 16)
    x = torch.randn(2, 3, d) * 2
    return x, sublayer, norm


def _variants(x, sublayer, norm) -> dict:
    return {
        "post": norm(x + sublayer(x)),
        "pre": x + sublayer(norm(x)),
        "no_residual_post": norm(sublayer(x)),
        "no_residual_pre": sublayer(norm(x)),
        "pre_then_norm": norm(x + sublayer(norm(x))),
        "norm_input_only": norm(x) + sublayer(x),
    }


_MISTAKES = {
    "no_residual_post": "the residual connection is missing: add the sub-layer's input x to its output",
    "no_residual_pre": "the residual connection is missing: add x to the sub-layer's output",
    "pre_then_norm": "this normalizes twice: in pre-LN the sum x + Sublayer(LayerNorm(x)) is not normalized again",
    "norm_input_only": "the normalized x went into the sum instead of into the sub-layer",
}


def _check_order(fn, norm_first: bool) -> Feedback:
    x, sublayer, norm = _add_norm_case()
    name, other = ("pre", "post") if norm_first else ("post", "pre")
    with torch.no_grad():
        variants = _variants(x, sublayer, norm)
        expected = variants[name]
        try:
            got = fn(x.clone(), sublayer, norm)
        except Exception as exc:
            return not_yet(f"your function raised {exc!r}")
    if got is None:
        return not_yet("your function returned None: return the wrapped sub-layer's output, the same shape as x")
    problem = compare_tensors("the output", got, expected)
    formula = "x + Sublayer(LayerNorm(x))" if norm_first else "LayerNorm(x + Sublayer(x))"
    if problem is None:
        return correct(f"{formula}, as Block.{name}_ln writes it for every sub-layer (chapter 8).")
    if _close(got, variants[other]):
        return not_yet(f"this is the {other}-LN order; {name}-LN is {formula}")
    for key, message in _MISTAKES.items():
        if _close(got, variants[key]):
            return not_yet(f"{message}. {name}-LN is {formula}")
    return problem


def check_post_ln(post_ln_fn) -> Feedback:
    """`post_ln_fn(x, sublayer, norm)` should compute the paper's LayerNorm(x + Sublayer(x))."""
    return _check_order(post_ln_fn, norm_first=False)


def check_pre_ln(pre_ln_fn) -> Feedback:
    """`pre_ln_fn(x, sublayer, norm)` should compute the later pre-LN order x + Sublayer(LayerNorm(x))."""
    return _check_order(pre_ln_fn, norm_first=True)
