"""Measuring a trained model on held-out examples: the loss with teacher forcing, greedy predictions, and the
exact-match accuracy (the fraction of outputs that are exactly the target), the book's measure for the
synthetic tasks. The paper reports BLEU on translation (section 6.1, Table 2); `corpus_bleu` computes it for
token lists. For a task with one right answer, exact match is the stricter and simpler measure.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from .checks import check_int, check_model, check_text_pairs, check_texts, check_tokenizer_pair
from .config import PAD_ID
from .data import iterate_batches
from .decoding import default_max_len, greedy_decode
from .devices import model_device
from .label_smoothing import LabelSmoothingLoss
from .tokenizer import Tokenizer


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches, smoothing: float = 0.1) -> float:
    """Label-smoothed loss per target token over held-out batches, with dropout off (teacher forcing)."""
    loss_fn = LabelSmoothingLoss(smoothing, ignore_index=PAD_ID, reduction="sum")
    was_training, total, tokens = model.training, 0.0, 0
    model.eval()
    for batch in batches:
        batch = batch.to(model_device(model))
        total += float(loss_fn(model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask), batch.tgt_out))
        tokens += batch.n_tokens
    model.train(was_training)
    return total / max(tokens, 1)


def _greedy_ids(model: nn.Module, sources: list[str], src_tokenizer: Tokenizer, batch_size: int,
                max_len: int | None, use_cache: bool) -> list[tuple[list[int], bool]]:
    """Greedy decoding of every source: (target ids before EOS, whether EOS came) for each, in order."""
    check_model(model)
    check_int("batch_size", batch_size, 1)
    encoded = [src_tokenizer.encode(text) for text in sources]
    if not all(encoded):
        raise ValueError(f"source {encoded.index([])} ({sources[encoded.index([])]!r}) has no tokens")
    results, eos_id, device = [], model.config.eos_id, model_device(model)
    for start in range(0, len(encoded), batch_size):
        rows = [torch.tensor(ids, device=device) for ids in encoded[start:start + batch_size]]
        src = pad_sequence(rows, batch_first=True, padding_value=model.config.pad_id)  # (b, S)
        out = greedy_decode(model, src, max_len=max_len, use_cache=use_cache)  # (b, 1 + n), BOS first
        for row in out[:, 1:].tolist():
            n = row.index(eos_id) if eos_id in row else len(row)
            results.append((row[:n], n < len(row)))
    return results


def predict(model: nn.Module, sources: list[str], src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer,
            batch_size: int = 500, max_len: int | None = None) -> list[str]:
    """The greedy translation of each source text. max_len None: longest source + 50 tokens (section 6.1),
    at most the model's config.max_len."""
    sources = check_texts(sources, "sources")
    src_tokenizer, tgt_tokenizer = check_tokenizer_pair((src_tokenizer, tgt_tokenizer))
    check_model(model)
    if max_len is None:
        max_len = default_max_len(max(len(src_tokenizer.encode(s)) for s in sources), model.config.max_len)
    return [tgt_tokenizer.decode(ids) for ids, _ in _greedy_ids(model, sources, src_tokenizer, batch_size,
                                                                max_len, use_cache=True)]


def exact_match(model: nn.Module, pairs: list[tuple[str, str]], src_tokenizer: Tokenizer,
                tgt_tokenizer: Tokenizer, batch_size: int = 500, use_cache: bool = True) -> float:
    """Fraction of (source, target) pairs whose greedy decoding is exactly the target's tokens followed by EOS.

    Decoding stops after (longest target + 1) tokens: an output that has not ended by then is wrong anyway,
    so the limit changes no verdict and saves time on an untrained model that never says EOS.
    """
    pairs = check_text_pairs(pairs)
    src_tokenizer, tgt_tokenizer = check_tokenizer_pair((src_tokenizer, tgt_tokenizer))
    check_model(model)
    targets = [tgt_tokenizer.encode(target) for _, target in pairs]
    max_len = min(max(len(t) for t in targets) + 1, model.config.max_len)
    outputs = _greedy_ids(model, [source for source, _ in pairs], src_tokenizer, batch_size, max_len, use_cache)
    return sum(ended and ids == target for (ids, ended), target in zip(outputs, targets)) / len(pairs)


def held_out_evaluator(pairs: list[tuple[str, str]], tokenizers, batch_size: int = 500,
                       smoothing: float = 0.1) -> Callable[[nn.Module], dict]:
    """An eval_fn for train(): {"loss": held-out loss per token, "exact_match": fraction exactly right}."""
    src_tokenizer, tgt_tokenizer = check_tokenizer_pair(tokenizers)
    batches = list(iterate_batches(list(pairs), src_tokenizer, tgt_tokenizer, batch_size))  # validates pairs

    def evaluate(model: nn.Module) -> dict:
        return {"loss": evaluate_loss(model, batches, smoothing),
                "exact_match": exact_match(model, pairs, src_tokenizer, tgt_tokenizer, batch_size)}
    return evaluate


def _ngrams(tokens: list, n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(candidates: list[list], references: list[list], max_n: int = 4, return_parts: bool = False):
    """BLEU (Papineni, Roukos, Ward and Zhu, 2002) of a corpus: one candidate token list and one reference token
    list per sentence; no smoothing; a number in [0, 1] (papers report it times 100).

    p_n, for n = 1 .. max_n, is the modified n-gram precision over the whole corpus: each candidate n-gram counts
    at most as often as it occurs in its reference (clipping), summed over all sentences, divided by the number of
    candidate n-grams. BLEU = BP * exp(mean of log p_n), with the brevity penalty BP = exp(1 - r / c) when the
    candidates' total length c is below the references' total length r, else 1. Any p_n = 0 gives 0.
    With return_parts=True: (bleu, {"precisions", "brevity_penalty", "candidate_length", "reference_length"}).
    """
    if not isinstance(candidates, (list, tuple)) or not isinstance(references, (list, tuple)):
        raise ValueError(f"candidates and references must be lists of token lists, got "
                         f"{type(candidates).__name__} and {type(references).__name__}")
    if len(candidates) != len(references) or not candidates:
        raise ValueError(f"need one reference per candidate and at least one pair, got {len(candidates)} "
                         f"candidates and {len(references)} references")
    for name, rows in (("candidate", candidates), ("reference", references)):
        for i, row in enumerate(rows):
            if isinstance(row, str) or not isinstance(row, (list, tuple)):
                raise ValueError(f"{name} {i} must be a list of tokens, got {type(row).__name__} (split text first)")
    check_int("max_n", max_n)
    matches, totals = [0] * max_n, [0] * max_n
    for candidate, reference in zip(candidates, references):
        for n in range(1, max_n + 1):
            counts, allowed = _ngrams(list(candidate), n), _ngrams(list(reference), n)
            matches[n - 1] += sum(min(count, allowed[gram]) for gram, count in counts.items())  # clipped
            totals[n - 1] += max(len(candidate) - n + 1, 0)
    c, r = sum(len(x) for x in candidates), sum(len(x) for x in references)
    precisions = [m / t if t else 0.0 for m, t in zip(matches, totals)]
    brevity_penalty = 1.0 if c > r else (math.exp(1 - r / c) if c else 0.0)
    score = 0.0 if min(precisions) == 0 else brevity_penalty * math.exp(sum(map(math.log, precisions)) / max_n)
    if not return_parts:
        return score
    return score, {"precisions": precisions, "brevity_penalty": brevity_penalty, "candidate_length": c,
                   "reference_length": r}
