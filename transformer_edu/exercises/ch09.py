"""Checkers for chapter 9, the decoder."""
from __future__ import annotations

import torch

from ..masks import causal_mask
from ._check import Feedback, compare_tensors, correct, not_yet

BOS, EOS = 1, 2  # the ids of the book's tokenizers (transformer_edu.tokenizer)


def check_causal_mask(mask_fn) -> Feedback:
    """`mask_fn(T)` should return a (T, T) bool tensor, True where query i may attend to key j (j <= i)."""
    for length in (4, 7, 1):
        try:
            got = mask_fn(length)
        except Exception as exc:
            return not_yet(f"mask_fn({length}) raised {exc!r}")
        expected = causal_mask(length)[0, 0]
        if isinstance(got, torch.Tensor) and got.dtype == torch.bool and torch.equal(got, expected):
            continue
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if got.dtype != torch.bool:
                return not_yet(f"the mask should be a bool tensor (True = may attend), got dtype {got.dtype}")
            if torch.equal(got, ~expected):
                return not_yet("your mask is inverted: in this book True means 'may attend' "
                               "(nn.MultiheadAttention uses True for 'blocked')")
            if torch.equal(got, expected.T):
                return not_yet("your mask lets each position see the future and not the past: "
                               "query i (row) may attend to keys j <= i (columns), the lower triangle")
            if torch.equal(got, torch.tril(torch.ones_like(got), diagonal=-1)):
                return not_yet("the diagonal is missing: a position may attend to itself")
        problem = compare_tensors(f"mask_fn({length})", got if not isinstance(got, torch.Tensor) else got.float(),
                                  expected.float(), atol=0)
        if problem is not None:
            return problem
    return correct("position i may attend to positions 0..i, and no later one.")


def check_teacher_forcing(shift_fn) -> Feedback:
    """`shift_fn(target)` takes a list of target ids and returns (decoder_input, labels)."""
    target = [7, 8, 9]
    try:
        got = shift_fn(list(target))
    except Exception as exc:
        return not_yet(f"shift_fn raised {exc!r}")
    if not isinstance(got, tuple) or len(got) != 2:
        return not_yet(f"return a pair (decoder_input, labels), got {got!r}")
    dec_in, labels = (list(x) for x in got)
    if dec_in == [BOS, *target] and labels == [*target, EOS]:
        return correct("the decoder reads <bos> y1 y2 y3 and learns to predict y1 y2 y3 <eos>, one step ahead.")
    if dec_in == [*target, EOS] and labels == [BOS, *target]:
        return not_yet("the two are swapped: the decoder input starts with <bos>, the labels end with <eos>")
    if dec_in == labels:
        return not_yet("input and labels are the same: the label at each position is the NEXT token")
    if len(dec_in) != len(labels):
        return not_yet(f"input and labels must have the same length (one prediction per input position), "
                       f"got {len(dec_in)} and {len(labels)}")
    return not_yet(f"for target {target} expected input {[BOS, *target]} and labels {[*target, EOS]} "
                   f"(BOS={BOS}, EOS={EOS}), got {dec_in} and {labels}")


def check_cross_attention_shapes(answer: dict) -> Feedback:
    """`answer` maps 'queries', 'keys', 'values', 'weights' to shapes (tuples) for B=2, T=5, S=7, D=16, H=4."""
    expected = {"queries": (2, 4, 5, 4), "keys": (2, 4, 7, 4), "values": (2, 4, 7, 4), "weights": (2, 4, 5, 7)}
    if not isinstance(answer, dict) or set(answer) != set(expected):
        return not_yet(f"give a dict with the keys {sorted(expected)}")
    for name, shape in expected.items():
        got = tuple(answer[name]) if answer[name] is not None else None
        if got != shape:
            source = "the decoder (length T)" if name == "queries" else "the encoder's memory (length S)"
            if name == "weights":
                source = "one row per decoder query, one column per source position"
            return not_yet(f"{name}: expected {shape}, got {got}. The {name} come from {source}; "
                           f"the head axis H = 4 comes second and d_k = D / H = 4")
    return correct("queries come from the decoder (T = 5), keys and values from the memory (S = 7).")
