"""Checkers for chapter 12, decoding (paper section 6.1)."""
from __future__ import annotations

import math

import torch

from ..config import TransformerConfig
from ..evaluation import corpus_bleu
from ..masks import causal_mask, padding_mask
from ..model import Transformer
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


def _as_number(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _small_model(n_decoder_layers: int = 2) -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig.small(vocab_size=20, d_model=16, n_heads=4, d_ff=32, n_encoder_layers=1,
                                     n_decoder_layers=n_decoder_layers)
    return Transformer(config).eval()


# --- Exercise 1: find the bug in one greedy step --------------------------------------------------------------

def buggy_greedy_step(model, src_ids, prefix):
    """Append the most probable next token to each prefix (B, t) -> (B, t + 1).
    One bug."""
    mask = causal_mask(prefix.shape[1])  # (1, 1, t, t)
    logits = model(src_ids, prefix, tgt_mask=mask)  # (B, t, V)
    next_token = logits[:, 0].argmax(dim=-1, keepdim=True)  # (B, 1)
    return torch.cat([prefix, next_token], dim=1)  # (B, t + 1)


def _reference_step(model, src_ids, prefix):
    logits = model(src_ids, prefix, tgt_mask=causal_mask(prefix.shape[1]))  # (B, t, V)
    return torch.cat([prefix, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)


@checker
def check_greedy_step_fix(step_fn) -> Feedback:
    """`step_fn(model, src_ids, prefix)` should be buggy_greedy_step fixed: prefix plus the argmax of the logits
    that follow the last prefix token."""
    model = _small_model()
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 20, (3, 6), generator=g)  # (B, S)
    for length in (1, 4):
        prefix = torch.cat([torch.ones(3, 1, dtype=torch.long), torch.randint(4, 20, (3, length - 1), generator=g)],
                           dim=1)  # (B, t): BOS and t - 1 tokens
        with torch.no_grad():
            expected = _reference_step(model, src, prefix)
            got, error = call_learner(step_fn, model, src.clone(), prefix.clone())
            if error is not None:
                return error
            if got is None:
                return not_yet("your function returned None: return the extended prefix, shape (B, t + 1)")
            same_bug = buggy_greedy_step(model, src, prefix)
        if (length > 1 and isinstance(got, torch.Tensor) and got.shape == expected.shape
                and torch.equal(got, same_bug) and not torch.equal(got, expected)):
            return not_yet("this still has the bug: it agrees with greedy decoding at the first step and then "
                           "keeps predicting from the wrong place. Which position's logits predict the token "
                           "AFTER the prefix?", answer="Take the last position's logits: logits[:, -1].")
        problem = compare_tensors(f"the extended prefix for a prefix of length {length}", got, expected, atol=0)
        if problem is not None:
            return problem
    return correct("the last position's logits predict the next token; the first position's predict the token "
                   "after BOS, which is right only at the first step.")


# --- Exercise 2: predict, then check: the BLEU of a candidate that stops halfway ------------------------------

HALF_REFERENCE = "the cat sat quietly on the warm mat".split()  # 8 tokens


def _half_bleu() -> tuple[float, dict]:
    return corpus_bleu([HALF_REFERENCE[:4]], [HALF_REFERENCE], return_parts=True)


@checker
def check_half_bleu_prediction(prediction) -> Feedback:
    """`prediction`: corpus_bleu of the candidate HALF_REFERENCE[:4] against HALF_REFERENCE (8 tokens)."""
    value = _as_number(prediction)
    if value is None:
        return not_yet("write your prediction as one number between 0 and 1, then run the cell")
    score, parts = _half_bleu()
    result = (f"The experiment: precisions {[round(p, 3) for p in parts['precisions']]}, brevity penalty "
              f"exp(1 - 8/4) = {parts['brevity_penalty']:.3f}, BLEU {score:.3f}.")
    if abs(value - score) <= 0.02:
        return correct(f"{result} Every n-gram of the candidate is in the reference, so all four precisions are "
                       f"1; only the brevity penalty lowers the score. Precision alone would reward stopping "
                       f"early; the penalty, exp(1 - r/c) for c < r, is what makes a short output cost.")
    if math.isclose(value, 1.0):
        return not_yet("the precisions are what you think, but BLEU has a second factor for outputs shorter than "
                       "their references", answer=result)
    if math.isclose(value, 0.5, abs_tol=0.02):
        return not_yet("the brevity penalty is not the length ratio c / r: look at its formula in the section "
                       "above", answer=result)
    if value < 0.02:
        return not_yet("a zero needs some n (1 to 4) with no matching n-gram: does the candidate have one?",
                       answer=result)
    return not_yet("work out the four modified precisions first (which candidate n-grams occur in the reference?), "
                   "then the brevity penalty with c = 4 and r = 8", answer=result)


# --- Exercise 3: derivation: the size of the key/value cache ----------------------------------------------------

def measured_cache_numbers(batch: int, t: int, s: int, n_layers: int, d_model: int) -> int:
    """How many numbers a real KVCache holds after t decoding steps: a small model with n_layers decoder layers
    of width d_model, decoding `batch` sentences of s source tokens."""
    torch.manual_seed(0)
    config = TransformerConfig.small(vocab_size=20, d_model=d_model, n_heads=4, d_ff=2 * d_model,
                                     n_encoder_layers=1, n_decoder_layers=n_layers)
    model = Transformer(config).eval()
    src = torch.randint(4, 20, (batch, s))
    tokens = torch.randint(4, 20, (batch, t))
    with torch.no_grad():
        src_mask = padding_mask(src, 0)
        memory = model.encode(src, src_mask)  # (B, S, D)
        cache = model.new_cache()
        for i in range(t):
            model.decode(tokens[:, i:i + 1], memory, src_mask, cache=cache)  # one new token per step
    return sum(c.k.numel() + c.v.numel() for c in cache.caches.values())


@checker
def check_cache_size(size_fn) -> Feedback:
    """`size_fn(batch, t, s, n_layers, d_model)`: the numbers a decoder's KV cache holds after t steps."""
    for args in [(2, 5, 7, 3, 16), (1, 1, 4, 1, 8), (4, 9, 3, 2, 32)]:
        batch, t, s, n_layers, d_model = args
        got, error = call_learner(size_fn, *args)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        expected = measured_cache_numbers(*args)
        if got == expected:
            continue
        where = f"size_fn{args} returned {got!r}"
        if got == n_layers * 2 * batch * t * d_model:
            return not_yet(f"{where}: that counts the self-attention keys and values only; every decoder layer "
                           f"also caches the keys and values of the memory for its encoder-decoder attention")
        if got == n_layers * batch * (t + s) * d_model:
            return not_yet(f"{where}: the cache holds keys AND values")
        if got == n_layers * 2 * batch * (t + s) * d_model // 4:
            return not_yet(f"{where}: the heads together are d_model wide (h heads of d_k = d_model / h); "
                           f"count all of them")
        if got == 2 * batch * (t + s) * d_model:
            return not_yet(f"{where}: every decoder layer has its own cache")
        return not_yet(f"{where}, which is {'too many' if got > expected else 'too few'}. Count, per decoder "
                       f"layer, what each of its two attentions keeps", answer=f"Expected {expected:,} for {args}.")
    return correct("n_layers x 2 (keys and values) x B x (t + S) x d_model: the self-attention part grows by one "
                   "position per step, the encoder-decoder part is fixed. For the base model (6 layers, "
                   "d_model = 512) decoding one sentence of S = 30 into t = 30 tokens, that is 368,640 numbers, "
                   "1,474,560 bytes in float32.")


# --- Exercise 4: top-k filtering ------------------------------------------------------------------------------

@checker
def check_top_k_filter(filter_fn) -> Feedback:
    """`filter_fn(logits, k)` should keep the k largest logits of each row (..., V) and set the rest to -inf."""
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0, 0.0, 1.5], [-0.3, 0.8, -2.0, 0.1, 2.2, -1.1]])  # (B, V), no ties
    for k in (2, 4, 1, 6):
        kth = logits.sort(dim=-1, descending=True).values[:, k - 1:k]  # (B, 1) the k-th largest value
        expected = logits.masked_fill(logits < kth, float("-inf"))
        got, error = call_learner(filter_fn, logits.clone(), k)
        if error is not None:
            return error
        if not isinstance(got, torch.Tensor):
            return not_yet(f"filter_fn(logits, {k}) should return a torch.Tensor of logits, got {type(got).__name__}")
        if got.shape != logits.shape:
            return not_yet(f"filter_fn(logits, {k}) should keep the shape (B, V) = {tuple(logits.shape)}, got "
                           f"{tuple(got.shape)}: mask the removed tokens instead of dropping them")
        if torch.equal(got, expected):
            continue
        if torch.equal(got, logits.masked_fill(logits < kth, 0.0)) and k < logits.shape[-1]:
            return not_yet("the removed tokens must get -inf, not 0: exp(0) = 1, so a zero logit still has a fair "
                           "chance after the softmax")
        kth_smallest = logits.sort(dim=-1).values[:, k - 1:k]
        if torch.equal(got, logits.masked_fill(logits > kth_smallest, float("-inf"))) and k < logits.shape[-1]:
            return not_yet("you kept the k SMALLEST logits; keep the k largest")
        if bool(((got >= 0) & (got <= 1)).all()) and torch.allclose(got.sum(dim=-1), torch.ones(2), atol=1e-5):
            return not_yet("return filtered LOGITS, not probabilities: sampling applies the softmax afterwards")
        n_kept = got.isfinite().sum(dim=-1)  # (B,)
        if bool((n_kept != k).any()):
            return not_yet(f"each row should keep exactly k = {k} tokens, you kept {n_kept.tolist()}: check < versus "
                           f"<= when comparing with the k-th largest value")
        if torch.equal(got.isfinite(), expected.isfinite()):
            return not_yet("the right tokens are kept, but their logits changed: keep them as they are")
        return not_yet(f"filter_fn(logits, {k}) kept the wrong tokens: for logits {logits[0].tolist()} and k = {k} "
                       f"you returned {got[0].tolist()}", answer=f"Expected {expected[0].tolist()}.")
    return correct("softmax over the filtered logits gives the other tokens probability exactly 0.")
