"""Which training recipe leaves no blind spot on the dates task? Trains each recipe with several seeds and slices
every run's exact match on fresh dates (transformer_edu.error_analysis): per input format, per day of the
month, per month and per (format, day) pair.

A recipe is a list of `python -m transformer_edu.train` arguments; each run is that command in a fresh process,
with the Makefile's kernel pin (ATEN_CPU_CAPABILITY=avx2, MKL_CBWR=COMPATIBLE), so every run can be repeated bit
for bit. (The table in chapter 13 was measured on 2 December 2026 with MKL_CBWR=AVX2, the pin of that morning: other
bits per run, the same recipes and seeds.) Checkpoints go to --out and are reused when present, so an interrupted
sweep picks up where it stopped. --device (default auto: a GPU if PyTorch sees one, else the CPU) is passed to every
training run and used for the slicing; a GPU computes in another order than the CPU, so its checkpoints get their
own names (uniform-1500-seed0-cuda.pt) and a CPU sweep never reuses them.

    .venv/bin/python benchmarks/date_recipes.py                                 # every recipe, seeds 0-3
    .venv/bin/python benchmarks/date_recipes.py --recipes uniform-1500 --seeds 0 1
    .venv/bin/python benchmarks/date_recipes.py --device cuda --json _build/date_recipes/cuda.json

"worst slice" is the lowest exact match over the formats, the 31 day values and the 12 month values; "worst
cell" the lowest over the 217 (format, day) pairs (about 48 dates each with the default --per-format 1500).
A run "has a blind spot" when its worst slice is below 99%.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.devices import add_device_option, describe, parsed_device
from transformer_edu.error_analysis import date_error_report, fresh_dates

RECIPES = {
    "uniform-1500": ["--steps", "1500"],  # the book's recipe until December 2026
    "short-days-1500": ["--steps", "1500", "--short-days", "0.5"],  # half the training dates have a 1-digit day
    "uniform-3000": ["--steps", "3000"],  # twice as long
    "wider-1500": ["--steps", "1500", "--d-model", "96", "--d-ff", "384"],  # a bigger model, same length
}
PIN = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"}


def train_once(recipe: str, seed: int, threads: int, out: Path, device: torch.device) -> Path:
    path = out / f"{recipe}-seed{seed}{'' if device.type == 'cpu' else '-' + device.type}.pt"
    if not path.exists():
        command = [sys.executable, "-m", "transformer_edu.train", "--task", "dates", *RECIPES[recipe], "--seed",
                   str(seed), "--threads", str(threads), "--device", str(device), "--no-progress", "--out", str(path)]
        subprocess.run(command, check=True, env={**os.environ, **PIN}, stdout=subprocess.DEVNULL)
    return path


def summarize(path: Path, per_format: int, eval_seed: int, device: torch.device) -> dict:
    model, tokenizers, record = load_checkpoint(path)  # on the CPU
    report = date_error_report(model.to(device), tokenizers, fresh_dates(per_format, eval_seed))
    slices = [s for attribute in ("format", "day", "month") for s in report.by(attribute)]
    worst, cell = min(slices, key=lambda s: s.accuracy), min(report.cells(), key=lambda s: s.accuracy)
    return {"accuracy": report.accuracy, "held_out": record.get("held_out_exact_match"),
            "worst_slice": (worst.attribute, worst.value, worst.accuracy),
            "worst_cell": (cell.value, cell.correct, cell.total), "confusions": report.confusions(3),
            "seconds": record.get("update_seconds"), "device": device.type, "device_name": describe(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--threads", type=int, default=1, help="threads per training run")
    parser.add_argument("--per-format", type=int, default=1500, help="fresh dates per format for the slices")
    parser.add_argument("--eval-seed", type=int, default=11, help="seeds the fresh dates (not the training data)")
    parser.add_argument("--out", type=Path, default=Path("_build/date_recipes"), help="checkpoints go here")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's summary here")
    add_device_option(parser, ": for the training runs and the slicing")
    args = parser.parse_args()
    device = parsed_device(parser, args)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    print(f"on {describe(device)}: each run trained by python -m transformer_edu.train --device {device} --threads "
          f"{args.threads} (checkpoints in {args.out}), then sliced here\n")
    print(f"{'recipe':16} {'seed':>4} {'fresh':>7} {'worst slice':>26} {'worst (format, day) cell':>38}  confusions")
    for recipe in args.recipes:
        for seed in args.seeds:
            path = train_once(recipe, seed, args.threads, args.out, device)
            summary = summarize(path, args.per_format, args.eval_seed, device)
            results[f"{recipe}/{seed}"] = summary
            attribute, value, accuracy = summary["worst_slice"]
            (template, day), correct, total = summary["worst_cell"]
            slice_text = f"{attribute} {value}: {accuracy:.1%}"
            cell_text = f"{template} day {day}: {correct}/{total}"
            print(f"{recipe:16} {seed:>4} {summary['accuracy']:7.2%} {slice_text[-26:]:>26} {cell_text[-38:]:>38}  "
                  + ", ".join(f"{f} {a}->{b} x{n}" for f, a, b, n in summary["confusions"]), flush=True)
        runs = [results[f"{recipe}/{seed}"] for seed in args.seeds]
        blind = sum(r["worst_slice"][2] < 0.99 for r in runs)
        print(f"{recipe}: {blind} of {len(runs)} runs have a slice below 99%; lowest slice "
              f"{min(r['worst_slice'][2] for r in runs):.1%}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
