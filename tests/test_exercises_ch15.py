import math

import pytest
import torch
import torch.nn.functional as F

from transformer_edu.exercises import ch15


def good_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())


@pytest.mark.parametrize("wrong, words", [
    (lambda z, ids: F.cross_entropy(z.flatten(0, 1), ids.flatten()), "its own input token"),
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
    (lambda loss, t, c: math.exp(loss / c), "should be"),
    (lambda loss, t, c: None, "returned None"),
    (lambda loss, t, c: "high", "return a number"),
])
def test_perplexity_checker(wrong, words):
    assert ch15.check_perplexity_per_character(good_perplexity)
    feedback = ch15.check_perplexity_per_character(wrong)
    assert not feedback and words in feedback.message


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
