import copy
import itertools
import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.exercises import ch13
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


# --- Exercise 1: find the bug -----------------------------------------------------------------------------------


def good_zero_head(concat, head, n_heads):
    b, t, width = concat.shape
    heads = concat.clone().reshape(b, t, n_heads, width // n_heads)  # (B, T, h, d_k)
    heads[:, :, head] = 0.0
    return heads.reshape(b, t, width)


def in_place(concat, head, n_heads):
    d_k = concat.shape[-1] // n_heads
    concat[..., head * d_k:(head + 1) * d_k] = 0.0
    return concat


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


def test_buggy_zero_head_is_wrong_and_the_fix_matches_the_package_hook():
    from transformer_edu.ablation import ablate_heads, attention_module

    model, _, _ = load_checkpoint(Path(transformer_edu.__file__).parent / "checkpoints" / "dates.pt")
    attention = attention_module(model, "encoder_self", 0)
    concat = torch.randn(1, 5, model.config.d_model)  # (B, T, h * d_k)
    seen = []
    with torch.no_grad(), ablate_heads(model, {("encoder_self", 0, 2)}):
        # registered after the ablation hook, so it runs after it: `seen` holds what W^O receives
        handle = attention.w_o.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].clone()))
        try:
            attention.w_o(concat)
        finally:
            handle.remove()
    torch.testing.assert_close(good_zero_head(concat, 2, model.config.n_heads), seen[0])
    assert not torch.equal(ch13.buggy_zero_head(concat, 2, model.config.n_heads), seen[0])
    assert (ch13.buggy_zero_head(concat, 2, 4) == 0).sum() == (good_zero_head(concat, 2, 4) == 0).sum()


def test_zero_head_solution_passes():
    assert ch13.check_zero_head(good_zero_head)


@pytest.mark.parametrize("wrong, phrase", [
    (ch13.buggy_zero_head, "still the bug of buggy_zero_head"),
    (in_place, "in place"),
    (width_n_heads, "as the width of a head"),
    (position, "zeroed a position"),
    (keep_only, "kept only head"),
    (lambda c, h, n: c.clone(), "nothing was set to zero"),
    (lambda c, h, n: None, "returned None"),
    (lambda c, h, n: 1 / 0, "ZeroDivisionError"),
])
def test_zero_head_mistakes(wrong, phrase):
    feedback = ch13.check_zero_head(wrong)
    assert not feedback and phrase in feedback.message


def test_zero_head_reveals_the_layout_only_after_repeated_tries():
    first = ch13.check_zero_head(ch13.buggy_zero_head).message
    assert "columns i * d_k" not in first and "Try again" in first
    for _ in range(REVEAL_AFTER - 1):
        last = ch13.check_zero_head(ch13.buggy_zero_head).message
    assert "columns i * d_k" in last


# --- Exercise 2: ablation by editing weights --------------------------------------------------------------------


def by_w_o(attention, head):
    edited = copy.deepcopy(attention)
    with torch.no_grad():
        edited.w_o.weight[:, head * attention.d_k:(head + 1) * attention.d_k] = 0.0
    return edited


def by_values(attention, head):
    edited = copy.deepcopy(attention)
    block = slice(head * attention.d_k, (head + 1) * attention.d_k)
    with torch.no_grad():
        edited.w_v.weight[block] = 0.0
        edited.w_v.bias[block] = 0.0
    return edited


def edits_in_place(attention, head):
    with torch.no_grad():
        attention.w_o.weight[:, head * attention.d_k:(head + 1) * attention.d_k] = 0.0
    return attention


@pytest.mark.parametrize("solution", [by_w_o, by_values])
def test_ablated_copy_solutions_pass(solution):
    assert ch13.check_ablated_copy(solution)


@pytest.mark.parametrize("edit, phrase", [
    ("w_o rows", "output features"),
    ("query and key", "uniform"),
    ("value weight only", "its bias alone"),
    ("w_o columns and bias", "belongs to no head"),
])
def test_ablated_copy_recognises_wrong_edits(edit, phrase):
    feedback = ch13.check_ablated_copy(lambda attention, head: ch13._edited(attention, head, edit))
    assert not feedback and phrase in feedback.message


@pytest.mark.parametrize("wrong, phrase", [
    (edits_in_place, "changed the weights of the module"),
    (lambda a, h: a, "the module you were given"),
    (lambda a, h: copy.deepcopy(a), "intact module"),
    (lambda a, h: None, "returned None"),
    (lambda a, h: 3, "return a module"),
])
def test_ablated_copy_mistakes(wrong, phrase):
    feedback = ch13.check_ablated_copy(wrong)
    assert not feedback and phrase in feedback.message


# --- Exercise 3: predict, then measure --------------------------------------------------------------------------


def test_prediction_checker_measures_and_hides_the_value_at_first():
    measured = 100 * ch13._encoder_attention_off()
    assert 0 < measured < 49.8  # worse than either layer's block alone
    assert ch13.check_encoder_attention_off(round(measured))
    assert ch13.check_encoder_attention_off(45)  # the independent-losses estimate is close enough
    too_high = ch13.check_encoder_attention_off(90)
    assert not too_high and "too high" in too_high.message and f"{measured:.1f}" not in too_high.message
    too_low = ch13.check_encoder_attention_off(0)
    assert not too_low and "too low" in too_low.message and f"{measured:.1f}" not in too_low.message
    third = ch13.check_encoder_attention_off(0)
    assert f"{measured:.1f}" in third.message


@pytest.mark.parametrize("prediction, phrase", [(None, "prediction first"), ("40", "one number"), (140, "one number")])
def test_prediction_checker_rejects_non_predictions(prediction, phrase):
    feedback = ch13.check_encoder_attention_off(prediction)
    assert not feedback and phrase in feedback.message


# --- Quiz -------------------------------------------------------------------------------------------------------


def _quiz_answer(question_id):
    quiz = json.loads((Path(transformer_edu.__file__).parent / "quizzes" / "ch13.json").read_text())
    return next(q["answer"] for q in quiz["questions"] if q["id"] == question_id)


def test_quiz_numbers_match_the_model():
    model, _, _ = load_checkpoint(Path(transformer_edu.__file__).parent / "checkpoints" / "dates.pt")
    d_model, n_heads = model.config.d_model, model.config.n_heads
    w_o = model.encoder.layers[0].self_attn.w_o.weight  # (D, h * d_k)
    assert w_o[:, :d_model // n_heads].numel() == _quiz_answer("w-o-block")
    sets = [s for k in range(1, n_heads + 1) for s in itertools.combinations(range(n_heads), k)]
    assert len(sets) == _quiz_answer("head-sets")
