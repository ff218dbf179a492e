"""Checkers for chapter 1, the big picture."""
from __future__ import annotations

from ._check import Feedback, correct, not_yet

SUBLAYERS = ("self-attention", "masked self-attention", "encoder-decoder attention", "feed-forward")


def check_attention_shapes(shapes_fn) -> Feedback:
    """`shapes_fn(B, S, T, H)` returns {"encoder_self": shape, "decoder_self": shape, "cross": shape}."""
    B, S, T, H = 2, 7, 5, 4
    expected = {"encoder_self": (B, H, S, S), "decoder_self": (B, H, T, T), "cross": (B, H, T, S)}
    try:
        got = shapes_fn(B, S, T, H)
    except Exception as exc:
        return not_yet(f"attention_shapes({B}, {S}, {T}, {H}) raised {exc!r}")
    if not isinstance(got, dict) or set(got) != set(expected):
        return not_yet(f"return a dict with the keys {sorted(expected)}, got {got!r}")
    for kind, shape in expected.items():
        answer = tuple(got[kind]) if got[kind] is not None else None
        if answer == shape:
            continue
        if kind == "cross" and answer == (B, H, S, T):
            return not_yet("cross: the rows are the queries, which come from the decoder (T); the columns are "
                           "the keys, from the encoder's memory (S): (B, H, T, S)")
        return not_yet(f"{kind}: with B={B}, S={S}, T={T}, H={H} expected {shape}, got {answer}. Attention weights "
                       f"are (batch, heads, queries, keys).")
    return correct("weights are (batch, heads, queries, keys); only cross-attention mixes T and S.")


def check_decoder_sublayers(answer) -> Feedback:
    """`answer` lists one decoder layer's sub-layers in order."""
    expected = ["masked self-attention", "encoder-decoder attention", "feed-forward"]
    if not isinstance(answer, (list, tuple)) or not all(isinstance(a, str) for a in answer):
        return not_yet(f"give a list of strings chosen from {list(SUBLAYERS)}")
    answer = [a.strip().lower() for a in answer]
    unknown = [a for a in answer if a not in SUBLAYERS]
    if unknown:
        return not_yet(f"{unknown} is not one of {list(SUBLAYERS)}")
    if answer == expected:
        return correct("masked self-attention, then encoder-decoder attention, then the feed-forward network.")
    if "self-attention" in answer:
        return not_yet("the decoder's self-attention is the masked one: a position may not look at later positions")
    if len(answer) != 3:
        return not_yet(f"a decoder layer has three sub-layers, you listed {len(answer)}")
    return not_yet("the order is: attend to the target so far, then to the source, then the feed-forward network")
