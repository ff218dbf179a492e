"""Train a Transformer on one of the book's tasks from the command line, and save it.

    python -m transformer_edu.train --task dates --steps 1500 --seed 0 --threads 1 \
        --out transformer_edu/checkpoints/dates.pt

prints the exact match on the held-out examples at the end and, with --out, writes the checkpoint and a
JSON file beside it (same name, .json) recording the command, seeds, steps, wall time, accuracy and versions.
The held-out set depends only on --task, --n-test and --data-seed, never on the training run, so
`make_dataset(task, 1, n_test, data_seed)[1]` rebuilds it (chapter 13 and tests/test_checkpoint.py do).
The command above makes the book's shipped dates checkpoint (transformer_edu/checkpoints/dates.json): the
defaults, on one thread. Run under the Makefile's kernel pin
(ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE, as `make` exports them), it gives the same bits on any x86-64 CPU
with AVX2; chapter 11 trains the same model in the same way and checks that it gets these weights.
"""
from __future__ import annotations

import argparse
import json
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
from .model import Transformer, count_parameters
from .training import exact_match, held_out_evaluator, train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m transformer_edu.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--task", choices=TASKS, default="dates", help="which synthetic task (transformer_edu.data)")
    add("--steps", type=int, default=1500, help="optimizer updates")
    add("--seed", type=int, default=0, help="seeds the weights, dropout and the order of the examples")
    add("--out", type=Path, default=None, help="checkpoint path (.pt); a .json with the run's record goes beside it")
    add("--d-model", type=int, default=64, help="d_model")
    add("--heads", type=int, default=4, help="attention heads h")
    add("--layers", type=int, default=2, help="encoder layers and decoder layers N (each)")
    add("--d-ff", type=int, default=256, help="inner width of the feed-forward networks")
    add("--dropout", type=float, default=0.1, help="P_drop (the paper: 0.1)")
    add("--smoothing", type=float, default=0.1, help="label smoothing eps_ls (the paper: 0.1)")
    add("--batch-size", type=int, default=128, help="examples per update")
    add("--warmup", type=int, default=400, help="warmup_steps of the schedule (the paper: 4000)")
    add("--lr-factor", type=float, default=0.5, help="multiplies the schedule's learning rate (the paper: 1)")
    add("--n-train", type=int, default=None, help="training examples (default: steps x batch size)")
    add("--n-test", type=int, default=1000, help="held-out examples, never seen in training")
    add("--data-seed", type=int, default=0, help="seeds the data set, held-out part included")
    add("--short-days", type=float, default=None,
        help="dates task: fraction of training dates with a one-digit day (default: uniform dates, about 0.3)")
    add("--eval-every", type=int, default=0, help="report held-out metrics every so many steps (0: only at the end)")
    add("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    add("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("steps", "d_model", "heads", "layers", "d_ff", "batch_size", "warmup", "n_test"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]  # other work on the machine slows the run down
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    n_train = args.n_train or args.steps * args.batch_size
    train_pairs, test_pairs = make_dataset(args.task, n_train, args.n_test, seed=args.data_seed,
                                           short_days=args.short_days)
    tokenizers = build_tokenizers(args.task)
    config = TransformerConfig(
        src_vocab_size=tokenizers[0].vocab_size, tgt_vocab_size=tokenizers[1].vocab_size, d_model=args.d_model,
        n_heads=args.heads, d_ff=args.d_ff, n_encoder_layers=args.layers, n_decoder_layers=args.layers,
        dropout=args.dropout, max_len=64)
    torch.manual_seed(args.seed)
    model = Transformer(config)
    print(f"{args.task}: {len(train_pairs)} training and {len(test_pairs)} held-out examples; "
          f"model with {count_parameters(model):,} parameters; {torch.get_num_threads()} threads")
    evaluate = held_out_evaluator(test_pairs, tokenizers) if args.eval_every else None
    history = train(model, train_pairs, tokenizers=tokenizers, steps=args.steps, batch_size=args.batch_size,
                    warmup_steps=args.warmup, lr_factor=args.lr_factor, smoothing=args.smoothing,
                    eval_every=args.eval_every, eval_fn=evaluate, seed=args.seed, progress=not args.no_progress)
    for step, value in history.get("val_exact_match", []):
        print(f"  step {step:>5}: held-out exact match {value:.3f}")
    accuracy = exact_match(model, test_pairs, *tokenizers)
    wall = time.perf_counter() - start  # data, model, training, evaluation: the whole run
    print(f"{args.steps} steps; {wall:.1f} s in all, {history['train_seconds'][-1]:.1f} s of them in the updates; "
          f"held-out exact match on {len(test_pairs)} examples: {accuracy:.4f}")
    record = {
        "command": "python -m transformer_edu.train " + shlex.join(sys.argv[1:] if argv is None else argv),
        "task": args.task, "seed": args.seed, "data_seed": args.data_seed, "short_days": args.short_days,
        "steps": args.steps,
        "n_train": len(train_pairs), "n_test": len(test_pairs), "config": config.to_dict(),
        "training": {"batch_size": args.batch_size, "warmup_steps": args.warmup, "lr_factor": args.lr_factor,
                     "smoothing": args.smoothing, "optimizer": "Adam(0.9, 0.98, eps=1e-9), noam_lr schedule"},
        "held_out_exact_match": accuracy, "final_train_loss": round(history["train_loss"][-1], 4),
        "wall_seconds": round(wall, 1), "update_seconds": round(history["train_seconds"][-1], 1),
        "load_average_before": round(load_before, 2), "threads": torch.get_num_threads(),
        "kernel_pin": {name: os.environ.get(name) for name in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")},
        "torch": str(torch.__version__), "python": platform.python_version(),
    }
    if args.out is not None:
        extra = {k: v for k, v in record.items() if k != "config"}  # the config is stored on its own
        save_checkpoint(args.out, model, tokenizers=tokenizers, extra=extra)
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {args.out.with_suffix('.json')}")
    return record


if __name__ == "__main__":
    main()
