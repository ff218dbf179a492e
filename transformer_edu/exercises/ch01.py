"""Checkers for chapter 1, the big picture (paper sections 1, 3 and 4, Figure 1 and Table 1)."""
from __future__ import annotations

import math
import numbers

import torch

from ..multi_head_attention import MultiHeadAttention
from ._check import Feedback, call_learner, checker, correct, not_yet

SUBLAYERS = ("self-attention", "masked self-attention", "encoder-decoder attention", "feed-forward")


@checker
def check_attention_shapes(shapes_fn) -> Feedback:
    """`shapes_fn(B, S, T, H)` returns {"encoder_self": shape, "decoder_self": shape, "cross": shape}."""
    B, S, T, H = 2, 7, 5, 4
    expected = {"encoder_self": (B, H, S, S), "decoder_self": (B, H, T, T), "cross": (B, H, T, S)}
    got, error = call_learner(shapes_fn, B, S, T, H)
    if error is not None:
        return error
    if not isinstance(got, dict) or set(got) != set(expected):
        return not_yet(f"return a dict with exactly the keys {sorted(expected)}, got {got!r}")
    reveal = f"With B={B}, S={S}, T={T}, H={H}: " + ", ".join(f"{k} {v}" for k, v in expected.items()) + "."
    for kind, shape in expected.items():
        value = got[kind]
        try:
            answer = tuple(int(n) for n in value)
        except TypeError:
            return not_yet(f"{kind}: give the shape as a tuple of 4 ints, got {value!r}. Attention weights have one "
                           f"axis for the batch, one for the heads, one for the queries and one for the keys.",
                           answer=reveal)
        if answer == shape:
            continue
        if len(answer) != 4:
            return not_yet(f"{kind}: attention weights have 4 axes (batch, heads, queries, keys), you gave "
                           f"{len(answer)}.", answer=reveal)
        if kind == "cross" and answer == (B, H, S, T):
            return not_yet("cross: queries and keys are swapped. The queries of encoder-decoder attention come "
                           "from the decoder and the keys from the encoder's memory: which length goes with "
                           "which?", answer=reveal)
        if answer[:2] == (H, B):
            return not_yet(f"{kind}: the batch axis comes first, then the heads.", answer=reveal)
        return not_yet(f"{kind}: not the shape the model prints. Attention weights are (batch, heads, queries, "
                       f"keys): ask which sequence the queries come from and which the keys.", answer=reveal)
    return correct("weights are (batch, heads, queries, keys); only encoder-decoder attention mixes T and S.")


@checker
def check_decoder_sublayers(answer) -> Feedback:
    """`answer` lists one decoder layer's sub-layers in order."""
    expected = ["masked self-attention", "encoder-decoder attention", "feed-forward"]
    reveal = f"The order is {expected}."
    if not isinstance(answer, (list, tuple)) or not all(isinstance(a, str) for a in answer):
        return not_yet(f"give a list of strings chosen from {list(SUBLAYERS)}")
    answer = [a.strip().lower() for a in answer]
    unknown = [a for a in answer if a not in SUBLAYERS]
    if unknown:
        return not_yet(f"{unknown} is not one of {list(SUBLAYERS)}")
    if answer == expected:
        return correct("masked self-attention, then encoder-decoder attention, then the feed-forward network.")
    if "self-attention" in answer:
        return not_yet("the decoder has no unmasked self-attention: while it writes, a position may not look at "
                       "the positions after it.", answer=reveal)
    if len(answer) != 3:
        return not_yet(f"a decoder layer has three sub-layers, you listed {len(answer)}.", answer=reveal)
    if sorted(answer) != sorted(expected):
        return not_yet("one sub-layer appears twice and another is missing: each kind occurs once per decoder "
                       "layer.", answer=reveal)
    return not_yet("the right three sub-layers, in the wrong order: read the decoder of the diagram from the "
                   "bottom up.", answer=reveal)


def attention_gradient_by_length(lengths=(50, 200), d_model: int = 32, n_heads: int = 4, seed: int = 0):
    """{n: mean gradient norm} of one untrained self-attention layer: the norm of d(last output)/d(input at
    position j), averaged over the positions j before the last, for a random sequence of n positions."""
    out = {}
    for n in lengths:
        torch.manual_seed(seed)
        x = torch.randn(1, n, d_model, dtype=torch.float64)  # (1, n, D)
        attention = MultiHeadAttention(d_model, n_heads).double().eval()
        jac = torch.autograd.functional.jacobian(lambda inp: attention(inp, inp, inp)[0, -1], x,
                                                 vectorize=True).reshape(d_model, n, d_model)  # (D, n, D)
        out[n] = jac.norm(dim=(0, 2))[:-1].mean().item()
    return out


LONG_SEQUENCE_CHOICES = {
    "a": "about the same as for 50 positions",
    "b": "about 4 times smaller",
    "c": "smaller by many orders of magnitude, as for the RNN",
}


@checker
def check_long_sequence_prediction(prediction) -> Feedback:
    """`prediction` is "a", "b" or "c" (LONG_SEQUENCE_CHOICES): what happens to one self-attention layer's
    gradient from an earlier position when the sequence is 4 times longer. Runs the experiment."""
    if prediction is None:
        return not_yet(f"write your prediction first: one of {sorted(LONG_SEQUENCE_CHOICES)}.")
    choice = str(prediction).strip().lower().strip("()")
    if choice not in LONG_SEQUENCE_CHOICES:
        return not_yet(f"answer one of {sorted(LONG_SEQUENCE_CHOICES)}, got {prediction!r}.")
    grads = attention_gradient_by_length()
    ratio = grads[50] / grads[200]
    measured = (f"Measured: mean gradient {grads[50]:.3f} at n = 50, {grads[200]:.4f} at n = 200, "
                f"{ratio:.1f} times smaller.")
    if choice == "b":
        return correct(f"{measured[0].lower()}{measured[1:]} The path is still one step long, but each row of "
                       f"weights sums to 1 and an "
                       f"untrained layer spreads it almost evenly, so every key gets about 1/n of it. A trained "
                       f"layer concentrates its weights on the few keys that matter.")
    if choice == "a":
        return not_yet("the path length is still 1, but something else changes with n: what do the attention "
                       "weights of one query sum to, and over how many keys are they spread?",
                       answer=measured + " The answer is (b).")
    return not_yet("no product of n factors appears in one self-attention layer: every position is one step from "
                   "every other. Think about what the weights of one row sum to instead.",
                   answer=measured + " The answer is (b).")


@checker
def check_cost_comparison(ratio, crossover) -> Feedback:
    """`ratio`: how many times fewer multiply-adds per layer self-attention needs than a recurrent layer for
    n = 40, d = 512 (Table 1's n^2 d against n d^2); `crossover`: the length n at which the two are equal."""
    n, d = 40, 512
    expected_ratio, expected_crossover = (n * d * d) / (n * n * d), d
    reveal = f"Expected ratio (n d^2) / (n^2 d) = d / n = {expected_ratio:g} and crossover n = d = {d}."
    for name, value in (("ratio", ratio), ("crossover", crossover)):
        if value is None:
            return not_yet(f"{name} is still None: work it out from Table 1's complexity per layer.")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return not_yet(f"{name} should be a number, got {value!r}.")
    if math.isclose(ratio, 1 / expected_ratio, rel_tol=1e-3):
        return not_yet("the ratio is upside down: divide the recurrent layer's cost by self-attention's.",
                       answer=reveal)
    if not math.isclose(ratio, expected_ratio, rel_tol=1e-3):
        return not_yet("the ratio is off: write both costs for n = 40, d = 512 and cancel the common factors "
                       "before dividing.", answer=reveal)
    if math.isclose(crossover, d * d, rel_tol=1e-3) or math.isclose(crossover, math.sqrt(d), rel_tol=1e-3):
        return not_yet("the ratio is right; the crossover is off: set n^2 d = n d^2 and solve for n.",
                       answer=reveal)
    if not math.isclose(crossover, expected_crossover, rel_tol=1e-3):
        return not_yet("the ratio is right; the crossover is off: set the two costs equal and solve for n.",
                       answer=reveal)
    return correct(f"n d^2 / (n^2 d) = d / n = {expected_ratio:g}: for a 40-token sentence self-attention needs "
                   f"{expected_ratio:g} times fewer multiply-adds; the two are equal at n = d = {d}, longer than "
                   f"most sentences (section 4 of the paper).")
