"""What training the paper's base and big models takes: the arithmetic behind book/scaling.md.

1. The work, counted from the shapes (transformer_edu.flops.training_flops, matrix products only): a batch of
   about 25,000 source and 25,000 target tokens (section 5.1), taken here as 1,000 sentence pairs of 25 tokens
   each (an assumption: WMT sentences vary in length, and the attention part grows with it), times the paper's
   steps (base 100,000; big 300,000; section 5.2).
2. The paper's own figure (Table 2, footnote 5): 8 GPUs x the hours trained x 9.5 TFLOPS, its estimate of
   what a P100 sustains in single precision. The ratio of (1) to (2) is the share of that estimate the
   counted products needed.
3. The same work on other hardware at a stated fraction of each device's peak (`UTILIZATION`, an assumption,
   printed with the result), and on this machine at the speed of a 2048 x 2048 float32 product, measured here.
   That product stays on the CPU by design (no --device): book/scaling.md sets the GPUs' published peaks beside
   what a laptop's CPU, the one the book's models train on, measures.

    .venv/bin/python benchmarks/scaling.py        # prints the tables; writes benchmarks/results/scaling.json
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from transformer_edu.config import TransformerConfig
from transformer_edu.flops import training_flops
from transformer_edu.model import Transformer, count_parameters

ROOT = Path(__file__).resolve().parents[1]
SENTENCES, LENGTH = 1000, 25  # 25,000 tokens per side of a batch
P100 = 9.5e12  # the paper's footnote 5
MODELS = {  # Table 3; the paper's steps and hours on 8 P100s (section 5.2)
    "base": dict(config=TransformerConfig.base(), steps=100_000, hours=12.0),
    "big": dict(config=TransformerConfig.base(d_model=1024, n_heads=16, d_ff=4096, dropout=0.3), steps=300_000,
                hours=3.5 * 24),
}
DEVICES = {  # vendors' dense peak FLOP/s for the precision named
    "8 x P100 (the paper; FP32)": 8 * P100,
    "1 x A100 (BF16)": 312e12,
    "1 x H100 SXM (BF16)": 989e12,
    "8 x H100 SXM (BF16)": 8 * 989e12,
}
UTILIZATION = 0.4  # an assumed share of peak for a well-tuned training run of a model this size


def matmul_flops_per_second(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix product speed: the best of `repeats` products of two n x n matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def work() -> dict:
    out = {}
    for name, spec in MODELS.items():
        config = spec["config"]
        step = training_flops(config, SENTENCES, LENGTH, LENGTH).total
        total = step * spec["steps"]
        paper = 8 * P100 * spec["hours"] * 3600
        with torch.device("meta"):  # the parameter count, without allocating the weights
            parameters = count_parameters(Transformer(config))
        out[name] = {"parameters": parameters, "flops_per_step": step, "steps": spec["steps"], "total_flops": total,
                     "paper_flops": paper, "counted_over_paper": total / paper,
                     "six_n_d": 6 * parameters * SENTENCES * LENGTH * 2 * spec["steps"]}
    return out


def days(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.1f} days"


def main() -> None:
    models = work()
    print(f"batch: {SENTENCES} sentence pairs of {LENGTH} + {LENGTH} tokens")
    for name, m in models.items():
        print(f"{name}: {m['parameters']:,} parameters; {m['flops_per_step']:.3g} FLOPs per step x {m['steps']:,} "
              f"steps = {m['total_flops']:.3g} FLOPs; the paper's estimate {m['paper_flops']:.3g} "
              f"(counted / paper = {m['counted_over_paper']:.2f}); 6 N D = {m['six_n_d']:.3g}")
    here = matmul_flops_per_second()
    rows = {label: {name: m["total_flops"] / (peak * UTILIZATION) for name, m in models.items()}
            for label, peak in DEVICES.items()}
    rows[f"this machine ({torch.get_num_threads()} threads, measured matmul speed)"] = {
        name: m["total_flops"] / here for name, m in models.items()}
    print(f"\ntime for the counted work at {UTILIZATION:.0%} of peak (this machine: at its measured "
          f"{here / 1e9:.0f} GFLOP/s):")
    for label, times in rows.items():
        print(f"  {label:<58} base {days(times['base']):>12}   big {days(times['big']):>12}")
    record = {"sentences": SENTENCES, "length": LENGTH, "utilization": UTILIZATION, "models": models,
              "devices_peak": DEVICES, "this_machine_flops_per_second": here, "seconds": rows,
              "torch": torch.__version__, "machine": platform.machine()}
    path = ROOT / "benchmarks" / "results" / "scaling.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
