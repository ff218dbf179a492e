"""Checkers for chapter 7: feed-forward network, residual connections and layer normalization
(paper sections 3.3, 3.1 and 5.4)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


def _close(got, expected, atol: float = 1e-5) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.shape
            and bool(torch.allclose(got, expected, atol=atol, equal_nan=False)))


def _as_number(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


# --- Exercise 1: find the bug in a layer normalization ------------------------------------------------------

def buggy_layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalization over the last dimension (with one bug).
    x (..., D); gamma, beta (D,)."""
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, keepdim=True)  # (..., 1)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta  # (..., D)


def _unbiased(x, gamma, beta, eps):
    return buggy_layer_norm(x, gamma, beta, eps)


@checker
def check_layer_norm_fix(norm_fn) -> Feedback:
    """`norm_fn(x, gamma, beta, eps)` should be buggy_layer_norm with its bug fixed: equal to nn.LayerNorm."""
    torch.manual_seed(0)
    d = 8
    x = torch.randn(2, 4, d) * 3 + 1
    x[1, 2] = 0.7  # one position whose features are all equal: its variance is 0
    gamma, beta, eps = torch.randn(d), torch.randn(d), 1e-5
    expected = F.layer_norm(x, (d,), gamma, beta, eps)
    got, error = call_learner(norm_fn, x.clone(), gamma.clone(), beta.clone(), eps)
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return the normalized tensor, the same shape as x")
    if _close(got, _unbiased(x, gamma, beta, eps), 1e-6):
        return not_yet("this still has the bug: the output differs from nn.LayerNorm by a constant factor at every "
                       "position. Compare the statistics with the formula in the chapter, term by term: which one "
                       "does torch compute differently by default?",
                       answer="x.var divides by D - 1 by default (Bessel's correction); LayerNorm divides by D: "
                              "use x.var(dim=-1, keepdim=True, unbiased=False).")
    problem = compare_tensors("the output", got, expected, atol=1e-4)
    if problem is None:
        return correct("the bug was the unbiased variance: x.var divides by D - 1 unless told otherwise, and "
                       "LayerNorm divides by D. With unbiased=False the function equals nn.LayerNorm.")
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return problem
    ok = torch.ones(2, 4, dtype=torch.bool)
    ok[1, 2] = False
    if _close(got[ok], expected[ok], 1e-4):
        shown = "NaN or infinite" if not torch.isfinite(got[1, 2]).all() else "wrong"
        return not_yet(f"only the position whose features are all equal came out {shown}: its variance is 0, so "
                       f"keep eps inside the square root")
    if _close(got, F.layer_norm(x, (d,), None, None, eps), 1e-4):
        return not_yet("the normalization is right but gamma and beta are gone: keep gamma * x_hat + beta")
    for dim in (0, 1):
        m, v = x.mean(dim, keepdim=True), x.var(dim, keepdim=True, unbiased=False)
        if _close(got, gamma * (x - m) / torch.sqrt(v + eps) + beta, 1e-4):
            return not_yet(f"you took the statistics over dimension {dim}; layer normalization uses the features "
                           f"of one position, the last dimension")
    return problem


# --- Exercise 2: predict, then check: LayerNorm of a scaled and shifted input --------------------------------

def _invariance_gap() -> float:
    """Largest |LayerNorm(x) - LayerNorm(10 x + 3)| over a seeded (4, 6, 64) input, gamma = 1, beta = 0."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(4, 6, 64, generator=g, dtype=torch.float64)
    norm = lambda t: F.layer_norm(t, (64,), eps=1e-5)  # noqa: E731
    return float((norm(x) - norm(10 * x + 3)).abs().max())


@checker
def check_scale_prediction(prediction) -> Feedback:
    """`prediction`: the largest absolute difference between LayerNorm(x) and LayerNorm(10 x + 3)."""
    value = _as_number(prediction)
    if value is None:
        return not_yet("write your prediction as one number (for example 0.5), then run the cell")
    gap = _invariance_gap()
    if value < 0:
        return not_yet("a largest absolute difference cannot be negative")
    explain = (f"The experiment gives {gap:.1e}. Subtracting the mean removes the + 3; dividing by the standard "
               f"deviation removes the factor 10 (the mean and the spread are both multiplied by 10). Only eps "
               f"inside the square root tells the two apart, and it is tiny next to a variance of 100.")
    if value <= 1e-3:
        return correct(f"you predicted {value:g}. {explain} So a LayerNorm forgets the scale and offset of each "
                       f"position's vector; in post-LN this is why every block's output has the same size.")
    return not_yet(f"you predicted {value:g}; the experiment disagrees by far. Go through the formula with "
                   f"10 x + 3 in place of x: what happens to the mean, to the variance, and to x - mean?",
                   answer=f"The measured difference is {gap:.1e}: LayerNorm(10 x + 3) equals LayerNorm(x) up to eps.")


# --- Exercise 3: derivation: the length of a normalized vector -----------------------------------------------

@checker
def check_normalized_length(length_fn) -> Feedback:
    """`length_fn(d_model)`: the Euclidean norm of x_hat = (x - mu) / sigma (eps = 0) for any x of width d_model
    whose features are not all equal."""
    for d in (4, 64, 512):
        got, error = call_learner(length_fn, d)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the length as a number")
        value = _as_number(got)
        if value is None:
            return not_yet(f"length_fn({d}) should return one number, got {type(got).__name__}")
        expected = math.sqrt(d)
        if math.isclose(value, expected, rel_tol=1e-6):
            continue
        if math.isclose(value, 1.0):
            return not_yet(f"length_fn({d}) returned 1: LayerNorm does not make the vector a unit vector. Its "
                           f"features have variance 1, which is a statement about their mean square, not their "
                           f"sum of squares")
        if math.isclose(value, d):
            return not_yet(f"length_fn({d}) returned the sum of squares; the length is its square root")
        if d > 1 and math.isclose(value, math.sqrt(d - 1)):
            return not_yet(f"length_fn({d}): LayerNorm's variance divides by D, not D - 1")
        return not_yet(f"length_fn({d}) returned {value:g}. Start from sigma^2 = (1/D) sum_j (x_j - mu)^2 and "
                       f"write sum_j x_hat_j^2 with it", answer=f"The length is sqrt(D): {expected:.4g} for D = {d}.")
    return correct("sum_j x_hat_j^2 = sum_j (x_j - mu)^2 / sigma^2 = D sigma^2 / sigma^2 = D, so every normalized "
                   "vector has length sqrt(D) (22.6 for D = 512): gamma and beta then set the scale per feature.")
