import json
from importlib import resources

import pytest
import torch

from transformer_edu import MultiHeadAttention, count_parameters
from transformer_edu.exercises import ch06
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def solution_mha(query, key, value, mha, mask=None):
    B, T, D = query.shape
    S = key.shape[1]
    H, d_k = mha.n_heads, mha.d_k
    q = mha.w_q(query).view(B, T, H, d_k).transpose(1, 2)
    k = mha.w_k(key).view(B, S, H, d_k).transpose(1, 2)
    v = mha.w_v(value).view(B, S, H, d_k).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / d_k ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return mha.w_o((weights @ v).transpose(1, 2).reshape(B, T, D)), weights


def package_mha(query, key, value, mha, mask=None):
    return mha(query, key, value, mask=mask, return_attention=True)


@pytest.mark.parametrize("fn", [solution_mha, package_mha])
def test_multi_head_attention_accepts_the_fix(fn):
    feedback = ch06.check_multi_head_attention(fn)
    assert feedback and "sqrt(d_k)" in feedback.message


def test_the_buggy_version_is_wrong_with_heads_and_right_with_one():
    torch.manual_seed(0)
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    one, four = MultiHeadAttention(8, 1).double(), MultiHeadAttention(8, 4).double()
    with torch.no_grad():
        torch.testing.assert_close(ch06.buggy_multi_head_attention(x, x, x, one), package_mha(x, x, x, one))
        buggy_w = ch06.buggy_multi_head_attention(x, x, x, four)[1]
        assert not torch.allclose(buggy_w, package_mha(x, x, x, four)[1])


def variant(**change):
    return lambda q, k, v, mha, mask=None: ch06._variant(q, k, v, mha, mask, **change)


@pytest.mark.parametrize("wrong, words", [
    (ch06.buggy_multi_head_attention, "the bug is still there"),
    (variant(scale="none"), "not scaled at all"),
    (variant(scale="d_k^1"), "divided by d_k"),
    (variant(split="view"), "scrambled content"),
    (variant(merge="reshape"), "merge scrambles"),
    (lambda q, k, v, mha, mask=None: None, "returned None"),
    (lambda q, k, v, mha, mask=None: solution_mha(q, k, v, mha, mask)[0], "pair"),
    (lambda q, k, v, mha, mask=None: solution_mha(q, k, v, mha, None), "causal"),
    (lambda q, k, v, mha, mask=None: 1 / 0, "raised ZeroDivisionError"),
])
def test_multi_head_attention_names_mistakes(wrong, words):
    feedback = ch06.check_multi_head_attention(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "sqrt(d_k)" not in feedback.message  # the fix is not named on a first try


def solution_counts(T, S, d_model, n_heads):
    return 2 * T * d_model ** 2 + 2 * S * d_model ** 2, 2 * T * S * d_model


def test_cross_multiply_adds_accepts_solution_and_matches_measurement():
    assert ch06.check_cross_multiply_adds(solution_counts)
    for t, s, d, h in [(6, 10, 32, 4), (5, 3, 16, 2), (4, 4, 16, 1)]:
        assert ch06.measured_cross_multiply_adds(t, s, d, h) == sum(solution_counts(t, s, d, h))


@pytest.mark.parametrize("wrong, words", [
    (lambda T, S, d, h: (4 * T * d * d, 2 * T * S * d), "same sequence"),
    (lambda T, S, d, h: ((T + 2 * S) * d * d, 2 * T * S * d), "wrong sequence"),
    (lambda T, S, d, h: (d * d, 2 * T * S * d), "count L"),
    (lambda T, S, d, h: (solution_counts(T, S, d, h)[0], T * S * d), "half"),
    (lambda T, S, d, h: (solution_counts(T, S, d, h)[0], 2 * T * T * d), "not square"),
    (lambda T, S, d, h: (solution_counts(T, S, d, h)[0], 2 * T * S * (d // h)), "one head's count"),
    (lambda T, S, d, h: (solution_counts(T, S, d, h)[0], 3 * T * S * d), "attention count is off"),
    (lambda T, S, d, h: None, "returned None"),
    (lambda T, S, d, h: 5, "pair of numbers"),
])
def test_cross_multiply_adds_names_mistakes_without_the_answer(wrong, words):
    feedback = ch06.check_cross_multiply_adds(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "projections 2,560" not in feedback.message  # the expected counts come only after repeated tries


def test_cross_multiply_adds_reveals_after_three_tries():
    wrong = lambda T, S, d, h: (4 * T * d * d, 2 * T * S * d)  # noqa: E731
    messages = [ch06.check_cross_multiply_adds(wrong).message for _ in range(3)]
    assert "projections 32,768" not in messages[0] and "projections 32,768" in messages[2]


def test_quiz_numbers_match_the_package():
    quiz = {q["id"]: q for q in json.loads(
        resources.files("transformer_edu").joinpath("quizzes/ch06.json").read_text())["questions"]}
    with torch.device("meta"):
        assert count_parameters(MultiHeadAttention(512, 8)) == quiz["parameters"]["answer"]
    projections, attention = solution_counts(10, 10, 512, 8)
    assert ch06.measured_cross_multiply_adds(10, 10, 512, 8) == projections + attention
    assert attention == quiz["attention-products"]["answer"]


def test_the_printed_buggy_source_fits_the_page():
    import inspect
    assert max(map(len, inspect.getsource(ch06.buggy_multi_head_attention).splitlines())) <= 82
