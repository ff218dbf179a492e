import math

import pytest
import torch

from transformer_edu import causal_mask, padding_mask, scaled_dot_product_attention
from transformer_edu.exercises import ch05
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


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
    (ch05.buggy_masked_attention, "bug of buggy_masked_attention"),
    (attention_with(scale=lambda d: 1.0), "not divided by sqrt(d_k)"),
    (attention_with(scale=lambda d: d), "divided by d_k"),
    (attention_with(invert=True), "inverted"),
    (attention_with(after=True), "zeroed after the softmax"),
    (attention_with(dim=-2), "each column sums to 1"),
    (attention_with(fix_rows=False), "are NaN"),
    (attention_with(fill=-1e9), "-1e9"),
])
def test_masked_attention_checker_names_mistakes(wrong, words):
    feedback = ch05.check_masked_attention(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "masked_fill(~mask.any" not in feedback.message  # the fix is not given on a first try


def test_masked_attention_checker_other_failures():
    assert "returned None" in ch05.check_masked_attention(lambda q, k, v, m: None).message
    assert "pair" in ch05.check_masked_attention(lambda q, k, v, m: good_attention(q, k, v, m)[1]).message
    wrong_output = ch05.check_masked_attention(lambda q, k, v, m: (good_attention(q, k, v, m)[1] @ k,
                                                                   good_attention(q, k, v, m)[1]))
    assert not wrong_output and "weights @ v" in wrong_output.message
    assert "raised" in ch05.check_masked_attention(lambda q, k, v, m: q @ k).message


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


def test_buggy_attention_is_wrong_only_with_a_mask():
    q, k, v = (torch.randn(1, 2, 4, 8, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(ch05.buggy_masked_attention(q, k, v)[1], scaled_dot_product_attention(q, k, v)[1])
    mask = padding_mask(torch.tensor([[5, 6, 0, 0]]), 0)
    _, buggy = ch05.buggy_masked_attention(q, k, v, mask)
    assert not torch.allclose(buggy.sum(-1), torch.ones(1, 2, 4, dtype=torch.float64))  # rows no longer sum to 1
    torch.testing.assert_close(good_attention(q, k, v, mask)[1], scaled_dot_product_attention(q, k, v, mask)[1])


def test_saturation_prediction():
    measured = ch05.saturation_experiment()
    assert 0.6 < measured < 0.8
    assert ch05.check_saturation_prediction(round(measured, 2))
    assert ch05.check_saturation_prediction(0.7)
    unit = ch05.check_saturation_prediction(0.25)
    assert not unit and "unit-variance" in unit.message and f"{measured:.2f}" not in unit.message
    low = ch05.check_saturation_prediction(0.4)
    assert not low and "higher than your prediction" in low.message
    high = ch05.check_saturation_prediction(0.95)
    assert not high and "lower than your prediction" in high.message
    assert f"Measured: {measured:.2f}" in high.message  # third wrong try: the answer is shown
    reset_tries()
    assert "prediction first" in ch05.check_saturation_prediction(None).message
    assert "between 1/16 and 1" in ch05.check_saturation_prediction(3).message
    assert "number" in ch05.check_saturation_prediction("0.7").message


def test_saturation_matches_the_chapter_reasoning():
    # variance-4 entries at d_k = 64, scaled, equal unscaled unit-variance scores at d_k = 16 in distribution
    import math
    g = torch.Generator().manual_seed(2)
    qs, ks = torch.randn(500, 1, 16, generator=g), torch.randn(500, 16, 16, generator=g)
    raw_16 = torch.softmax((qs * ks).sum(-1), -1).max(-1).values.mean().item()
    assert math.isclose(raw_16, ch05.saturation_experiment(), abs_tol=0.05)


def test_quiz_numbers():
    import json
    from importlib import resources
    quiz = {q["id"]: q for q in json.loads(
        resources.files("transformer_edu").joinpath("quizzes/ch05.json").read_text())["questions"]}
    assert int(causal_mask(6).sum()) == quiz["causal-count"]["answer"]
    q = torch.randn(2, 8, 10, 4)
    assert scaled_dot_product_attention(q, q, q)[1].numel() == quiz["weights-shape"]["answer"]


def test_the_printed_buggy_source_fits_the_page():
    import inspect
    assert max(map(len, inspect.getsource(ch05.buggy_masked_attention).splitlines())) <= 82
