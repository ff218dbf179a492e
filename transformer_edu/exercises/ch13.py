"""Checkers for chapter 13, inside a trained Transformer: heads (paper section 3.2.2), cross-attention
(section 3.2.3) and head ablation."""
from __future__ import annotations

import operator

import torch

from ._check import Feedback, call_learner, compare_tensors, correct, not_yet


def _as_int(x):
    """x as a Python int if it is an integer of any kind (int, numpy or 0-d tensor), else x unchanged."""
    if isinstance(x, (str, bool)):
        return x
    try:
        return operator.index(x)
    except TypeError:
        return x


def _zero_columns(concat: torch.Tensor, columns) -> torch.Tensor:
    out = concat.clone()
    out[..., columns] = 0.0
    return out


def check_zero_head(zero_head_fn) -> Feedback:
    """`zero_head_fn(concat, head, n_heads)` should return a copy of concat (B, T, h * d_k) with head `head`'s
    d_k columns set to zero, leaving the input unchanged."""
    g = torch.Generator().manual_seed(13)
    n_heads, d_k = 4, 3
    concat = torch.randn(2, 5, n_heads * d_k, generator=g, dtype=torch.float64)  # (B, T, h * d_k)
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
                return not_yet(f"you zeroed every {n_heads}-th column starting at {head} (columns {head}, "
                               f"{head + n_heads}, ...). Concat puts each head's d_k columns side by side: head i "
                               f"is columns i * d_k to (i + 1) * d_k - 1")
            if torch.equal(got, _zero_columns(concat, slice(head * n_heads, (head + 1) * n_heads))):
                return not_yet(f"you used n_heads = {n_heads} as the width of a head; each head has d_k = "
                               f"last dimension / n_heads = {d_k} columns")
            rows = concat.clone()
            rows[:, head] = 0.0
            if torch.equal(got, rows):
                return not_yet("you zeroed a position (the T axis, dim 1); a head is a block of columns in the "
                               "last axis")
            if torch.equal(got, concat):
                return not_yet(f"nothing was set to zero: head {head}'s columns should all be 0")
            kept = concat.clone()
            kept[..., :] = 0.0
            kept[..., head * d_k:(head + 1) * d_k] = concat[..., head * d_k:(head + 1) * d_k]
            if torch.equal(got, kept):
                return not_yet(f"you kept only head {head} and zeroed the others; ablation zeroes the chosen head")
        problem = compare_tensors(f"zero_head_fn(concat, {head}, {n_heads})", got, expected, atol=0,
                                  hint=f"Head {head} is columns {head * d_k} to {(head + 1) * d_k - 1} of the last "
                                       f"axis (d_k = {d_k}).")
        if problem is not None:
            return problem
    return correct("this is what transformer_edu.ablation does in a forward pre-hook on W^O.")


def check_top_source_tokens(top_fn) -> Feedback:
    """`top_fn(cross_weights, src_tokens)` should average one layer's (H, T, S) cross-attention weights over
    the heads and return, for each of the T query rows, the source token with the largest average weight."""
    src_tokens = ["7", "Mar", "1", "9", "8", "4"]
    weights = torch.tensor([  # (H=3, T=3, S=6); no single head agrees with the average on every row
        [[0.05, 0.05, 0.30, 0.50, 0.05, 0.05],
         [0.00, 0.90, 0.00, 0.05, 0.05, 0.00],
         [0.25, 0.10, 0.10, 0.10, 0.10, 0.35]],
        [[0.00, 0.00, 0.90, 0.10, 0.00, 0.00],
         [0.55, 0.35, 0.00, 0.05, 0.05, 0.00],
         [0.80, 0.00, 0.00, 0.10, 0.10, 0.00]],
        [[0.02, 0.03, 0.50, 0.40, 0.02, 0.03],
         [0.50, 0.40, 0.00, 0.05, 0.05, 0.00],
         [0.35, 0.05, 0.05, 0.05, 0.05, 0.45]],
    ], dtype=torch.float64)
    expected = [src_tokens[i] for i in weights.mean(dim=0).argmax(dim=-1).tolist()]  # ["1", "Mar", "7"]
    got, error = call_learner(top_fn, weights.clone(), list(src_tokens))
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return a list of T source tokens (strings)")
    if isinstance(got, torch.Tensor):
        return not_yet("return the tokens themselves (strings such as 'Mar'), not their indices")
    if not isinstance(got, (list, tuple)) or not all(isinstance(t, str) for t in got):
        return not_yet(f"return a list of str, one source token per query row, got {got!r:.80}")
    got = list(got)
    if got == expected:
        return correct(f"{expected} for the checker's example (source {src_tokens}): averaged over the heads, its "
                       f"three rows read the year's first digit, the month name and the day.")
    for h in range(weights.shape[0]):
        if got == [src_tokens[i] for i in weights[h].argmax(dim=-1).tolist()]:
            return not_yet(f"that is head {h} alone: average the weights over the heads (dim 0) first")
    if len(got) == weights.shape[2] or got == [src_tokens[i] for i in weights.mean(dim=0).argmax(dim=0).tolist()]:
        return not_yet(f"you took the maximum over the query axis; for each of the T = {weights.shape[1]} query "
                       f"rows, take the argmax over the S source tokens (the last axis)")
    if got == [src_tokens[i] for i in weights.mean(dim=0).argmin(dim=-1).tolist()]:
        return not_yet("you took the LEAST attended source token: use argmax")
    if len(got) != weights.shape[1]:
        return not_yet(f"return one token per query row: {weights.shape[1]} tokens, got {len(got)}")
    return not_yet(f"for these weights the answer is {expected}, got {got}")


def check_most_harmful_head(pick_fn) -> Feedback:
    """`pick_fn(scores)` takes {kind: (n_layers, n_heads) exact match with that one head ablated} and should
    return (kind, layer, head) of the head whose removal lowers exact match the most."""
    scores = {
        "encoder_self": torch.tensor([[0.99, 0.97, 1.00, 0.98], [0.90, 0.99, 1.00, 0.99]], dtype=torch.float64),
        "decoder_self": torch.tensor([[1.00, 1.00, 0.99, 1.00], [0.98, 1.00, 1.00, 0.99]], dtype=torch.float64),
        "cross": torch.tensor([[0.95, 0.99, 1.00, 0.97], [0.99, 1.00, 0.99, 0.62]], dtype=torch.float64),
    }
    expected = ("cross", 1, 3)
    got, error = call_learner(pick_fn, {k: v.clone() for k, v in scores.items()})
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return a (kind, layer, head) tuple such as ('cross', 0, 2)")
    if not (isinstance(got, (tuple, list)) and len(got) == 3):
        return not_yet(f"return a (kind, layer, head) triple, got {got!r}")
    kind, layer, head = (_as_int(x) for x in got)
    got = (kind, layer, head)
    if kind not in scores:
        return not_yet(f"kind must be one of {list(scores)}, got {kind!r}")
    n_layers, n_heads = scores[kind].shape
    if not (isinstance(layer, int) and isinstance(head, int)) or isinstance(layer, bool) or isinstance(head, bool):
        return not_yet(f"return integer indices, layer in [0, {n_layers - 1}] and head in [0, {n_heads - 1}], "
                       f"got {got!r}")
    if got == expected:
        return correct(f"{expected} in the checker's example: the lowest exact match with a head switched off "
                       f"is the largest drop.")
    if (kind, head, layer) == expected:
        return not_yet("layer and head are swapped: each grid is (n_layers, n_heads), so rows are layers")
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        return not_yet(f"layer must be in [0, {n_layers - 1}] and head in [0, {n_heads - 1}], got {got!r}")
    value = scores[kind][layer, head].item()
    if value == max(grid.max().item() for grid in scores.values()):
        return not_yet(f"removing that head leaves accuracy {value:.2f}, the HIGHEST: you found a head that costs "
                       f"nothing; the most harmful removal leaves the LOWEST accuracy")
    if (layer * n_heads + head) == int(scores[kind].argmin()):
        return not_yet(f"that is the lowest score among the {kind!r} heads only ({value:.2f}): compare every kind")
    return not_yet(f"removing that head leaves accuracy {value:.2f}; one head's removal leaves less")
