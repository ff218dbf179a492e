"""Training (paper section 5): Adam with the warm-up schedule (section 5.3) and the training loop.

Schedule (equation 3), with Adam beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9:
    lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5),    warmup_steps = 4000
a linear rise for warmup_steps steps, then decay with the inverse square root of the step number; the peak,
at step = warmup_steps, is (d_model * warmup_steps)^-0.5. `factor` multiplies it (1 in the paper).

The loss, label-smoothed cross-entropy (section 5.4), is in label_smoothing.py; held-out evaluation
(loss, greedy predictions, exact match) in evaluation.py. Both are re-exported here.

The same loop trains a decoder-only language model (gpt.GPT, Part IV) on a stream of token ids: each step
draws an LMBatch of windows (lm_data.lm_batch) in which position t predicts token t + 1. Its usual optimizer
is later practice, not the paper's: AdamW (Loshchilov and Hutter, 2019), weight decay on the weight matrices
only (as GPT-1 did: "all non bias or gain weights"), a linear warm-up and, optionally, a cosine decay (GPT-1
annealed to 0 with a cosine; nanoGPT to a tenth of the peak): make_adamw and warmup_cosine_lr below.

Several processes (`torchrun`, distributed data parallel): when torch.distributed is initialized with more
than one process, train() wraps the model in DistributedDataParallel. Every process draws the same batches
(the same seed) and keeps its own share of each batch's rows (shard_batch); the gradients are averaged across
the processes after each backward pass, with each process's loss scaled so that the update equals one process
training on the whole batch. Only rank 0 shows progress and writes checkpoints. The paper trained on 8 GPUs in
the same way: each GPU a share of every batch of about 25,000 source and 25,000 target tokens (section 5.1).
"""
from __future__ import annotations

import math
import time
from typing import Callable

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import save_checkpoint
from .checks import (NonFiniteError, check_int, check_model, check_number, check_text_pairs, check_tokenizer_pair,
                     is_finite, is_number, non_finite_parameters)
from .config import PAD_ID
from .data import Seq2SeqBatch, iterate_batches
from .devices import model_device
from .evaluation import evaluate_loss, exact_match, held_out_evaluator, predict  # noqa: F401 (re-exported)
from .label_smoothing import LabelSmoothingLoss
from .lm_data import LMBatch, check_language_model, check_lm_ids, lm_batch


def noam_lr(step: int, d_model: int, warmup_steps: int = 4000, factor: float = 1.0) -> float:
    """Equation 3: factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5), for step >= 1."""
    for name, value in (("step", step), ("d_model", d_model), ("warmup_steps", warmup_steps)):
        check_int(name, value, why=" (the paper counts steps from 1)")
    if not is_number(factor) or not factor > 0:
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


def warmup_cosine_lr(step: int, peak_lr: float, warmup_steps: int, decay_steps: int | None = None,
                     min_lr: float = 0.0) -> float:
    """Later practice, not equation 3: peak_lr * step / warmup_steps for the first warmup_steps steps (from 1),
    then peak_lr; with decay_steps, a cosine fall from peak_lr to min_lr between warmup_steps and decay_steps,
    then min_lr. (GPT-1: warm-up 2000 steps, cosine to 0; nanoGPT's Shakespeare: 100 steps, cosine to peak/10.)"""
    check_int("step", step, why=" (steps count from 1)")
    check_int("warmup_steps", warmup_steps)
    check_number("peak_lr", peak_lr, 0, low_open=True)
    if not (is_number(min_lr) and 0 <= min_lr <= peak_lr):
        raise ValueError(f"min_lr must be a number in [0, peak_lr={peak_lr}], got {min_lr!r}")
    if decay_steps is not None:
        check_int("decay_steps", decay_steps, warmup_steps + 1, why=" (after the warm-up; None: no decay)")
    if step <= warmup_steps:
        return peak_lr * step / warmup_steps
    if decay_steps is None:
        return peak_lr
    progress = min(1.0, (step - warmup_steps) / (decay_steps - warmup_steps))  # 0 -> 1 over the decay
    return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_adamw(model: nn.Module, peak_lr: float = 1e-3, warmup_steps: int = 100, decay_steps: int | None = None,
               min_lr: float = 0.0, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.99),
               eps: float = 1e-8):
    """AdamW with the schedule warmup_cosine_lr (later practice, not the paper's Adam and equation 3).

    Returns (optimizer, scheduler), as make_optimizer does; call scheduler.step() after each optimizer.step().
    Weight decay applies to the weight matrices (and embedding tables), not to biases and LayerNorm gains, as
    in GPT-1. Defaults: nanoGPT's character-level Shakespeare (peak 1e-3, 100 warm-up steps, betas (0.9, 0.99),
    decay 0.1); the paper's Adam had betas (0.9, 0.98) and eps 1e-9.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    warmup_cosine_lr(1, peak_lr, warmup_steps, decay_steps, min_lr)  # validates the schedule's arguments
    check_number("weight_decay", weight_decay, 0)
    matrices = [p for p in model.parameters() if p.dim() >= 2]  # a tied matrix is listed once
    others = [p for p in model.parameters() if p.dim() < 2]  # biases, LayerNorm gains and shifts
    groups = [{"params": matrices, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=1.0, betas=betas, eps=eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # lr = 1 x the lambda, as in make_optimizer
        optimizer, lambda i: warmup_cosine_lr(i + 1, peak_lr, warmup_steps, decay_steps, min_lr))
    return optimizer, scheduler


def _batch_stream(data, tokenizers, batch_size: int, block_size: int | None, generator: torch.Generator):
    """Batches without end: random windows of a 1-D tensor of token ids (a language model's text), drawn
    by `generator`; or passes over `data`, each in a new order drawn from `generator`."""
    while isinstance(data, Tensor):
        yield lm_batch(data, block_size, batch_size, generator)  # (B, T) inputs and targets
    while True:
        if isinstance(data[0], (Seq2SeqBatch, LMBatch)):
            order = torch.randperm(len(data), generator=generator, device=generator.device)
            yield from (data[i] for i in order.tolist())
        else:
            seed = int(torch.randint(2 ** 31 - 1, (), generator=generator, device=generator.device))
            yield from iterate_batches(data, *tokenizers, batch_size, shuffle=True, seed=seed)


DIVERGENCE_CAUSES = ("Usual causes: a learning rate too high (lower lr_factor), too short a warm-up, a float16 "
                     "overflow (train in float32 or bfloat16), or a bad batch (check its inputs)")


def _check_loss(loss: torch.Tensor) -> None:
    """NonFiniteError if the loss is NaN or inf: backward would carry it into every weight."""
    if not is_finite(loss):
        raise NonFiniteError(f"the loss is {loss.item()}, so the weights were left as they were before this "
                             f"update. {DIVERGENCE_CAUSES}")


def move_batch(batch: Seq2SeqBatch | LMBatch, device: torch.device) -> Seq2SeqBatch | LMBatch:
    """The batch with every tensor on `device` (the same object if it is there already)."""
    if isinstance(batch, LMBatch):
        return batch if batch.inputs.device == device else LMBatch(*(t.to(device) for t in batch))
    return batch if batch.src.device == device else batch.to(device)


def train_step(model: nn.Module, batch: Seq2SeqBatch | LMBatch,
               loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler=None, clip_grad_norm: float | None = None) -> float:
    """One update: forward pass, loss, backward pass, optimizer and schedule step.
    A Seq2SeqBatch trains an encoder-decoder with teacher forcing; an LMBatch a
    language model (chapter 15). Returns the loss before the update; a NaN or
    infinite loss raises NonFiniteError instead of updating."""
    model.train()  # dropout on
    batch = move_batch(batch, model_device(model))  # batches are built on the CPU
    if isinstance(batch, LMBatch):  # a decoder-only language model
        logits = model(batch.inputs)  # (B, T, V): position t reads tokens 0 .. t
        targets = batch.targets  # (B, T): the token after each input
    else:  # an encoder-decoder, with teacher forcing
        logits = model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask)
        targets = batch.tgt_out  # (B, T): logits are (B, T, V)
    loss = loss_fn(logits, targets)  # mean over the real (non-PAD) targets
    _check_loss(loss)  # stop before a NaN or inf reaches the weights
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm is not None:  # not in the paper
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()  # the learning rate for the next update
    return loss.item()


def distributed_rank_and_size() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless torch.distributed is initialized (torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_batch(batch: Seq2SeqBatch | LMBatch, rank: int, world_size: int) -> Seq2SeqBatch | LMBatch:
    """Process `rank`'s share of a batch: rows rank, rank + world_size, ... (the batch needs at least
    world_size rows). The padding width stays that of the whole batch; padding never changes a real
    position's output, so the shares together compute what the whole batch does."""
    check_int("world_size", world_size, 1)
    check_int("rank", rank, 0, world_size - 1, f" (one of the {world_size} processes)")
    rows = len(batch.inputs) if isinstance(batch, LMBatch) else len(batch)
    if rows < world_size:
        raise ValueError(f"a batch of {rows} rows cannot be shared by {world_size} processes: use a batch size of "
                         f"at least {world_size}")
    if isinstance(batch, LMBatch):
        return LMBatch(batch.inputs[rank::world_size], batch.targets[rank::world_size])
    parts = [getattr(batch, name)[rank::world_size] for name in ("src", "tgt_in", "tgt_out", "src_mask")]
    tgt_mask = batch.tgt_mask[rank::world_size] if batch.tgt_mask.shape[0] > 1 else batch.tgt_mask
    return Seq2SeqBatch(*parts, tgt_mask, n_tokens=int((parts[2] != PAD_ID).sum()))


def _targets(batch: Seq2SeqBatch | LMBatch) -> int:
    """The targets the loss averages over: every position of an LMBatch, the non-PAD ones of a Seq2SeqBatch."""
    return batch.targets.numel() if isinstance(batch, LMBatch) else batch.n_tokens


def _distributed_step(ddp: DistributedDataParallel, batch: Seq2SeqBatch | LMBatch, loss_fn: nn.Module,
                      optimizer: torch.optim.Optimizer, scheduler, clip_grad_norm: float | None, rank: int,
                      world_size: int) -> float:
    """train_step's update with this process's share of the batch. DDP averages the gradients of the
    world_size processes, so each loss (a mean over its n_rank targets) is scaled by world_size * n_rank / n:
    the average is then the gradient of the whole batch's mean loss. Returns that mean loss."""
    model, total = ddp.module, _targets(batch)
    mine = move_batch(shard_batch(batch, rank, world_size), model_device(model))
    ddp.train()
    if isinstance(mine, LMBatch):
        logits, targets = ddp(mine.inputs), mine.targets
    else:
        logits, targets = ddp(mine.src, mine.tgt_in, mine.src_mask, mine.tgt_mask), mine.tgt_out
    loss = loss_fn(logits, targets) * (_targets(mine) / total)  # this share's part of the whole batch's mean
    whole = loss.detach().clone()
    dist.all_reduce(whole)  # the sum of the shares: the whole batch's mean loss
    _check_loss(whole)  # every process sees the same value, so all of them stop together
    optimizer.zero_grad(set_to_none=True)
    (loss * world_size).backward()  # DDP divides the summed gradients by world_size
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return whole.item()


def _check_lm_data(model, data, block_size) -> int:
    """Validate a language model's data (token ids or LMBatch objects); return the window length T."""
    check_language_model(model)
    vocab_size, max_len = model.config.vocab_size, model.config.max_len
    block_size = max_len if block_size is None else block_size
    check_int("block_size", block_size, 1, max_len, " (the window length T: at most the model's config.max_len)")
    if isinstance(data, Tensor):
        check_lm_ids(data, block_size, 1)
        low, high = (int(v) for v in torch.aminmax(data))
        if low < 0 or high >= vocab_size:
            raise ValueError(f"data must hold ids in [0, {vocab_size - 1}] for the model's vocabulary of {vocab_size},"
                             f" got values from {low} to {high} (encode the text with the model's tokenizer)")
    return block_size


def _check_train_settings(model, data, tokenizers, steps, batch_size, block_size, eval_every, eval_fn,
                          stop_when, checkpoint_every, checkpoint_path, clip_grad_norm, seed):
    """Validate train()'s arguments; return the (source, target) tokenizers or None, and the window length T
    of a language model's data (None for an encoder-decoder's)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module (a Transformer or a GPT), got {type(model).__name__}")
    if getattr(getattr(model, "config", None), "pad_id", PAD_ID) != PAD_ID:
        raise ValueError(f"the data pads with id {PAD_ID}, but the model's config.pad_id is {model.config.pad_id}")
    for name, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1), ("eval_every", eval_every, 0),
                             ("checkpoint_every", checkpoint_every, 0), ("seed", seed, 0)):
        check_int(name, value, low)
    ready = isinstance(data, (list, tuple)) and data and all(isinstance(item, Seq2SeqBatch) for item in data)
    ready_lm = isinstance(data, (list, tuple)) and data and all(isinstance(item, LMBatch) for item in data)
    if isinstance(data, Tensor) or ready_lm:  # a language model's text, as ids, or its batches
        block_size = _check_lm_data(model, data, block_size)
        tokenizers = None if tokenizers is None else check_tokenizer_pair(tokenizers)
    elif block_size is not None:
        raise ValueError(f"block_size is the window length of a language model's data (a 1-D tensor of token "
                         f"ids); an encoder-decoder's batches take their lengths from the data, got {block_size!r}")
    elif ready:
        check_model(model)
        tokenizers = None if tokenizers is None else check_tokenizer_pair(tokenizers)
    else:
        check_text_pairs(data, "data (source, target pairs, a non-empty list of Seq2SeqBatch, or a 1-D tensor of "
                               "token ids for a language model)")
        check_model(model)
        tokenizers = check_tokenizer_pair(tokenizers)
    if eval_fn is not None and not callable(eval_fn) or stop_when is not None and not callable(stop_when):
        raise ValueError(f"eval_fn and stop_when must be callables, got {eval_fn!r:.60} and {stop_when!r:.60}")
    if (eval_every or stop_when is not None) and eval_fn is None:
        raise ValueError("eval_every > 0 and stop_when need an eval_fn to compute the held-out metrics")
    if checkpoint_every and (checkpoint_path is None or tokenizers is None):
        raise ValueError("checkpoint_every > 0 needs a checkpoint_path and the tokenizers to store with the model")
    if clip_grad_norm is not None and (not is_number(clip_grad_norm) or not clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be None or a number > 0, got {clip_grad_norm!r}")
    return tokenizers, block_size


def train(model: nn.Module, data, *, steps: int, tokenizers=None, batch_size: int = 64, block_size: int | None = None,
          warmup_steps: int = 4000, lr_factor: float = 1.0, smoothing: float = 0.1, optimizer=None, scheduler=None,
          clip_grad_norm: float | None = None, eval_every: int = 0, eval_fn: Callable | None = None,
          stop_when: Callable[[dict], bool] | None = None, checkpoint_every: int = 0, checkpoint_path=None,
          seed: int = 0, progress: bool = True) -> dict[str, list]:
    """Train for `steps` updates; return the history.

    data, for an encoder-decoder (Transformer): (source, target) text pairs, batched `batch_size` at a time with
    `tokenizers` = (source, target) tokenizers, or a list of ready Seq2SeqBatch objects. Each pass over the data
    takes a new random order.
    data, for a decoder-only language model (gpt.GPT): the text as a 1-D tensor of token ids
    (lm_data.encode_corpus); each step draws `batch_size` windows of `block_size` tokens (default: the model's
    config.max_len) at random places (lm_data.lm_batch), or takes the next of a list of ready LMBatch objects.
    `tokenizers` (the one tokenizer, twice) are needed only to save checkpoints.
    Optimizer: Adam with the warm-up schedule (make_optimizer(model, warmup_steps=..., factor=lr_factor)) unless
    `optimizer` (and `scheduler`) are given, e.g. make_adamw(model) for a GPT.
    Loss: LabelSmoothingLoss(smoothing), per target token; a language model is trained with smoothing=0.0, the
    plain cross-entropy (GPT-1 and GPT-2 use no label smoothing), so its loss is in nats per token.
    clip_grad_norm: rescale the gradient to at most this norm (not in the paper; off by default).
    Every `eval_every` steps, and after the last one, eval_fn(model) returns a dict of held-out metrics
    (e.g. held_out_evaluator(...)); training stops early when stop_when(metrics) is True. Every
    `checkpoint_every` steps, and at the end, the model is saved to `checkpoint_path` (needs `tokenizers`).
    Reproducible on CPU for a given `seed` (and thread count): it seeds dropout and the data order.
    Under torchrun (torch.distributed initialized, world size > 1), each process trains on its share of every
    batch with DistributedDataParallel; see the module's docstring.
    A run that diverges stops with a NonFiniteError naming the step and the learning rate: at the first NaN
    or infinite loss or logits, and if the weights are not all finite at the end.

    history: "step", "train_loss", "lr" (the rate that step used), "train_seconds" (time spent in updates so
    far, evaluation excluded), one entry per step; "val_<metric>": lists of (step, value) pairs.
    """
    tokenizers, block_size = _check_train_settings(model, data, tokenizers, steps, batch_size, block_size, eval_every,
                                                   eval_fn, stop_when, checkpoint_every, checkpoint_path,
                                                   clip_grad_norm, seed)
    rank, world_size = distributed_rank_and_size()
    if optimizer is None:
        optimizer, scheduler = make_optimizer(model, warmup_steps=warmup_steps, factor=lr_factor)
    loss_fn = LabelSmoothingLoss(smoothing, ignore_index=PAD_ID)
    ddp = DistributedDataParallel(model) if world_size > 1 else None  # copies rank 0's weights to the others
    torch.manual_seed(seed + rank)  # dropout masks (each process its own)
    data = data if isinstance(data, Tensor) else list(data)
    batches = _batch_stream(data, tokenizers, batch_size, block_size, torch.Generator().manual_seed(seed))  # data order
    history: dict[str, list] = {"step": [], "train_loss": [], "lr": [], "train_seconds": []}
    from tqdm.auto import tqdm  # imported here: importing the package stays quiet and light
    bar = tqdm(total=steps, desc="training", disable=not progress or rank > 0)
    seconds, step, lr = 0.0, 0, optimizer.param_groups[0]["lr"]
    try:  # a NaN or inf met anywhere in a step (loss, logits, evaluation, checkpoint) names that step
        for step in range(1, steps + 1):
            start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
            if ddp is None:
                loss = train_step(model, next(batches), loss_fn, optimizer, scheduler, clip_grad_norm)
            else:
                loss = _distributed_step(ddp, next(batches), loss_fn, optimizer, scheduler, clip_grad_norm, rank,
                                         world_size)
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
                    raise ValueError(f"eval_fn must return a dict of metric name -> number, got "
                                     f"{type(metrics).__name__}")
                for name, value in metrics.items():
                    history.setdefault(f"val_{name}", []).append((step, float(value)))
                bar.set_postfix({"loss": f"{loss:.3f}", **{f"val_{k}": f"{float(v):.3f}" for k, v in metrics.items()}})
                stop = stop_when is not None and bool(stop_when(metrics))
            if checkpoint_every and rank == 0 and (step % checkpoint_every == 0 or step == steps or stop):
                save_checkpoint(checkpoint_path, model, tokenizers=tokenizers, extra={"step": step, "seed": seed})
            if stop:
                break
        broken = non_finite_parameters(model)  # the last update may have made them so (a NaN gradient)
        if broken:
            raise NonFiniteError(f"the weights are not all finite after the last update ({', '.join(broken[:5])}). "
                                 f"{DIVERGENCE_CAUSES}")
    except NonFiniteError as exc:
        raise NonFiniteError(f"training stopped at step {step} of {steps} (learning rate {lr:.3g}): {exc}") from None
    finally:
        bar.close()
    return history
