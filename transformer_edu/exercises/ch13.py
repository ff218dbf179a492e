"""Checkers for chapter 13, inside a trained Transformer: heads (paper section 3.2.2) and head ablation, an
analysis tool of later work (Michel et al. 2019, Voita et al. 2019), not of the paper."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from ..multi_head_attention import MultiHeadAttention
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


def buggy_zero_head(concat: torch.Tensor, head: int, n_heads: int):
    """A copy of concat (B, T, h * d_k) with head `head`'s output set to zero,
    as the ablation hook needs. (Exercise 1: this version has a bug.)"""
    b, t, width = concat.shape
    d_k = width // n_heads
    heads = concat.clone().reshape(b, t, d_k, n_heads)  # one slice per head
    heads[..., head] = 0.0
    return heads.reshape(b, t, width)  # (B, T, h * d_k)


def _zero_columns(concat: torch.Tensor, columns) -> torch.Tensor:
    out = concat.clone()
    out[..., columns] = 0.0
    return out


@checker
def check_zero_head(zero_head_fn) -> Feedback:
    """`zero_head_fn(concat, head, n_heads)` should return a copy of concat (B, T, h * d_k) with head `head`'s
    d_k columns set to zero, leaving the input unchanged."""
    g = torch.Generator().manual_seed(13)
    n_heads, d_k = 4, 3
    concat = torch.randn(2, 5, n_heads * d_k, generator=g, dtype=torch.float64)  # (B, T, h * d_k)
    layout = ("Head i owns columns i * d_k to (i + 1) * d_k - 1 of the last axis: reshape to (B, T, h, d_k), "
              "heads before features, as merge_heads lays them out.")
    for head in (1, 3, 0):
        expected = _zero_columns(concat, slice(head * d_k, (head + 1) * d_k))
        given = concat.clone()
        got, error = call_learner(zero_head_fn, given, head, n_heads)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the tensor with the head's columns set to zero")
        if not torch.equal(given, concat):
            return not_yet("your function changed its input in place: clone it first (a hook that edits its input "
                           "in place would also change the tensor other code still holds)")
        if isinstance(got, torch.Tensor) and got.shape == concat.shape and not torch.equal(got, expected):
            if torch.equal(got, _zero_columns(concat, slice(head, None, n_heads))):
                return not_yet(f"head {head}: still the bug of buggy_zero_head: this zeroes every {n_heads}-th "
                               f"column (columns {head}, {head + n_heads}, ...), one feature of every head. "
                               f"Look at the order in which merge_heads puts heads and features side by side.",
                               answer=layout)
            if torch.equal(got, _zero_columns(concat, slice(head * n_heads, (head + 1) * n_heads))):
                return not_yet(f"you used n_heads = {n_heads} as the width of a head; a head is "
                               f"last dimension / n_heads columns wide")
            rows = concat.clone()
            rows[:, head] = 0.0
            if torch.equal(got, rows):
                return not_yet("you zeroed a position (the T axis, dim 1); a head is a block of columns in the "
                               "last axis")
            if torch.equal(got, concat):
                return not_yet(f"nothing was set to zero: head {head}'s columns should all be 0")
            if torch.equal(got, concat - expected):
                return not_yet(f"you kept only head {head} and zeroed the others; ablation zeroes the chosen head")
        problem = compare_tensors(f"zero_head_fn(concat, {head}, {n_heads})", got, expected, atol=0)
        if problem is not None:
            return not_yet(problem.message, answer=layout)
    return correct("the reshape must be (B, T, h, d_k): each head's d_k columns sit side by side, head 0 first. "
                   "This is the input of W^O that transformer_edu.ablation's hook edits.")


# --- Exercise 2: ablation by editing weights -------------------------------------------------------------------


def _attention_module(seed: int) -> MultiHeadAttention:
    torch.manual_seed(seed)
    module = MultiHeadAttention(16, 4).double().eval()  # d_model 16, 4 heads of d_k = 4, with biases
    with torch.no_grad():
        for linear in (module.w_q, module.w_k, module.w_v, module.w_o):
            linear.bias.normal_()  # biases far from zero, so a forgotten bias shows
    return module


def _hooked_output(module: MultiHeadAttention, head: int, query, memory) -> torch.Tensor:
    """The reference: head `head`'s columns of the concatenation set to zero before W^O."""
    d_k = module.d_k

    def hook(_, inputs):
        return (_zero_columns(inputs[0], slice(head * d_k, (head + 1) * d_k)),)

    handle = module.w_o.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            return module(query, memory, memory)
    finally:
        handle.remove()


def _edited(module: MultiHeadAttention, head: int, edit: str) -> MultiHeadAttention:
    """A copy with one (right or wrong) weight edit, to recognise a learner's mistake."""
    out = copy.deepcopy(module)
    block = slice(head * module.d_k, (head + 1) * module.d_k)
    with torch.no_grad():
        if edit == "w_o rows":
            out.w_o.weight[block] = 0.0
        if edit in ("w_o columns", "w_o columns and bias"):
            out.w_o.weight[:, block] = 0.0
        if edit == "w_o columns and bias":
            out.w_o.bias.zero_()
        if edit == "query and key":
            for linear in (out.w_q, out.w_k):
                linear.weight[block] = 0.0
                linear.bias[block] = 0.0
        if edit == "value weight only":
            out.w_v.weight[block] = 0.0
    return out


@checker
def check_ablated_copy(ablated_copy_fn) -> Feedback:
    """`ablated_copy_fn(attention, head)` should return a new MultiHeadAttention, with edited weights, whose output
    equals that of `attention` with head `head` ablated (its output zero before W^O); `attention` stays as it was."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 16, generator=g, dtype=torch.float64)  # (B, T, D)
    memory = torch.randn(2, 7, 16, generator=g, dtype=torch.float64)  # (B, S, D), as in cross-attention
    wrong_edits = {
        "w_o rows": "you zeroed a block of W^O's output features (rows of w_o.weight). nn.Linear stores its weight "
                    "as (out_features, in_features): the concatenated heads enter through the columns",
        "query and key": "zeroing the head's query and key projections makes its scores all 0, so its softmax is "
                         "uniform: the head still outputs the average of its values. Ablation needs its output to "
                         "be 0",
        "value weight only": "the head's values are now its bias alone, and weights summing to 1 average them back "
                             "to that bias: the head still outputs a constant. Look at every parameter that feeds "
                             "the head's values",
        "w_o columns and bias": "you also zeroed W^O's bias b^O. It is added after the sum over heads and belongs to "
                                "no head, so ablation keeps it",
    }
    for seed, head in ((0, 1), (1, 3)):
        module = _attention_module(seed)
        before = {name: p.clone() for name, p in module.state_dict().items()}
        got, error = call_learner(ablated_copy_fn, module, head)
        if error is not None:
            return error
        if any(not torch.equal(p, before[name]) for name, p in module.state_dict().items()):
            return not_yet("your function changed the weights of the module it was given: edit a copy "
                           "(copy.deepcopy(attention)) and return the copy")
        if got is None:
            return not_yet("your function returned None: return the edited copy of the attention module")
        if got is module:
            return not_yet("you returned the module you were given: return a copy with edited weights")
        if not isinstance(got, nn.Module):
            return not_yet(f"return a module (a copy of the MultiHeadAttention), got {type(got).__name__}")
        out, error = call_learner(lambda m: m(x, memory, memory), got)
        if error is not None:
            return not_yet(f"calling the module you returned as module(x, memory, memory) raised: {error.message}")
        expected = _hooked_output(module, head, x, memory)
        if isinstance(out, torch.Tensor) and out.shape == expected.shape and not torch.allclose(out, expected):
            with torch.no_grad():
                intact = module(x, memory, memory)
            if torch.allclose(out, intact):
                return not_yet(f"head {head}: the output is that of the intact module: no edit reached the head")
            for edit, hint in wrong_edits.items():
                with torch.no_grad():
                    wrong = _edited(module, head, edit)(x, memory, memory)
                if torch.allclose(out, wrong, atol=1e-10):
                    return not_yet(f"head {head}: {hint}.")
        problem = compare_tensors(f"the output of your copy (head {head} ablated)", out, expected, atol=1e-10)
        if problem is not None:
            return not_yet(problem.message + " Write Concat(head_1, ..., head_h) W^O as a sum over heads and ask "
                                             "which weights multiply head j alone.")
    return correct("the sum over heads, Concat(head_1, ..., head_h) W^O = sum of head_i W^O_i, shows two ways: "
                   "zero W^O_j (w_o.weight[:, j * d_k:(j + 1) * d_k], PyTorch's transposed layout), or make head j "
                   "output zeros by zeroing its rows of W^V and its entries of b^V. Both give ablate_heads' output; "
                   "zeroing W^Q_j and W^K_j would not.")


# --- Exercise 3: predict, then measure --------------------------------------------------------------------------


def _encoder_attention_off() -> float:
    """Held-out exact match of the shipped dates model with all encoder self-attention heads switched off."""
    from ..ablation import ablate_heads
    from ..checkpoint import load_checkpoint
    from ..data import make_dataset
    from ..training import exact_match

    model, (src_tok, tgt_tok), _ = load_checkpoint(Path(__file__).parent.parent / "checkpoints" / "dates.pt")
    held_out = make_dataset("dates", 1, 1000, seed=0)[1]
    heads = {("encoder_self", layer, h) for layer in range(model.config.n_encoder_layers)
             for h in range(model.config.n_heads)}
    with torch.no_grad(), ablate_heads(model, heads):
        return exact_match(model, held_out, src_tok, tgt_tok)


PREDICTION_TOLERANCE = 10.0  # percentage points


@checker
def check_encoder_attention_off(prediction) -> Feedback:
    """`prediction`: the learner's guess, in percent, of held-out exact match with all eight heads of the
    encoder's self-attention (both layers) switched off. Measured here, then compared."""
    if prediction is None:
        return not_yet("write your prediction first: a percentage from 0 to 100 (for example 25 for 25%)")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not 0 <= prediction <= 100:
        return not_yet(f"the prediction should be one number from 0 to 100 (a percentage), got {prediction!r}")
    measured = 100 * _encoder_attention_off()
    off_by = prediction - measured
    answer = f"Measured: {measured:.1f}% of the 1,000 held-out dates."
    if off_by > PREDICTION_TOLERANCE:
        return not_yet(f"{prediction:g}% is more than {PREDICTION_TOLERANCE:g} points too high. Each layer's block "
                       f"alone left 90.3% and 49.8%: if the two losses hit different dates independently, what is "
                       f"left when both are removed?", answer=answer)
    if off_by < -PREDICTION_TOLERANCE:
        return not_yet(f"{prediction:g}% is more than {PREDICTION_TOLERANCE:g} points too low. Without encoder "
                       f"self-attention each source vector still holds its own token and its position (added "
                       f"before the encoder): what can the encoder-decoder attention still find there?",
                       answer=answer)
    return correct(f"measured {measured:.1f}%, your prediction was {abs(off_by):.1f} points off. Without "
                   f"self-attention the encoder no longer mixes tokens: each source vector is its token embedding "
                   f"plus its position, passed through two feed-forward networks. The decoder's encoder-decoder "
                   f"attention can still find each digit by content and position, so about 2 in 5 dates survive, "
                   f"a little fewer than if the two layers' losses struck dates independently (90.3% x 49.8% = 45%).")
