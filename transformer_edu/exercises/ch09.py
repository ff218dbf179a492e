"""Checkers for chapter 9, the decoder (paper sections 3.1 and 3.2.3)."""
from __future__ import annotations

import torch

from ..config import TransformerConfig
from ..decoder import DecoderLayer
from ..masks import causal_mask, padding_mask
from ..model import Transformer
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


# --- Exercise 1: find the bug in a decoder layer --------------------------------------------------------------

def buggy_decoder_layer(layer, y, tgt_mask, memory, src_mask):
    """A post-LN decoder layer from `layer`'s parts, dropout left out. One bug."""
    a = layer.self_attn_norm(y + layer.self_attn(y, y, y, mask=tgt_mask))
    attended = layer.cross_attn(y, memory, memory, mask=src_mask)  # (B, T, D)
    c = layer.cross_attn_norm(a + attended)
    return layer.ff_norm(c + layer.feed_forward(c))  # (B, T, D)


def _layer_case():
    torch.manual_seed(0)
    layer = DecoderLayer(16, 4, 32, dropout=0.0).eval()
    y, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)  # (B, T, D), (B, S, D)
    src_ids = torch.tensor([[5] * 7, [5] * 5 + [0] * 2])
    return layer, y, causal_mask(5), memory, padding_mask(src_ids, 0)


@checker
def check_decoder_layer_fix(layer_fn) -> Feedback:
    """`layer_fn(layer, y, tgt_mask, memory, src_mask)` should equal layer(y, tgt_mask, memory, src_mask)."""
    layer, y, tgt_mask, memory, src_mask = _layer_case()
    with torch.no_grad():
        expected = layer(y, tgt_mask, memory, src_mask)
        got, error = call_learner(layer_fn, layer, y.clone(), tgt_mask.clone(), memory.clone(), src_mask.clone())
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the layer's output, shape (B, T, D)")
        same_bug = buggy_decoder_layer(layer, y, tgt_mask, memory, src_mask)
        no_causal = layer(y, None, memory, src_mask)
        no_src_mask = layer(y, tgt_mask, memory, None)
    problem = compare_tensors("the output", got, expected, atol=1e-5)
    if problem is None:
        return correct("the encoder-decoder attention takes its queries from a, the output of the first sub-layer "
                       "(after its Add & Norm), not from the layer's input y: the sub-layers run one after another.")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got, same_bug, atol=1e-6):
            return not_yet("this still has the bug. Compare each attention call's three arguments with the "
                           "equations at the top of the chapter: where should the queries of each come from?",
                           answer="The second sub-layer's queries are a, not y: "
                                  "layer.cross_attn(a, memory, memory, mask=src_mask).")
        if torch.allclose(got, no_causal, atol=1e-5):
            return not_yet("the causal mask is gone: the self-attention must still get tgt_mask")
        if torch.allclose(got, no_src_mask, atol=1e-5):
            return not_yet("the source padding mask is gone: the encoder-decoder attention must still get src_mask")
    return problem


# --- Exercise 2: predict, then check: which outputs depend on one input position -----------------------------

def _changed_positions(position: int = 2, length: int = 6) -> list[int]:
    """Positions whose logits change when the decoder input at `position` changes (causal mask)."""
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=12, d_model=32, n_heads=2, d_ff=64)).eval()
    g = torch.Generator().manual_seed(4)
    src = torch.randint(3, 12, (1, 5), generator=g)
    tgt = torch.randint(3, 12, (1, length), generator=g)
    changed = tgt.clone()
    changed[0, position] = 3 if tgt[0, position] != 3 else 4
    with torch.no_grad():
        before, after = model(src, tgt), model(src, changed)  # (1, T, V) each
    return [t for t in range(length) if not torch.allclose(before[0, t], after[0, t], atol=1e-6)]


@checker
def check_dependence_prediction(prediction) -> Feedback:
    """`prediction`: how many of the T = 6 output positions change when decoder input position 2 changes."""
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        return not_yet("write your prediction as a whole number of positions, then run the cell")
    changed = _changed_positions()
    result = f"In the experiment, the outputs at positions {changed} changed: {len(changed)} of 6."
    if prediction == len(changed):
        return correct(f"{result} Position 2's input is a key for every query at positions 2 to 5, and the "
                       f"causal mask hides it from positions 0 and 1 only. The output at position 2 changes "
                       f"too, since a position attends to itself.")
    if prediction == 1:
        return not_yet("more than one output sees position 2: which queries may attend to key 2 under the "
                       "causal mask?", answer=result)
    if prediction == len(changed) - 1:
        return not_yet("check position 2 itself: may a query attend to its own key?", answer=result)
    if prediction == 6:
        return not_yet("not every output changes: the causal mask hides later positions from earlier ones",
                       answer=result)
    return not_yet("count the query positions t for which key 2 is allowed under the causal mask (2 <= t)",
                   answer=result)


# --- Exercise 3: derivation: the shapes of encoder-decoder attention -----------------------------------------

@checker
def check_cross_attention_shapes(answer: dict) -> Feedback:
    """`answer` maps 'queries', 'keys', 'values', 'weights' to shapes (tuples) for B=2, T=5, S=7, D=16, H=4."""
    expected = {"queries": (2, 4, 5, 4), "keys": (2, 4, 7, 4), "values": (2, 4, 7, 4), "weights": (2, 4, 5, 7)}
    if not isinstance(answer, dict) or set(answer) != set(expected):
        return not_yet(f"give a dict with the keys {sorted(expected)}")
    for name, shape in expected.items():
        try:
            got = tuple(int(n) for n in answer[name]) if answer[name] is not None else None
        except (TypeError, ValueError):
            return not_yet(f"{name}: give a tuple of ints, got {answer[name]!r}")
        if got == shape:
            continue
        if got is None:
            return not_yet(f"{name}: fill in a tuple of four ints")
        if len(got) != 4:
            return not_yet(f"{name}: the package's layout has four axes, (B, H, length, d_k) for queries, keys and "
                           f"values and (B, H, queries, keys) for the weights; you gave {len(got)}")
        if name != "weights" and got[-1] == 16:
            return not_yet(f"{name}: the last axis is one head's width d_k, not d_model")
        source = {"queries": "the decoder's positions", "keys": "the encoder's memory",
                  "values": "the encoder's memory", "weights": "one row per query, one column per key"}[name]
        return not_yet(f"{name}: {got} is not right. The {name} come from {source}; check which length "
                       f"(T or S) belongs on the third axis", answer=f"Expected {name} {shape}.")
    return correct("queries come from the decoder (T = 5), keys and values from the memory (S = 7), each head "
                   "d_k = 16 / 4 = 4 wide; the weights (B, H, T, S) have one row per output position.")
