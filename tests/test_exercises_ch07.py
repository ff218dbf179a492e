import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import transformer_edu
from transformer_edu import PositionwiseFeedForward, count_parameters
from transformer_edu.exercises import ch07
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def good_layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def test_buggy_layer_norm_is_wrong_and_the_fix_is_right():
    x, gamma, beta = torch.randn(3, 8), torch.ones(8), torch.zeros(8)
    expected = nn.functional.layer_norm(x, (8,))
    assert not torch.allclose(ch07.buggy_layer_norm(x, gamma, beta), expected, atol=1e-4)
    torch.testing.assert_close(good_layer_norm(x, gamma, beta), expected)
    assert ch07.check_layer_norm_fix(good_layer_norm)


def test_layer_norm_fix_recognises_the_same_bug_and_hides_the_answer_at_first():
    first = ch07.check_layer_norm_fix(ch07.buggy_layer_norm)
    assert not first and "still has the bug" in first.message
    assert "unbiased=False" not in first.message and "D - 1" not in first.message
    ch07.check_layer_norm_fix(ch07.buggy_layer_norm)
    third = ch07.check_layer_norm_fix(ch07.buggy_layer_norm)
    assert "unbiased=False" in third.message


@pytest.mark.parametrize("wrong, words", [
    (lambda x, g, b, eps: g * (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False) + b, "eps"),
    (lambda x, g, b, eps: good_layer_norm(x, torch.ones_like(g), torch.zeros_like(b), eps), "gamma and beta"),
    (lambda x, g, b, eps: g * (x - x.mean(1, keepdim=True))
     / torch.sqrt(x.var(1, keepdim=True, unbiased=False) + eps) + b, "dimension 1"),
    (lambda x, g, b, eps: None, "returned None"),
    (lambda x, g, b, eps: x[..., :2], "shape"),
    (lambda x, g, b, eps: 1 / 0, "raised"),
])
def test_layer_norm_fix_names_other_mistakes(wrong, words):
    feedback = ch07.check_layer_norm_fix(wrong)
    assert not feedback and words in feedback.message


def test_scale_prediction():
    assert ch07._invariance_gap() < 1e-4
    assert ch07.check_scale_prediction(0)
    assert ch07.check_scale_prediction(1e-6)
    wrong = ch07.check_scale_prediction(10.0)
    assert not wrong and "disagrees" in wrong.message and "e-0" not in wrong.message
    assert "write your prediction" in ch07.check_scale_prediction(None).message
    assert "negative" in ch07.check_scale_prediction(-1).message


def test_normalized_length():
    assert ch07.check_normalized_length(lambda d: d ** 0.5)
    for wrong, words in [(lambda d: 1.0, "unit vector"), (lambda d: d, "square root"),
                         (lambda d: (d - 1) ** 0.5, "D - 1"), (lambda d: None, "returned None")]:
        reset_tries()
        feedback = ch07.check_normalized_length(wrong)
        assert not feedback and words in feedback.message
    first = ch07.check_normalized_length(lambda d: 2.5)
    assert "sqrt(D)" not in first.message and "2" not in first.message.split("returned")[0]
    # the claim of the exercise, measured
    x = torch.randn(5, 64) * 3 + 1
    lengths = nn.functional.layer_norm(x, (64,), eps=0.0).norm(dim=-1)
    torch.testing.assert_close(lengths, torch.full((5,), math.sqrt(64)))


def _quiz():
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch07.json"
    return {q["id"]: q for q in json.loads(path.read_text())["questions"]}


def test_quiz_numbers_match_the_package():
    quiz = _quiz()
    assert quiz["ffn-params"]["answer"] == count_parameters(PositionwiseFeedForward(512, 2048))
    assert quiz["ln-params"]["answer"] == count_parameters(nn.LayerNorm(512))
