"""Training: label smoothing (paper section 5.4), Adam with the warm-up schedule (section 5.3), the loop,
and exact-match evaluation with greedy decoding.

Label smoothing. Instead of the one-hot target, the loss compares the model's distribution p with
    q(k) = (1 - eps) * [k = y] + eps / V        for every class k of the V-token vocabulary,
eps = eps_ls = 0.1 in the paper (Szegedy et al., 2016, spread the mass uniformly over all classes, the
true one and PAD included). The loss is the cross-entropy H(q, p) = -sum_k q(k) log p(k), averaged over
the target positions that are not padding. This is exactly what
F.cross_entropy(logits, y, label_smoothing=eps, ignore_index=PAD) computes. It equals KL(q || p) plus the
entropy H(q), a constant, so its minimum is H(q) > 0, not 0. (The Annotated Transformer spreads eps over
the V - 2 classes other than the true one and PAD, and reports KL(q || p), which is 0 at best: a slightly
different q, and smaller numbers.) The paper notes that label smoothing hurts perplexity, "as the model
learns to be more unsure", but improves accuracy and BLEU.

Schedule (equation 3), with Adam beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9:
    lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5),    warmup_steps = 4000
a linear rise for warmup_steps steps, then decay with the inverse square root of the step number; the peak,
at step = warmup_steps, is (d_model * warmup_steps)^-0.5. `factor` multiplies it (1 in the paper).
"""
from __future__ import annotations

import time
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from .checkpoint import save_checkpoint
from .data import Seq2SeqBatch, iterate_batches
from .decoding import greedy_decode
from .model import Transformer
from .tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


class LabelSmoothingLoss(nn.Module):
    """Cross-entropy against the smoothed target q above, ignoring `ignore_index` positions.

    Shapes: logits (..., V) float, target (...) integer ids -> scalar (mean over non-ignored positions),
    or with reduction="sum" their sum. smoothing=0 gives the ordinary cross-entropy.
    """

    def __init__(self, smoothing: float = 0.1, ignore_index: int = PAD_ID, reduction: str = "mean"):
        super().__init__()
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be a number in [0, 1) (the paper uses 0.1), got {smoothing!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.smoothing, self.ignore_index, self.reduction = float(smoothing), ignore_index, reduction

    def smoothed_target(self, target: Tensor, vocab_size: int) -> Tensor:
        """q as a tensor. Shapes: target (N,) -> (N, V), each row sums to 1."""
        q = torch.full((target.shape[0], vocab_size), self.smoothing / vocab_size)  # (N, V): eps / V everywhere
        return q.scatter_add(1, target[:, None], torch.full((target.shape[0], 1), 1.0 - self.smoothing))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point or logits.dim() < 2:
            got = f"{logits.dtype}, shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(f"logits must be a float tensor of shape (..., V), got {got}")
        if not isinstance(target, Tensor) or target.dtype.is_floating_point or target.shape != logits.shape[:-1]:
            got = f"{target.dtype}, shape {tuple(target.shape)}" if isinstance(target, Tensor) else type(target).__name__
            raise ValueError(f"target must be integer ids of shape {tuple(logits.shape[:-1])} "
                             f"(the logits' shape without V), got {got}")
        vocab_size = logits.shape[-1]
        log_p = torch.log_softmax(logits.reshape(-1, vocab_size), dim=-1)  # (N, V)
        target = target.reshape(-1)  # (N,)
        keep = target != self.ignore_index  # (N,) positions that count
        if bool(((target < 0) | (target >= vocab_size))[keep].any()):
            raise ValueError(f"target ids must be in [0, {vocab_size - 1}] (or ignore_index), got values from "
                             f"{int(target[keep].min())} to {int(target[keep].max())}")
        log_p, target = log_p[keep], target[keep]  # (N', V), (N',)
        nll = -log_p.gather(1, target[:, None])[:, 0]  # (N',) -log p(y): the one-hot part
        uniform = -log_p.mean(dim=1)  # (N',) -sum_k (1 / V) log p(k): the uniform part
        losses = (1.0 - self.smoothing) * nll + self.smoothing * uniform  # (N',) = -sum_k q(k) log p(k)
        if self.reduction == "sum":
            return losses.sum()
        return losses.mean() if losses.numel() else losses.sum()  # no real token: 0, not NaN


def noam_lr(step: int, d_model: int, warmup_steps: int = 4000, factor: float = 1.0) -> float:
    """Equation 3: factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5), for step >= 1."""
    for name, value in (("step", step), ("d_model", d_model), ("warmup_steps", warmup_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1 (the paper counts steps from 1), got {value!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"factor must be a number > 0, got {factor!r}")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


def make_optimizer(model: nn.Module, d_model: int | None = None, warmup_steps: int = 4000, factor: float = 1.0,
                   betas: tuple[float, float] = (0.9, 0.98), eps: float = 1e-9):
    """Adam as in section 5.3 and a LambdaLR that sets its learning rate to noam_lr.

    Returns (optimizer, scheduler); call scheduler.step() after each optimizer.step(). LambdaLR counts
    from 0, so update number n (from 1) uses noam_lr(n). d_model defaults to model.config.d_model.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if d_model is None:
        if not hasattr(model, "config"):
            raise ValueError("pass d_model: the model has no .config to read it from")
        d_model = model.config.d_model
    noam_lr(1, d_model, warmup_steps, factor)  # validates the arguments
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=betas, eps=eps)  # lr = 1 x the lambda
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: noam_lr(i + 1, d_model, warmup_steps, factor))
    return optimizer, scheduler


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_tokenizers(tokenizers) -> tuple[Tokenizer, Tokenizer]:
    if not (isinstance(tokenizers, (tuple, list)) and len(tokenizers) == 2
            and all(isinstance(t, Tokenizer) for t in tokenizers)):
        raise ValueError(f"tokenizers must be a (source, target) pair of transformer_edu Tokenizers, "
                         f"got {tokenizers!r:.80}")
    return tokenizers[0], tokenizers[1]


def _batch_stream(data: list, tokenizers, batch_size: int, generator: torch.Generator):
    """Batches without end; each pass over `data` visits it in a new order drawn from `generator`."""
    while True:
        if isinstance(data[0], Seq2SeqBatch):
            yield from (data[i] for i in torch.randperm(len(data), generator=generator).tolist())
        else:
            seed = int(torch.randint(2 ** 31 - 1, (), generator=generator))
            yield from iterate_batches(data, *tokenizers, batch_size, shuffle=True, seed=seed)


def train_step(model: nn.Module, batch: Seq2SeqBatch, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler=None, clip_grad_norm: float | None = None) -> float:
    """One update: forward pass with teacher forcing, loss, backward pass, optimizer and schedule step.
    Returns the loss before the update."""
    model.train()  # dropout on
    logits = model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask)  # (B, T, V)
    loss = loss_fn(logits, batch.tgt_out)  # mean over the real (non-PAD) target tokens
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)  # not in the paper
    optimizer.step()
    if scheduler is not None:
        scheduler.step()  # the learning rate for the next update
    return loss.item()


def _check_train_settings(model, data, tokenizers, steps, batch_size, eval_every, eval_fn, stop_when,
                          checkpoint_every, checkpoint_path, clip_grad_norm, seed):
    """Validate train()'s arguments; return the (source, target) tokenizers or None."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module (a Transformer), got {type(model).__name__}")
    if getattr(getattr(model, "config", None), "pad_id", PAD_ID) != PAD_ID:
        raise ValueError(f"the data pads with id {PAD_ID}, but the model's config.pad_id is {model.config.pad_id}")
    for name, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1), ("eval_every", eval_every, 0),
                             ("checkpoint_every", checkpoint_every, 0), ("seed", seed, 0)):
        _check_int(name, value, low)
    if isinstance(data, (list, tuple)) and data and all(isinstance(item, Seq2SeqBatch) for item in data):
        tokenizers = None if tokenizers is None else _check_tokenizers(tokenizers)
    elif isinstance(data, (list, tuple)) and data and all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in data):
        tokenizers = _check_tokenizers(tokenizers)
    else:
        raise ValueError(f"data must be a non-empty list of (source, target) str pairs or of Seq2SeqBatch, "
                         f"got {data!r:.80}")
    if eval_fn is not None and not callable(eval_fn) or stop_when is not None and not callable(stop_when):
        raise ValueError(f"eval_fn and stop_when must be callables, got {eval_fn!r:.60} and {stop_when!r:.60}")
    if (eval_every or stop_when is not None) and eval_fn is None:
        raise ValueError("eval_every > 0 and stop_when need an eval_fn to compute the held-out metrics")
    if checkpoint_every and (checkpoint_path is None or tokenizers is None):
        raise ValueError("checkpoint_every > 0 needs a checkpoint_path and the tokenizers to store with the model")
    if clip_grad_norm is not None and (isinstance(clip_grad_norm, bool) or not isinstance(clip_grad_norm, (int, float))
                                       or not clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be None or a number > 0, got {clip_grad_norm!r}")
    return tokenizers


def train(model: nn.Module, data: list, *, steps: int, tokenizers=None, batch_size: int = 64,
          warmup_steps: int = 4000, lr_factor: float = 1.0, smoothing: float = 0.1, optimizer=None, scheduler=None,
          clip_grad_norm: float | None = None, eval_every: int = 0, eval_fn: Callable | None = None,
          stop_when: Callable[[dict], bool] | None = None, checkpoint_every: int = 0, checkpoint_path=None,
          seed: int = 0, progress: bool = True) -> dict[str, list]:
    """Train for `steps` updates; return the history.

    data: (source, target) text pairs, batched `batch_size` at a time with `tokenizers` = (source, target)
    tokenizers, or a list of ready Seq2SeqBatch objects. Each pass over the data takes a new random order.
    Optimizer: Adam with the warm-up schedule (make_optimizer(model, warmup_steps=..., factor=lr_factor)) unless
    `optimizer` (and `scheduler`) are given. Loss: LabelSmoothingLoss(smoothing), per target token.
    clip_grad_norm: rescale the gradient to at most this norm (not in the paper; off by default).
    Every `eval_every` steps, and after the last one, eval_fn(model) returns a dict of held-out metrics
    (e.g. held_out_evaluator(...)); training stops early when stop_when(metrics) is True. Every
    `checkpoint_every` steps, and at the end, the model is saved to `checkpoint_path` (needs `tokenizers`).
    Reproducible on CPU for a given `seed` (and thread count): it seeds dropout and the data order.

    history: "step", "train_loss", "lr" (the rate that step used), "train_seconds" (time spent in updates so
    far, evaluation excluded), one entry per step; "val_<metric>": lists of (step, value) pairs.
    """
    tokenizers = _check_train_settings(model, data, tokenizers, steps, batch_size, eval_every, eval_fn, stop_when,
                                       checkpoint_every, checkpoint_path, clip_grad_norm, seed)
    if optimizer is None:
        optimizer, scheduler = make_optimizer(model, warmup_steps=warmup_steps, factor=lr_factor)
    loss_fn = LabelSmoothingLoss(smoothing, ignore_index=PAD_ID)
    torch.manual_seed(seed)  # dropout masks
    batches = _batch_stream(list(data), tokenizers, batch_size, torch.Generator().manual_seed(seed))  # data order
    history: dict[str, list] = {"step": [], "train_loss": [], "lr": [], "train_seconds": []}
    from tqdm.auto import tqdm  # imported here: importing the package stays quiet and light
    bar = tqdm(total=steps, desc="training", disable=not progress)
    seconds = 0.0
    for step in range(1, steps + 1):
        start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
        loss = train_step(model, next(batches), loss_fn, optimizer, scheduler, clip_grad_norm)
        seconds += time.perf_counter() - start
        for key, value in (("step", step), ("train_loss", loss), ("lr", lr), ("train_seconds", seconds)):
            history[key].append(value)
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        stop = False
        if eval_fn is not None and (eval_every and step % eval_every == 0 or step == steps):
            metrics = eval_fn(model)
            if not isinstance(metrics, dict):
                raise ValueError(f"eval_fn must return a dict of metric name -> number, got {type(metrics).__name__}")
            for name, value in metrics.items():
                history.setdefault(f"val_{name}", []).append((step, float(value)))
            bar.set_postfix({"loss": f"{loss:.3f}", **{f"val_{k}": f"{float(v):.3f}" for k, v in metrics.items()}})
            stop = stop_when is not None and bool(stop_when(metrics))
        if checkpoint_every and (step % checkpoint_every == 0 or step == steps or stop):
            save_checkpoint(checkpoint_path, model, tokenizers=tokenizers, extra={"step": step, "seed": seed})
        if stop:
            break
    bar.close()
    return history


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
    _check_int("batch_size", batch_size, 1)
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
        max_len = min(max(len(src_tokenizer.encode(s)) for s in sources) + 50, model.config.max_len)
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
