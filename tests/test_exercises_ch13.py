import numpy as np
import pytest
import torch

from transformer_edu.exercises import ch13


def good_zero_head(concat, head, n_heads):
    d_k = concat.shape[-1] // n_heads
    out = concat.clone()
    out[..., head * d_k:(head + 1) * d_k] = 0.0
    return out


def in_place(concat, head, n_heads):
    d_k = concat.shape[-1] // n_heads
    concat[..., head * d_k:(head + 1) * d_k] = 0.0
    return concat


def interleaved(concat, head, n_heads):
    out = concat.clone()
    out[..., head::n_heads] = 0.0
    return out


def width_n_heads(concat, head, n_heads):
    out = concat.clone()
    out[..., head * n_heads:(head + 1) * n_heads] = 0.0
    return out


def position(concat, head, n_heads):
    out = concat.clone()
    out[:, head] = 0.0
    return out


def keep_only(concat, head, n_heads):
    return concat - good_zero_head(concat, head, n_heads)


def test_zero_head_solution_passes():
    feedback = ch13.check_zero_head(good_zero_head)
    assert feedback and "pre-hook" in feedback.message


@pytest.mark.parametrize("wrong, words", [
    (in_place, "in place"),
    (interleaved, "side by side"),
    (width_n_heads, "width of a head"),
    (position, "T axis"),
    (keep_only, "kept only head"),
    (lambda c, h, n: c.clone(), "nothing was set to zero"),
    (lambda c, h, n: None, "returned None"),
    (lambda c, h, n: c[..., :3], "shape"),
    (lambda c, h, n: c.view(2, 5, n, -1)[:, :, h], "shape"),
    (lambda c, h, n: 1 / 0, "raised"),
])
def test_zero_head_wrong_answers_are_named(wrong, words):
    feedback = ch13.check_zero_head(wrong)
    assert not feedback and words in feedback.message


def good_top(weights, src_tokens):
    return [src_tokens[i] for i in weights.mean(dim=0).argmax(dim=-1).tolist()]


def test_top_source_tokens_solution_passes():
    assert ch13.check_top_source_tokens(good_top)
    assert ch13.check_top_source_tokens(lambda w, s: tuple(good_top(w, s)))  # a tuple is fine too
    assert ch13.check_top_source_tokens(lambda w, s: [s[i] for i in w.sum(dim=0).argmax(dim=-1).tolist()])


@pytest.mark.parametrize("wrong, words", [
    (lambda w, s: [s[i] for i in w[0].argmax(dim=-1).tolist()], "head 0 alone"),
    (lambda w, s: [s[i] for i in w[1].argmax(dim=-1).tolist()], "head 1 alone"),
    (lambda w, s: [s[i] for i in w.mean(dim=0).argmax(dim=0).tolist()], "query axis"),
    (lambda w, s: [s[i] for i in w.mean(dim=0).argmin(dim=-1).tolist()], "LEAST"),
    (lambda w, s: w.mean(dim=0).argmax(dim=-1), "not their indices"),
    (lambda w, s: w.mean(dim=0).argmax(dim=-1).tolist(), "list of str"),
    (lambda w, s: good_top(w, s)[:2], "one token per query row"),
    (lambda w, s: None, "returned None"),
])
def test_top_source_tokens_wrong_answers_are_named(wrong, words):
    feedback = ch13.check_top_source_tokens(wrong)
    assert not feedback and words in feedback.message


KINDS = ("encoder_self", "decoder_self", "cross")


def good_pick(scores):
    kind = min(scores, key=lambda k: scores[k].min().item())
    layer, head = divmod(int(scores[kind].argmin()), scores[kind].shape[1])
    return kind, layer, head


def test_most_harmful_head_solution_passes():
    assert ch13.check_most_harmful_head(good_pick)
    assert ch13.check_most_harmful_head(lambda s: ("cross", np.int64(1), torch.tensor(3)))  # any integer type


def highest(scores):
    kind = max(scores, key=lambda k: scores[k].max().item())
    layer, head = divmod(int(scores[kind].argmax()), scores[kind].shape[1])
    return kind, layer, head


def first_kind_only(scores):
    layer, head = divmod(int(scores["encoder_self"].argmin()), 4)
    return "encoder_self", layer, head


@pytest.mark.parametrize("wrong, words", [
    (highest, "HIGHEST"),
    (lambda s: ("cross", 3, 1), "swapped"),
    (first_kind_only, "compare every kind"),
    (lambda s: ("cross", 7), "triple"),
    (lambda s: ("crosss", 1, 3), "kind must be one of"),
    (lambda s: ("cross", 1.0, 3), "integer indices"),
    (lambda s: ("cross", 0, 0), "one head's removal leaves less"),
    (lambda s: None, "returned None"),
    (lambda s: s["x"], "raised"),
])
def test_most_harmful_head_wrong_answers_are_named(wrong, words):
    feedback = ch13.check_most_harmful_head(wrong)
    assert not feedback and words in feedback.message
