"""Checks of the track's first parts: positional encoding, attention, masks, multi-head attention, feed-forward.

Each check takes the learner's package (`mine`, a namespace of its modules) and returns a Feedback. The answer is
always the book's own implementation; a known mistake is recognised by computing the answer with that mistake
and comparing, as the exercise checkers do.
"""
from __future__ import annotations

import torch

from .. import feed_forward, masks, multi_head_attention, positional_encoding
from ..exercises import ch05
from ..exercises._check import Feedback, compare_tensors, correct, not_yet


def seeded(*shape, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def same(a, b, atol: float = 1e-6) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(
        a.detach().double(), b.detach().double(), atol=atol)


def copy_weights(mine: torch.nn.Module, reference: torch.nn.Module) -> Feedback | None:
    """Load the reference's weights into the learner's module (the skeleton gives both the same names), in
    float64; None, or Feedback naming the parameters that do not match."""
    ours = reference.state_dict()
    theirs = mine.state_dict()
    missing = sorted(set(ours) - set(theirs))
    unexpected = sorted(set(theirs) - set(ours))
    if missing or unexpected:
        return not_yet(f"{type(mine).__name__}'s parameters differ from the skeleton's: missing {missing[:4]}, "
                       f"unexpected {unexpected[:4]}. Keep the given __init__ as it is.")
    mine.double().load_state_dict(ours)
    mine.eval()
    return None


def check_positional_encoding(mine) -> Feedback:
    got = mine.positional_encoding.sinusoidal_table(50, 16)
    expected = positional_encoding.sinusoidal_table(50, 16)
    if same(got, expected, 1e-5):
        one = mine.positional_encoding.sinusoidal_table(1, 2)
        if not same(one, torch.tensor([[0.0, 1.0]]), 1e-6):
            return not_yet(f"sinusoidal_table(1, 2) should be [[sin 0, cos 0]] = [[0, 1]], got {one}")
        return correct("PE(pos, 2i) = sin(pos / 10000^(2i/d)) and PE(pos, 2i+1) = cos(...), as in section 3.5.")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        pos = torch.arange(50, dtype=torch.float64)[:, None]
        dim = torch.arange(16, dtype=torch.float64)
        pair = 2 * (dim // 2)  # 2i for both members of a pair
        variants = [
            ("sin and cos are swapped: the even dimensions 2i take the sine, the odd ones 2i + 1 the cosine",
             torch.where(dim % 2 == 0, torch.cos(pos / 10000 ** (pair / 16)), torch.sin(pos / 10000 ** (pair / 16)))),
            ("the odd dimension 2i + 1 used the exponent (2i + 1) / d_model: both members of a pair share one "
             "frequency, 10000^(2i / d_model)",
             torch.where(dim % 2 == 0, torch.sin(pos / 10000 ** (dim / 16)), torch.cos(pos / 10000 ** (dim / 16)))),
            ("the sines fill the first half and the cosines the second: the paper interleaves them, sin in the "
             "even dimensions and cos in the odd ones",
             torch.cat([torch.sin(pos / 10000 ** (torch.arange(0, 16, 2) / 16)),
                        torch.cos(pos / 10000 ** (torch.arange(0, 16, 2) / 16))], dim=1)),
            ("the exponent used i instead of 2i: the frequency of pair i is 1 / 10000^(2i / d_model)",
             torch.where(dim % 2 == 0, torch.sin(pos / 10000 ** (pair / 2 / 16)),
                         torch.cos(pos / 10000 ** (pair / 2 / 16)))),
        ]
        for hint, wrong in variants:
            if same(got, wrong, 1e-5):
                return not_yet(f"sinusoidal_table(50, 16): {hint}.")
    return compare_tensors("sinusoidal_table(50, 16)", got, expected, atol=1e-5) or not_yet("not equal")


def check_attention(mine) -> Feedback:
    mine.attention.scaled_dot_product_attention(*(seeded(1, 2, 2) for _ in range(3)))  # a stub raises here
    return ch05.check_masked_attention(lambda q, k, v, mask: mine.attention.scaled_dot_product_attention(q, k, v, mask))


def check_masks(mine) -> Feedback:
    ids = torch.tensor([[5, 6, 0, 0], [7, 8, 9, 0]])
    got = mine.masks.padding_mask(ids, 0)
    expected = masks.padding_mask(ids, 0)
    if isinstance(got, torch.Tensor) and got.dtype != torch.bool:
        return not_yet(f"padding_mask should be bool (True = may attend), got dtype {got.dtype}")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.equal(got, ~expected):
        return not_yet("padding_mask is inverted: True means 'may attend', so it is True at the real tokens")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 4):
        return not_yet("padding_mask has shape (B, S); add the axes for heads and queries: (B, 1, 1, S), so it "
                       "broadcasts against the scores (B, H, T, S)")
    problem = compare_tensors("padding_mask(ids, 0)", got, expected)
    if problem is not None:
        return problem
    for length in (4, 1):
        got, expected = mine.masks.causal_mask(length), masks.causal_mask(length)
        where = f"causal_mask({length})"
        if isinstance(got, torch.Tensor) and got.dtype != torch.bool:
            return not_yet(f"{where} should be bool (True = may attend), got dtype {got.dtype}")
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (length, length) and length > 1:
            return not_yet(f"{where} has shape (T, T); add two leading axes so it broadcasts over batch and heads: "
                           f"(1, 1, T, T)")
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and length > 1:
            square = torch.ones(length, length, dtype=torch.bool)
            for hint, wrong in (("it is inverted: True means 'may attend', on and below the diagonal", ~expected[0, 0]),
                                ("True above the diagonal lets a query see later positions: use the lower triangle "
                                 "(torch.tril)", square.triu()),
                                ("the diagonal is False, so a position may not attend to itself; the paper hides only "
                                 "the positions after it: keep the diagonal", square.tril(-1))):
                if torch.equal(got[0, 0], wrong):
                    return not_yet(f"{where}: {hint}")
        problem = compare_tensors(where, got, expected)
        if problem is not None:
            return problem
    return correct("padding masks True at real tokens (B, 1, 1, S); causal masks True on and below the diagonal.")


def _mha_pair(mine, d_model=16, n_heads=4):
    ours = multi_head_attention.MultiHeadAttention(d_model, n_heads).double().eval()
    theirs = mine.multi_head_attention.MultiHeadAttention(d_model, n_heads)
    return ours, theirs, copy_weights(theirs, ours)


def check_multi_head_attention(mine) -> Feedback:
    ours, theirs, problem = _mha_pair(mine)
    if problem is not None:
        return problem
    x = seeded(2, 5, 16)  # (B, L, D)
    split = theirs.split_heads(x)
    if not same(split, ours.split_heads(x)):
        if same(split, x.view(2, 4, 5, 4)):
            return not_yet("split_heads: the heads were split in the wrong order. x.view(B, H, L, d_k) mixes "
                           "positions into heads; take view(B, L, H, d_k) (feature block i of each position is "
                           "head i), then transpose(1, 2) to (B, H, L, d_k)")
        return compare_tensors("split_heads(x) for x (2, 5, 16), 4 heads", split, ours.split_heads(x)) or not_yet("")
    heads = seeded(2, 4, 5, 4, seed=1)
    merged = theirs.merge_heads(heads)
    if not same(merged, ours.merge_heads(heads)):
        if same(merged, heads.reshape(2, 5, 16)):
            return not_yet("merge_heads reshaped (B, H, L, d_k) straight to (B, L, D), which interleaves heads "
                           "and positions: transpose(1, 2) to (B, L, H, d_k) first, then reshape")
        return compare_tensors("merge_heads", merged, ours.merge_heads(heads)) or not_yet("")
    memory = seeded(2, 7, 16, seed=2)
    mask = masks.padding_mask(torch.tensor([[3, 4, 5, 6, 7, 0, 0], [3, 4, 5, 6, 7, 8, 9]]), 0)
    for what, args in (("self-attention with no mask", (x, x, x, None)),
                       ("encoder-decoder attention (T = 5, S = 7) with a padding mask", (x, memory, memory, mask))):
        got = theirs(*args, return_attention=True)
        if not isinstance(got, tuple) or len(got) != 2:
            return not_yet(f"{what}: forward(..., return_attention=True) should return (output, weights)")
        expected_out, expected_w = ours(*args, return_attention=True)
        problem = compare_tensors(f"the weights, {what}", got[1], expected_w, 1e-8)
        if problem is None:
            problem = compare_tensors(f"the output, {what}", got[0], expected_out, 1e-8,
                                      hint="After merging the heads, apply w_o.")
        if problem is not None:
            return problem
        plain = theirs(*args)
        if not same(plain, expected_out, 1e-8):
            return not_yet(f"{what}: forward without return_attention should return the output alone")
    return correct("project, split into h heads of width d_k, attend, merge, W^O: equal to the book's "
                   "MultiHeadAttention (float64, to 1e-8).")


def check_feed_forward(mine) -> Feedback:
    ours = feed_forward.PositionwiseFeedForward(16, 64).double().eval()
    theirs = mine.feed_forward.PositionwiseFeedForward(16, 64)
    problem = copy_weights(theirs, ours)
    if problem is not None:
        return problem
    x = seeded(2, 5, 16)
    got, expected = theirs(x), ours(x)
    if same(got, expected, 1e-8):
        return correct("max(0, x W_1 + b_1) W_2 + b_2 at every position.")
    if same(got, ours.w_2(ours.w_1(x)), 1e-8):
        return not_yet("the ReLU is missing: without it the two linear layers are one linear map")
    if same(got, torch.relu(ours.w_2(ours.w_1(x))), 1e-8):
        return not_yet("the ReLU comes after w_2; it belongs between the layers: w_2(relu(w_1(x)))")
    return compare_tensors("the output", got, expected, 1e-8) or not_yet("")
