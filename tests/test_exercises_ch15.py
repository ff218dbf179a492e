import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import transformer_edu
from transformer_edu import Block, DecoderLayer
from transformer_edu.exercises import ch15
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries
from transformer_edu.lm_data import shakespeare_characters


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def quiz_answer(question_id):
    quiz = json.loads((Path(transformer_edu.__file__).parent / "quizzes" / "ch15.json").read_text())
    return next(q["answer"] for q in quiz["questions"] if q["id"] == question_id)


@pytest.fixture(scope="module")
def characters():
    tokenizer, _, validation_ids = shakespeare_characters()
    return tokenizer.vocab_size, validation_ids


# --- Exercise 1: predict then check -----------------------------------------------------------------------------


def test_initial_loss_is_above_ln_v_and_the_reasoned_prediction_passes(characters):
    vocab_size, ids = characters
    measured = ch15.initial_loss(vocab_size, ids)
    assert math.log(vocab_size) + 0.3 < measured < math.log(vocab_size) + 1.0
    assert ch15.check_initial_loss(math.log(vocab_size) + 0.5, vocab_size, ids)


@pytest.mark.parametrize("shift, words", [(0.0, "is ln V"), (-2.0, "too low"), (3.0, "too high")])
def test_initial_loss_hints_hide_the_value_until_the_third_try(characters, shift, words):
    vocab_size, ids = characters
    measured = ch15.initial_loss(vocab_size, ids)
    prediction = math.log(vocab_size) + shift
    first = ch15.check_initial_loss(prediction, vocab_size, ids)
    assert not first and words in first.message and f"{measured:.2f}" not in first.message
    for _ in range(REVEAL_AFTER - 1):
        last = ch15.check_initial_loss(prediction, vocab_size, ids)
    assert f"{measured:.2f}" in last.message


def test_initial_loss_recognises_bits(characters):
    vocab_size, ids = characters
    feedback = ch15.check_initial_loss(math.log2(vocab_size), vocab_size, ids)
    assert not feedback and "bits" in feedback.message


@pytest.mark.parametrize("prediction, words", [(None, "prediction first"), ("5", "one number"), (-1, "one number")])
def test_initial_loss_rejects_non_predictions(prediction, words):
    feedback = ch15.check_initial_loss(prediction, 88, None)
    assert not feedback and words in feedback.message


# --- Exercise 2: find the bug -----------------------------------------------------------------------------------


def test_buggy_loss_is_wrong_and_scores_a_copying_model_perfectly():
    logits, ids = ch15._lm_logits_and_ids()
    assert not math.isclose(float(ch15.buggy_next_token_loss(logits, ids)), float(good_loss(logits, ids)))
    copying = 50.0 * F.one_hot(ids, 7).double()  # a model that copies its input token
    assert float(ch15.buggy_next_token_loss(copying, ids)) < 1e-6
    assert ch15.check_next_token_loss(good_loss)
    assert "still the bug" in ch15.check_next_token_loss(ch15.buggy_next_token_loss).message


def good_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())


@pytest.mark.parametrize("wrong, words", [
    (lambda z, ids: F.cross_entropy(z.flatten(0, 1), ids.flatten()), "still the bug"),
    (lambda z, ids: F.cross_entropy(z[:, 1:].flatten(0, 1), ids[:, :-1].flatten()), "wrong way"),
    (lambda z, ids: F.cross_entropy(z[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="sum"), "mean"),
    (lambda z, ids: -z[:, :-1].gather(-1, ids[:, 1:, None]).mean(), "log_softmax"),
    (lambda z, ids: F.cross_entropy(z[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="none"),
     "one number"),
    (lambda z, ids: F.cross_entropy(z[:, :-2].flatten(0, 1), ids[:, 2:].flatten()), "not the mean next-token"),
    (lambda z, ids: None, "returned None"),
    (lambda z, ids: z.missing_method(), "raised"),
])
def test_next_token_loss_checker(wrong, words):
    assert ch15.check_next_token_loss(good_loss)
    assert ch15.check_next_token_loss(lambda z, ids: good_loss(z, ids).item())  # a float is fine too
    feedback = ch15.check_next_token_loss(wrong)
    assert not feedback and words in feedback.message
    assert f"{float(good_loss(*ch15._lm_logits_and_ids())):.4f}" not in feedback.message  # no answer on a wrong try


def good_perplexity(loss_per_token, n_tokens, n_characters):
    return math.exp(loss_per_token * n_tokens / n_characters)


@pytest.mark.parametrize("wrong, words", [
    (lambda loss, t, c: math.exp(loss), "per TOKEN"),
    (lambda loss, t, c: math.exp(loss * c / t), "upside down"),
    (lambda loss, t, c: loss * t / c, "e to that power"),
    (lambda loss, t, c: 2 ** (loss * t / c), "nats"),
    (lambda loss, t, c: math.exp(loss / c), "not the perplexity per character"),
    (lambda loss, t, c: None, "returned None"),
    (lambda loss, t, c: "high", "return a number"),
])
def test_perplexity_checker(wrong, words):
    assert ch15.check_perplexity_per_character(good_perplexity)
    feedback = ch15.check_perplexity_per_character(wrong)
    assert not feedback and words in feedback.message and "Expected" not in feedback.message


def good_detector(logits_fn, ids):
    before = logits_fn(ids)
    vocab_size = before.shape[-1]
    for t in range(ids.shape[1] - 1):
        changed = ids.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1) % vocab_size
        if not torch.equal(logits_fn(changed)[:, :t + 1], before[:, :t + 1]):
            return True
    return False


def compares_everything(logits_fn, ids):
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    return not torch.equal(logits_fn(changed), logits_fn(ids))


def only_the_last_token(logits_fn, ids):
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    return not torch.equal(logits_fn(changed)[:, :-1], logits_fn(ids)[:, :-1])


def never(logits_fn, ids):
    return False


@pytest.mark.parametrize("wrong, words", [
    (compares_everything, "flagged the correctly masked model"),
    (only_the_last_token, "one later token"),
    (never, "no mask at all"),
    (lambda f, ids: 1, "True or False"),
    (lambda f, ids: f(ids[0]), "raised"),
])
def test_leak_detector_checker(wrong, words):
    assert ch15.check_leak_detector(good_detector)
    feedback = ch15.check_leak_detector(wrong)
    assert not feedback and words in feedback.message


def test_the_leaky_models_really_leak_and_the_causal_one_does_not():
    ids = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(0))
    for name, (allowed, leaks) in ch15._models().items():
        assert good_detector(ch15._masked_gpt(allowed), ids) == leaks, name


def test_quiz_numbers_match_the_package():
    def count(module):
        return sum(p.numel() for p in module.parameters())
    decoder_layer = DecoderLayer(128, 4, 512)
    gpt_block = Block(128, 4, 512, cross_attention=False, causal=True, dropout=0.0)
    assert count(decoder_layer) - count(gpt_block) == quiz_answer("block-difference")
    inputs, targets = ch15_lm_batch()
    assert targets.numel() == quiz_answer("predictions-per-step")


def ch15_lm_batch():
    from transformer_edu.lm_data import lm_batch
    return lm_batch(torch.arange(1000) % 50, block_size=64, batch_size=12, generator=torch.Generator().manual_seed(0))
