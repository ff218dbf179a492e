import math

import pytest
import torch

from transformer_edu import causal_mask, padding_mask, scaled_dot_product_attention
from transformer_edu.exercises import ch05


def good_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return weights @ v, weights


def attention_with(*, scale=None, fill=float("-inf"), invert=False, after=False, dim=-1, fix_rows=True):
    def attention(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale is None else scale(q.shape[-1]))
        if mask is not None and not after:
            scores = scores.masked_fill(mask if invert else ~mask, fill)
        weights = torch.softmax(scores, dim=dim)
        if mask is not None and after:
            weights = weights.masked_fill(~mask, 0.0)
        if mask is not None and fix_rows and fill == float("-inf") and not invert:
            weights = torch.nan_to_num(weights, nan=0.0)
        return weights @ v, weights
    return attention


def test_masked_attention_checker_accepts_solution_and_package():
    assert ch05.check_masked_attention(good_attention)
    assert ch05.check_masked_attention(scaled_dot_product_attention)


@pytest.mark.parametrize("wrong, words", [
    (attention_with(scale=lambda d: 1.0), "not divided by sqrt(d_k)"),
    (attention_with(scale=lambda d: d), "divided by d_k"),
    (attention_with(invert=True), "inverted"),
    (attention_with(after=True), "zeroed after the softmax"),
    (attention_with(dim=-2), "each column sums to 1"),
    (attention_with(fix_rows=False), "NaN"),
    (attention_with(fill=-1e9), "-1e9"),
])
def test_masked_attention_checker_names_mistakes(wrong, words):
    feedback = ch05.check_masked_attention(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_masked_attention_checker_other_failures():
    assert "returned None" in ch05.check_masked_attention(lambda q, k, v, m: None).message
    assert "pair" in ch05.check_masked_attention(lambda q, k, v, m: good_attention(q, k, v, m)[1]).message
    wrong_output = ch05.check_masked_attention(lambda q, k, v, m: (good_attention(q, k, v, m)[1] @ k,
                                                                   good_attention(q, k, v, m)[1]))
    assert not wrong_output and "weights @ v" in wrong_output.message
    assert "raised" in ch05.check_masked_attention(lambda q, k, v, m: q @ k).message


def test_causal_mask_checker():
    assert ch05.check_causal_mask(causal_mask)
    assert ch05.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril()[None, None])
    upper = ch05.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).triu()[None, None])
    assert not upper and "torch.tril" in upper.message
    strict = ch05.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1)[None, None])
    assert not strict and "keep the diagonal" in strict.message
    blocked = ch05.check_causal_mask(lambda t: ~causal_mask(t))
    assert not blocked and "nn.MultiheadAttention" in blocked.message
    flat = ch05.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril())
    assert not flat and "(1, 1, T, T)" in flat.message
    floats = ch05.check_causal_mask(lambda t: torch.ones(t, t).tril()[None, None])
    assert not floats and "bool" in floats.message


def test_torch_masks_checker():
    assert ch05.check_torch_masks(lambda pad, causal: (~pad[:, 0, 0, :], ~causal[0, 0]))
    unchanged = ch05.check_torch_masks(lambda pad, causal: (pad[:, 0, 0, :], ~causal[0, 0]))
    assert not unchanged and "unchanged" in unchanged.message and "key_padding_mask" in unchanged.message
    causal_unchanged = ch05.check_torch_masks(lambda pad, causal: (~pad[:, 0, 0, :], causal[0, 0]))
    assert not causal_unchanged and "attn_mask" in causal_unchanged.message
    kept_axes = ch05.check_torch_masks(lambda pad, causal: (~pad, ~causal))
    assert not kept_axes and "singleton" in kept_axes.message
    as_float = ch05.check_torch_masks(lambda pad, causal: ((~pad[:, 0, 0, :]).float(), ~causal[0, 0]))
    assert not as_float and "bool" in as_float.message
    assert "returned None" in ch05.check_torch_masks(lambda pad, causal: None).message


def test_reference_masks_match_package():
    ids = torch.tensor([[1, 2, 0]])
    assert torch.equal(padding_mask(ids, 0)[:, 0, 0, :], torch.tensor([[True, True, False]]))
