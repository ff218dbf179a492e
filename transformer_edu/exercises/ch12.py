"""Checkers for chapter 12, decoding (paper section 6.1)."""
from __future__ import annotations

import math

import torch

from ..config import TransformerConfig
from ..masks import causal_mask
from ..model import Transformer
from ._check import Feedback, compare_tensors, correct, not_yet

BOS, EOS = 1, 2  # the ids of the book's tokenizers (transformer_edu.tokenizer)


def _small_model(seed: int) -> Transformer:
    """An untrained float64 model with varied outputs (an untied output layer), for exact comparisons."""
    torch.manual_seed(seed)
    config = TransformerConfig.small(vocab_size=13, d_model=32, n_heads=2, d_ff=64, n_encoder_layers=1,
                                     n_decoder_layers=1, share_embeddings=False, max_len=32)
    return Transformer(config).double().eval()


def check_greedy_step(step_fn) -> Feedback:
    """`step_fn(model, src_ids, prefix)` should return the prefix (B, t) with the most probable next token
    appended: (B, t + 1)."""
    model = _small_model(12)
    generator = torch.Generator().manual_seed(12)
    src = torch.randint(3, 13, (3, 5), generator=generator)  # (B, S)
    prefix = torch.cat([torch.full((3, 1), BOS), torch.randint(3, 13, (3, 3), generator=generator)], dim=1)  # (B, 4)
    with torch.no_grad():
        logits = model(src, prefix, tgt_mask=causal_mask(prefix.shape[1]))  # (B, t, V)
    expected = torch.cat([prefix, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)  # (B, t + 1)
    try:
        with torch.no_grad():
            got = step_fn(model, src.clone(), prefix.clone())
    except Exception as exc:
        return not_yet(f"step_fn(model, src_ids, prefix) raised {exc!r}; src_ids is (B, S) = {tuple(src.shape)}, "
                       f"prefix is (B, t) = {tuple(prefix.shape)}")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape[:1]:
        return not_yet("you returned only the new tokens (B,): append them to the prefix, giving (B, t + 1)")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if not torch.equal(got[:, :-1], prefix):
            return not_yet("the first t columns should be the prefix unchanged; the new token goes at the end")
        if torch.equal(got[:, -1], logits[:, 0].argmax(dim=-1)) and not torch.equal(got, expected):
            return not_yet("you used the logits of the FIRST position; the next token is predicted at the LAST "
                           "position of the prefix (logits[:, -1])")
        if torch.equal(got[:, -1], logits[:, -1].argmin(dim=-1)):
            return not_yet("you took the LEAST probable token: greedy takes the argmax")
    problem = compare_tensors("the extended prefix", got, expected, atol=0,
                              hint="Run the model on (src_ids, prefix), take the last position's logits, argmax over "
                                   "the vocabulary (dim=-1) and concatenate.")
    return problem if problem is not None else correct(
        "repeating this step until EOS is greedy decoding; greedy_decode does the same with a KV cache.")


def _reference_score(log_prob: float, length: int, alpha: float) -> float:
    return log_prob / ((5 + length) / 6) ** alpha


def check_normalized_score(score_fn) -> Feedback:
    """`score_fn(log_prob, length, alpha)` should return log P(Y|X) / lp(Y), lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    cases = [(-2.0, 4, 0.6), (-7.5, 12, 0.6), (-3.0, 1, 0.6), (-4.0, 9, 0.0), (-4.0, 9, 1.0)]
    for log_prob, length, alpha in cases:
        expected = _reference_score(log_prob, length, alpha)
        try:
            got = score_fn(log_prob, length, alpha)
        except Exception as exc:
            return not_yet(f"score_fn({log_prob}, {length}, {alpha}) raised {exc!r}")
        if got is None:
            return not_yet("your function returned None: return the normalized score as a number")
        got = float(got)
        if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            continue
        lp = ((5 + length) / 6) ** alpha
        if math.isclose(got, log_prob * lp, rel_tol=1e-9):
            return not_yet("divide the log-probability by lp(Y), do not multiply: the penalty should make long "
                           "hypotheses' (more negative) scores less negative")
        if math.isclose(got, log_prob / ((5 + length) / 6), rel_tol=1e-9):
            return not_yet(f"the exponent alpha is missing: lp(Y) = ((5 + |Y|) / 6) ** alpha (alpha = {alpha} here)")
        if math.isclose(got, _reference_score(log_prob, length + 1, alpha), rel_tol=1e-9):
            return not_yet("|Y| counts the generated tokens, EOS included but not BOS: you used length + 1")
        if math.isclose(got, log_prob / length ** alpha, rel_tol=1e-9):
            return not_yet("that is plain length normalization, |Y| ** alpha; GNMT's penalty is "
                           "((5 + |Y|) / 6) ** alpha")
        return not_yet(f"score_fn({log_prob}, {length}, {alpha}) should be {expected:.6f}, got {got:.6f}")
    return correct("with alpha = 0 the score is the plain log-probability; alpha = 0.6 (the paper) "
                   "gives longer hypotheses a fairer chance.")


def check_top_k_filter(filter_fn) -> Feedback:
    """`filter_fn(logits, k)` should keep the k largest logits of each row (..., V) and set the rest to -inf."""
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0, 0.0, 1.5], [-0.3, 0.8, -2.0, 0.1, 2.2, -1.1]])  # (B, V), no ties
    for k in (2, 4, 1, 6):
        kth = logits.sort(dim=-1, descending=True).values[:, k - 1:k]  # (B, 1) the k-th largest value
        expected = logits.masked_fill(logits < kth, float("-inf"))
        try:
            got = filter_fn(logits.clone(), k)
        except Exception as exc:
            return not_yet(f"filter_fn(logits, {k}) raised {exc!r}")
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
                       f"expected {expected[0].tolist()}, got {got[0].tolist()}")
    return correct("softmax over the filtered logits gives the other tokens probability exactly 0.")
