"""Checkers for chapter 15, a GPT from the decoder (the causal language-model objective; later than 2017).

The expected answers come from torch's own functions and from small untrained GPTs built here; only the
prediction of exercise 1 is measured on the text the notebook passes in.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..gpt import GPT, GPTConfig
from ..lm_data import lm_loss
from ._check import Feedback, call_learner, checker, correct, not_yet

# --- Exercise 1: predict the loss before training ---------------------------------------------------------------

INITIAL_LOSS_TOLERANCE = 0.25  # nats per character


def initial_loss(vocab_size: int, ids: torch.Tensor) -> float:
    """Loss (nats per token) of the chapter's GPT, freshly initialized with seed 0, on the first 4,096
    targets of ids, in windows of 64."""
    torch.manual_seed(0)
    model = GPT(GPTConfig.small(vocab_size=vocab_size, positional="learned")).eval()
    return lm_loss(model, ids[:4097], block_size=64)


@checker
def check_initial_loss(prediction, vocab_size, validation_ids) -> Feedback:
    """`prediction`: the learner's guess of the validation loss of an untrained GPT. Measured here on the
    validation text the notebook passes in, then compared."""
    if prediction is None:
        return not_yet("write your prediction first: a loss in nats per character")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not 0 <= prediction < 100:
        return not_yet(f"the prediction should be one number, a loss in nats per character, got {prediction!r}")
    measured = initial_loss(vocab_size, validation_ids)
    uniform = math.log(vocab_size)
    answer = f"Measured: {measured:.2f} nats per character (ln V = {uniform:.2f})."
    off_by = prediction - measured
    if abs(off_by) <= INITIAL_LOSS_TOLERANCE:
        return correct(f"measured {measured:.2f} nats per character, your prediction {prediction:.2f}. A uniform "
                       f"guess would cost ln V = {uniform:.2f}, but the untrained model's logits are not equal: "
                       f"each is a LayerNorm output (entries of variance about 1) times an embedding row (entries "
                       f"of variance 1/d_model), so their spread is about 1, and random logits of standard "
                       f"deviation s cost about s^2 / 2 nats more than uniform ones. A first loss far above ln V "
                       f"is a sign of an initialization that is too large.")
    if abs(prediction - uniform) < 0.05:
        return not_yet(f"{prediction:.2f} is ln V, the loss of a model whose logits are all equal. Are the logits "
                       f"of a freshly initialized model equal? Estimate their spread, then what a spread costs.",
                       answer=answer)
    if abs(prediction - uniform / math.log(2)) < 0.05:
        return not_yet("that looks like log2 V, a loss in bits; the book's losses are in nats (natural "
                       "logarithms)", answer=answer)
    if off_by < 0:
        return not_yet(f"{prediction:.2f} is too low by more than {INITIAL_LOSS_TOLERANCE} nats. An untrained model "
                       f"knows nothing about the text: start from the loss of a uniform guess over the V "
                       f"characters, and ask whether the untrained model does better or worse than that.",
                       answer=answer)
    return not_yet(f"{prediction:.2f} is too high by more than {INITIAL_LOSS_TOLERANCE} nats. The initialization "
                   f"keeps the logits small (their spread is about 1): start from the loss of a uniform guess.",
                   answer=answer)


# --- Exercise 2: find the bug in the loss -----------------------------------------------------------------------


def buggy_next_token_loss(logits: torch.Tensor, ids: torch.Tensor):
    """Mean cross-entropy of a language model's predictions, in nats per token.
    logits (B, L, V) = model(ids), ids (B, L).
    (Exercise 2: this version has a bug.)"""
    vocab_size = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab_size), ids.reshape(-1))


def _lm_logits_and_ids(seed: int = 15) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, L, V) that are not uniform, and the ids (B, L) they were computed for."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 7, (3, 6), generator=generator)  # (B, L)
    logits = 2 * torch.randn(3, 6, 7, generator=generator, dtype=torch.float64)  # (B, L, V)
    return logits, ids


@checker
def check_next_token_loss(loss_fn) -> Feedback:
    """`loss_fn(logits, ids)`: logits (B, L, V) = model(ids) for ids (B, L). Return the mean cross-entropy of the
    predictions that have a next token to score: position t against ids[:, t + 1], for t = 0 .. L - 2."""
    logits, ids = _lm_logits_and_ids()
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    got, problem = call_learner(loss_fn, logits.clone(), ids.clone())
    if problem is not None:
        return problem
    if got is None:
        return not_yet("your function returned None: return the loss, one number")
    if isinstance(got, torch.Tensor) and got.numel() != 1:
        return not_yet(f"return one number, the mean over all predictions; you returned a tensor of shape "
                       f"{tuple(got.shape)}")
    try:
        got = float(got)
    except (TypeError, ValueError):
        return not_yet(f"return the loss as a number or a one-element tensor, got {type(got).__name__}")
    if math.isclose(got, float(expected), rel_tol=1e-9):
        return correct(f"{got:.4f} nats per token. The last position has no next token in this window, so it is "
                       f"not scored; lm_batch avoids the loss of a position by reading one token more than it feeds.")
    wrong = {
        "no shift": F.cross_entropy(logits.flatten(0, 1), ids.flatten()),
        "backwards": F.cross_entropy(logits[:, 1:].flatten(0, 1), ids[:, :-1].flatten()),
        "sum": F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="sum"),
        "no softmax": -logits[:, :-1].gather(-1, ids[:, 1:, None]).mean(),
    }
    hints = {
        "no shift": "still the bug of buggy_next_token_loss: each position is scored against its own input "
                    "token, which the causal mask lets it see. Which token must position t predict, and which "
                    "positions have one in this window?",
        "backwards": "the shift goes the wrong way: you paired position t with the token BEFORE it (logits[:, 1:] "
                     "with ids[:, :-1]). Position t sees tokens 0 .. t and predicts token t + 1",
        "sum": "that is the sum over all predictions; the loss is their mean (nats per token), so that it does not "
               "grow with the batch and the length",
        "no softmax": "cross-entropy is -log of a PROBABILITY: take log_softmax over the vocabulary (or use "
                      "F.cross_entropy, which does) before picking the target's entry",
    }
    fix = "Pair logits[:, :-1] (positions 0 .. L - 2) with ids[:, 1:] (the tokens after them)."
    for name, value in wrong.items():
        if math.isclose(got, float(value), rel_tol=1e-9):
            return not_yet(hints[name], answer=fix)
    return not_yet(f"your loss, {got:.4f}, is not the mean next-token cross-entropy of these logits. Keep the "
                   f"L - 1 positions that have a next token, flatten the predictions to (B (L - 1), V) and the "
                   f"targets to (B (L - 1),), then F.cross_entropy.", answer=fix)


@checker
def check_perplexity_per_character(perplexity_fn) -> Feedback:
    """`perplexity_fn(loss_per_token, n_tokens, n_characters)`: a text of n_characters characters was cut into
    n_tokens tokens and scored at loss_per_token nats per token. Return the perplexity per character."""
    cases = [(4.2, 250, 1000), (1.5, 1000, 1000), (3.0, 300, 1200), (2.4, 10, 37)]
    for loss, n_tokens, n_characters in cases:
        per_character = loss * n_tokens / n_characters  # the text's total nats, shared among its characters
        expected = math.exp(per_character)
        got, problem = call_learner(perplexity_fn, loss, n_tokens, n_characters)
        if problem is not None:
            return problem
        if got is None:
            return not_yet("your function returned None: return the perplexity, one number")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return not_yet(f"return a number, got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        if n_tokens != n_characters and math.isclose(got, math.exp(loss), rel_tol=1e-9):
            return not_yet(f"exp({loss}) is the perplexity per TOKEN. Turn the loss into nats per character first: "
                           f"the whole text costs loss x n_tokens nats, shared among n_characters characters")
        if math.isclose(got, math.exp(loss * n_characters / n_tokens), rel_tol=1e-9):
            return not_yet("the ratio is upside down: a token holds several characters, so the loss per character "
                           "is smaller than the loss per token (multiply by n_tokens / n_characters)")
        if math.isclose(got, per_character, rel_tol=1e-9):
            return not_yet("that is the loss per character in nats; the perplexity is e to that power")
        if math.isclose(got, 2 ** per_character, rel_tol=1e-9):
            return not_yet("the losses here are in nats (natural logarithms), so the perplexity is e ** loss, not "
                           "2 ** loss (which would be right for bits)")
        return not_yet(f"perplexity_fn({loss}, {n_tokens}, {n_characters}) returned {got:.4f}, which is not the "
                       f"perplexity per character: first the text's total nats, then nats per character, then "
                       f"e to that power", answer=f"Expected {expected:.4f}.")
    return correct("a perplexity of p means the model is as unsure as a uniform choice among p characters; "
                   "only per-character figures compare a character model with a BPE model.")


def _masked_gpt(allowed: torch.Tensor):
    """A small untrained GPT (float64) run with the mask `allowed` (T, T), True = may attend, in place of the
    causal mask: ids (B, T) -> logits (B, T, V)."""
    torch.manual_seed(15)
    model = GPT(GPTConfig.small(vocab_size=11, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16))
    model = model.double().eval()

    def logits_fn(ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        with torch.no_grad():
            x = model.position(model.embed(ids))  # (B, T, D)
            return model.output(model.decoder(x, allowed[:t, :t][None, None]))  # (B, T, V)
    return logits_fn


def _models() -> dict[str, tuple]:
    causal = torch.tril(torch.ones(16, 16, dtype=torch.bool))
    one_pair = causal.clone()
    one_pair[0, 1] = True  # position 0 may also see position 1, and nothing else is wrong
    return {"causal": (causal, False), "no mask": (torch.ones(16, 16, dtype=torch.bool), True),
            "triu": (torch.triu(torch.ones(16, 16, dtype=torch.bool)), True),
            "next token": (torch.tril(torch.ones(16, 16, dtype=torch.bool), diagonal=1), True),
            "one pair": (one_pair, True)}


@checker
def check_leak_detector(leaks_future) -> Feedback:
    """`leaks_future(logits_fn, ids)` should return True when some position's logits change if only LATER tokens
    of ids (B, T) change, and False for a correctly masked model. logits_fn(ids) -> logits (B, T, V)."""
    ids = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(15))
    answers = {}
    for name, (allowed, leaks) in _models().items():
        got, problem = call_learner(leaks_future, _masked_gpt(allowed), ids.clone())
        if problem is not None:
            return problem
        if not isinstance(got, bool):
            return not_yet(f"return True or False (a Python bool, e.g. bool(...)), got {type(got).__name__}")
        answers[name] = got == leaks
    if not answers["causal"]:
        return not_yet("you flagged the correctly masked model. When you change the tokens after position t, "
                       "positions t + 1 onwards SHOULD change (they read the new tokens): compare positions "
                       "0 .. t only")
    if not answers["no mask"] or not answers["triu"]:
        return not_yet("a model with no mask at all (or with the mask transposed) went unnoticed: change some "
                       "tokens and compare the logits of the positions BEFORE the change")
    if not answers["one pair"] or not answers["next token"]:
        return not_yet("a model in which one position sees one later token went unnoticed. A leak can run from any "
                       "later token into any earlier position: for every t, change all the tokens after t and "
                       "compare positions 0 .. t")
    return correct("tests/test_gpt.py checks the package's GPT the same way. A model that can see the token it "
                   "must predict learns to copy it: its training loss falls towards 0, and it cannot generate.")
