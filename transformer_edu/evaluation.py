"""Measuring a trained model on held-out examples: the loss with teacher forcing, greedy predictions, and the
exact-match accuracy (the fraction of outputs that are exactly the target), the book's measure for the
synthetic tasks. The paper reports BLEU on translation (section 6.1); for a task with one right answer,
exact match is the stricter and simpler measure.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from .checks import check_int
from .data import iterate_batches
from .decoding import default_max_len, greedy_decode
from .label_smoothing import LabelSmoothingLoss
from .model import Transformer
from .tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


def _check_tokenizers(tokenizers) -> tuple[Tokenizer, Tokenizer]:
    if not (isinstance(tokenizers, (tuple, list)) and len(tokenizers) == 2
            and all(isinstance(t, Tokenizer) for t in tokenizers)):
        raise ValueError(f"tokenizers must be a (source, target) pair of transformer_edu Tokenizers, "
                         f"got {tokenizers!r:.80}")
    return tokenizers[0], tokenizers[1]


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches, smoothing: float = 0.1) -> float:
    """Label-smoothed loss per target token over held-out batches, with dropout off (teacher forcing)."""
    loss_fn = LabelSmoothingLoss(smoothing, ignore_index=PAD_ID, reduction="sum")
    was_training, total, tokens = model.training, 0.0, 0
    model.eval()
    for batch in batches:
        total += float(loss_fn(model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask), batch.tgt_out))
        tokens += batch.n_tokens
    model.train(was_training)
    return total / max(tokens, 1)


def _check_texts(texts, name: str) -> list[str]:
    if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a non-empty list of str, got {texts!r:.80}")
    return list(texts)


def _check_model(model) -> None:
    if not isinstance(model, Transformer):
        raise ValueError(f"model must be a transformer_edu Transformer, got {type(model).__name__}")


def _greedy_ids(model: Transformer, sources: list[str], src_tokenizer: Tokenizer, batch_size: int,
                max_len: int | None, use_cache: bool) -> list[tuple[list[int], bool]]:
    """Greedy decoding of every source: (target ids before EOS, whether EOS came) for each, in order."""
    _check_model(model)
    check_int("batch_size", batch_size, 1)
    encoded = [src_tokenizer.encode(text) for text in sources]
    if not all(encoded):
        raise ValueError(f"source {encoded.index([])} ({sources[encoded.index([])]!r}) has no tokens")
    results = []
    for start in range(0, len(encoded), batch_size):
        rows = [torch.tensor(ids) for ids in encoded[start:start + batch_size]]
        src = pad_sequence(rows, batch_first=True, padding_value=PAD_ID)  # (b, S)
        out = greedy_decode(model, src, max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID,
                            use_cache=use_cache)  # (b, 1 + n), BOS first
        for row in out[:, 1:].tolist():
            n = row.index(EOS_ID) if EOS_ID in row else len(row)
            results.append((row[:n], n < len(row)))
    return results


def predict(model: Transformer, sources: list[str], src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer,
            batch_size: int = 500, max_len: int | None = None) -> list[str]:
    """The greedy translation of each source text. max_len None: longest source + 50 tokens (section 6.1),
    at most the model's config.max_len."""
    sources = _check_texts(sources, "sources")
    src_tokenizer, tgt_tokenizer = _check_tokenizers((src_tokenizer, tgt_tokenizer))
    _check_model(model)
    if max_len is None:
        max_len = default_max_len(max(len(src_tokenizer.encode(s)) for s in sources), model.config.max_len)
    return [tgt_tokenizer.decode(ids) for ids, _ in _greedy_ids(model, sources, src_tokenizer, batch_size,
                                                                max_len, use_cache=True)]


def exact_match(model: Transformer, pairs: list[tuple[str, str]], src_tokenizer: Tokenizer,
                tgt_tokenizer: Tokenizer, batch_size: int = 500, use_cache: bool = True) -> float:
    """Fraction of (source, target) pairs whose greedy decoding is exactly the target's tokens followed by EOS.

    Decoding stops after (longest target + 1) tokens: an output that has not ended by then is wrong anyway,
    so the limit changes no verdict and saves time on an untrained model that never says EOS.
    """
    if not isinstance(pairs, (list, tuple)) or not pairs or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in pairs):
        raise ValueError(f"pairs must be a non-empty list of (source, target) str pairs, got {pairs!r:.80}")
    src_tokenizer, tgt_tokenizer = _check_tokenizers((src_tokenizer, tgt_tokenizer))
    _check_model(model)
    targets = [tgt_tokenizer.encode(target) for _, target in pairs]
    max_len = min(max(len(t) for t in targets) + 1, model.config.max_len)
    outputs = _greedy_ids(model, [source for source, _ in pairs], src_tokenizer, batch_size, max_len, use_cache)
    return sum(ended and ids == target for (ids, ended), target in zip(outputs, targets)) / len(pairs)


def held_out_evaluator(pairs: list[tuple[str, str]], tokenizers, batch_size: int = 500,
                       smoothing: float = 0.1) -> Callable[[Transformer], dict]:
    """An eval_fn for train(): {"loss": held-out loss per token, "exact_match": fraction exactly right}."""
    src_tokenizer, tgt_tokenizer = _check_tokenizers(tokenizers)
    batches = list(iterate_batches(list(pairs), src_tokenizer, tgt_tokenizer, batch_size))  # validates pairs

    def evaluate(model: Transformer) -> dict:
        return {"loss": evaluate_loss(model, batches, smoothing),
                "exact_match": exact_match(model, pairs, src_tokenizer, tgt_tokenizer, batch_size)}
    return evaluate
