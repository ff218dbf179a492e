import json
import math
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu.exercises import ch12
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def test_buggy_greedy_step_is_wrong_after_the_first_step_and_the_fix_is_right():
    model = ch12._small_model()
    src = torch.randint(4, 20, (3, 6), generator=torch.Generator().manual_seed(1))
    bos = torch.ones(3, 1, dtype=torch.long)
    longer = torch.cat([bos, torch.randint(4, 20, (3, 3), generator=torch.Generator().manual_seed(2))], dim=1)
    with torch.no_grad():
        assert torch.equal(ch12.buggy_greedy_step(model, src, bos), ch12._reference_step(model, src, bos))
        assert not torch.equal(ch12.buggy_greedy_step(model, src, longer), ch12._reference_step(model, src, longer))
    assert ch12.check_greedy_step_fix(ch12._reference_step)


def test_greedy_step_fix_feedback():
    first = ch12.check_greedy_step_fix(ch12.buggy_greedy_step)
    assert not first and "still has the bug" in first.message and "logits[:, -1]" not in first.message
    ch12.check_greedy_step_fix(ch12.buggy_greedy_step)
    assert "logits[:, -1]" in ch12.check_greedy_step_fix(ch12.buggy_greedy_step).message
    assert "returned None" in ch12.check_greedy_step_fix(lambda m, s, p: None).message
    assert "raised" in ch12.check_greedy_step_fix(lambda m, s, p: 1 / 0).message


def test_half_bleu_prediction():
    score, parts = ch12._half_bleu()
    assert parts["precisions"] == [1.0] * 4 and math.isclose(score, math.exp(-1))
    assert ch12.check_half_bleu_prediction(math.exp(-1))
    assert ch12.check_half_bleu_prediction(0.37)
    for wrong, words in [(1.0, "second factor"), (0.5, "length ratio"), (0.0, "a zero needs"), (0.8, "work out")]:
        reset_tries()
        feedback = ch12.check_half_bleu_prediction(wrong)
        assert not feedback and words in feedback.message and "0.368" not in feedback.message
    assert "one number" in ch12.check_half_bleu_prediction("a lot").message


def good_cache_numbers(batch, t, s, n_layers, d_model):
    return n_layers * 2 * batch * (t + s) * d_model


@pytest.mark.parametrize("args", [(2, 5, 7, 3, 16), (1, 3, 4, 1, 8)])
def test_cache_formula_matches_a_real_cache(args):
    assert ch12.measured_cache_numbers(*args) == good_cache_numbers(*args)


def test_cache_size_checker():
    assert ch12.check_cache_size(good_cache_numbers)
    for wrong, words in [(lambda b, t, s, n, d: n * 2 * b * t * d, "self-attention keys and values only"),
                         (lambda b, t, s, n, d: n * b * (t + s) * d, "keys AND values"),
                         (lambda b, t, s, n, d: 2 * b * (t + s) * d, "own cache"),
                         (lambda b, t, s, n, d: None, "returned None")]:
        reset_tries()
        feedback = ch12.check_cache_size(wrong)
        assert not feedback and words in feedback.message
    first = ch12.check_cache_size(lambda b, t, s, n, d: 1)
    assert "Expected" not in first.message
    assert math.isclose(good_cache_numbers(1, 30, 30, 6, 512) * 4, 1_474_560)  # the bytes the checker quotes


@pytest.mark.parametrize("wrong, words", [
    (lambda l, k: l.masked_fill(l < l.topk(k, -1).values[..., -1:], 0.0), "not 0"),
    (lambda l, k: l.masked_fill(l <= l.topk(k, -1).values[..., -1:], float("-inf")), "exactly k"),
    (lambda l, k: None, "torch.Tensor"),
])
def test_top_k_filter_checker(wrong, words):
    assert ch12.check_top_k_filter(lambda l, k: l.masked_fill(l < l.topk(k, -1).values[..., -1:], float("-inf")))
    feedback = ch12.check_top_k_filter(wrong)
    assert not feedback and words in feedback.message


def test_quiz_numbers_match_the_package():
    from transformer_edu.beam import lp
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch12.json"
    quiz = {q["id"]: q for q in json.loads(path.read_text())["questions"]}
    assert abs(quiz["lp-eleven"]["answer"] - lp(11, 0.6)) <= quiz["lp-eleven"]["tolerance"]
    assert abs(quiz["short-bleu"]["answer"] - 100 * math.exp(1 - 10 / 8)) <= quiz["short-bleu"]["tolerance"]
