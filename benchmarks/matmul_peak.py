"""This machine's large-matmul FLOP/s, and how far a small model's training step is from it (book/performance.md).

Part 1, the ceiling: the median time of torch.mm on two n x n float32 matrices (2n^3 floating-point operations),
for n = 512, 1024, 2048 and 1 and 2 threads, in child processes that alternate between two kernel settings:
"pinned", the ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE the Makefile exports (the book's chapters and
training runs), and "fastest", with both variables removed (MKL and PyTorch pick their fastest kernels).

Part 2, the distance: GPTConfig.small (d_model 128, 4 layers, context 64, 88 characters) trained on random
ids at batch sizes 1 to 96, in this process (run it under the pin, as the command below does): the matmul
FLOPs of a step (transformer_edu.flops), the median time of a step (forward, loss, backward, clipping,
AdamW), the FLOP/s achieved, their fraction of a 2048 x 2048 matmul timed in turn with the steps (one
product, one step, ...) so that both see the same load, and the time the step's FLOPs would take at that
speed. Then the fixed cost of one PyTorch operation (adding two 1-element tensors: dispatch and allocation,
no arithmetic to speak of) times the number of operations a step calls, counted by torch.profiler, which does
not grow with the batch; and torch.profiler's share of a step at batch 12 spent in the matrix products.
Untrained model, random ids: the time does not depend on the values.

--clock cpu (one thread only) times by the thread's CPU time (time.thread_time) instead of the wall clock:
on a machine shared with other work it leaves out the time the process waits for a core, so it shows what
the same run would take on an idle machine. With two threads the work runs on two threads, which one
thread's CPU time does not see, hence wall time only.

--device (default auto: a GPU if PyTorch sees one, else the CPU) chooses what is measured. On a GPU, part 1 times
torch.mm on that GPU in this process (the two kernel settings are the CPU's, so there is one column), part 2
trains there, and every clock read waits for the GPU first (devices.synchronize: a GPU runs asynchronously);
torch.profiler's share of a step is left out, as its CPU times show the launching of GPU work, not the work. A
GPU needs larger products to approach its peak: add --sizes 4096 8192. --clock cpu is for the CPU only.

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/matmul_peak.py
    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/matmul_peak.py --threads 1 --clock cpu
    .venv/bin/python benchmarks/matmul_peak.py --device cuda --sizes 2048 4096 8192
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.flops import training_flops
from transformer_edu.gpt import GPT, GPTConfig

PIN = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"}  # the Makefile's kernel pin
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")  # where the counted FLOPs happen
VOCAB = 88  # the characters of the Shakespeare training text (lm_data, CharTokenizer), as gpt_vs_torch.py has
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(run, clock=time.perf_counter, device: str | torch.device = "cpu") -> float:
    """Seconds that run() takes on `device`: the work queued before it is finished before the clock starts,
    and run()'s own work before it stops (on the CPU there is nothing to wait for)."""
    synchronize(device)
    start = clock()
    run()
    synchronize(device)
    return clock() - start


def median_seconds(run, repeats: int, warmup: int = 2, clock=time.perf_counter,
                   device: str | torch.device = "cpu") -> float:
    for _ in range(warmup):
        run()
    return statistics.median(timed(run, clock, device) for _ in range(repeats))


def square_matmul(n: int = 2048, device: str | torch.device = "cpu"):
    """A function computing one product of two random (n, n) float32 matrices (2n^3 operations) on `device`."""
    generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same matrices on every device
    a, b = torch.randn(n, n, generator=generator).to(device), torch.randn(n, n, generator=generator).to(device)
    out = torch.empty(n, n, device=device)
    return lambda: torch.mm(a, b, out=out)


def matmul_flops_per_second(n: int = 2048, threads: int | None = None, repeats: int = 10,
                            clock=time.perf_counter, device: str | torch.device = "cpu") -> float:
    """Median FLOP/s of torch.mm on two random (n, n) float32 matrices on `device`: 2n^3 operations per product.
    threads: torch.set_num_threads for the measurement (restored afterwards); None keeps the current."""
    before = torch.get_num_threads()
    torch.set_num_threads(before if threads is None else threads)
    try:
        seconds = median_seconds(square_matmul(n, device), repeats, clock=clock, device=device)
    finally:
        torch.set_num_threads(before)
    return 2 * n ** 3 / seconds


def child(sizes: list[int], threads: list[int], repeats: int, clock: str) -> None:
    """Print one JSON line: {"<n> <threads>": FLOP/s} under this process's kernel settings."""
    print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                      **{f"{n} {t}": matmul_flops_per_second(n, t, repeats, CLOCKS[clock])
                         for n in sizes for t in threads}}))


def kernel_settings_table(sizes: list[int], threads: list[int], repeats: int, rounds: int, clock: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in PIN}
    settings = {"pinned": {**clean, **PIN}, "fastest": clean}
    results: dict[str, list[dict]] = {name: [] for name in settings}
    command = [sys.executable, __file__, "--child", "--sizes", *map(str, sizes), "--threads-list",
               *map(str, threads), "--repeats", str(repeats), "--clock", clock]
    for _ in range(rounds):  # A B A B: a change in load hits both settings alike
        for name, env in settings.items():
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
    print(f"Part 1: torch.mm of two n x n float32 matrices, GFLOP/s by {clock} time (median of {repeats} products "
          f"in each of {rounds} child processes per setting, the median over processes)")
    print("kernels: pinned = " + " ".join(f"{k}={v}" for k, v in PIN.items()) + " ("
          f"{results['pinned'][0]['capability']}); fastest = both unset ({results['fastest'][0]['capability']})")
    print(f"{'n':>6} {'threads':>8} {'pinned':>8} {'fastest':>8}")
    for n in sizes:
        for t in threads:
            cells = [statistics.median(r[f"{n} {t}"] for r in results[name]) / 1e9 for name in settings]
            print(f"{n:>6} {t:>8} {cells[0]:>8.1f} {cells[1]:>8.1f}")


def device_table(sizes: list[int], repeats: int, device: torch.device) -> None:
    """Part 1 on a GPU: torch.mm timed on `device` in this process (the kernel settings are the CPU's)."""
    print(f"Part 1: torch.mm of two n x n float32 matrices on {describe(device)}, GFLOP/s by wall time (median of "
          f"{repeats} products after 2 warm-up; float32 matmul precision {torch.get_float32_matmul_precision()!r})")
    print(f"{'n':>6} {'GFLOP/s':>9}")
    for n in sizes:
        print(f"{n:>6} {matmul_flops_per_second(n, None, repeats, device=device) / 1e9:>9.1f}")


def small_gpt_step(batch_size: int, seed: int = 0, device: str | torch.device = "cpu"):
    """A training step of GPTConfig.small on random ids on `device`, as benchmarks/gpt_shakespeare.py runs it."""
    torch.manual_seed(seed)
    config = GPTConfig.small(vocab_size=VOCAB, positional="learned")
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    x, y = torch.randint(0, VOCAB, (2, batch_size, config.max_len), device=device)

    def step() -> None:
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return config, step


def distance_table(batches: list[int], repeats: int, clock: str, device: torch.device) -> None:
    print(f"\nPart 2: GPTConfig.small, context 64, training steps by {clock} time, against a 2048 x 2048 matmul "
          f"timed in turn with them (medians of {repeats} each, after 3 warm-up steps)")
    print(f"{'batch':>6} {'GFLOP per step':>15} {'ms per step':>12} {'GFLOP/s':>8} {'matmul GFLOP/s':>15} "
          f"{'of matmul':>10} {'ms at matmul speed':>19}")
    matmul = square_matmul(2048, device)
    for batch in batches:
        config, step = small_gpt_step(batch, device=device)
        for _ in range(3):
            step()
        pairs = [(timed(matmul, CLOCKS[clock], device), timed(step, CLOCKS[clock], device)) for _ in range(repeats)]
        peak = 2 * 2048 ** 3 / statistics.median(p[0] for p in pairs)
        seconds = statistics.median(p[1] for p in pairs)
        flops = training_flops(config, batch, config.max_len).total
        print(f"{batch:>6} {flops / 1e9:>15.2f} {seconds * 1e3:>12.1f} {flops / seconds / 1e9:>8.1f} "
              f"{peak / 1e9:>15.1f} {flops / seconds / peak:>9.0%} {flops / peak * 1e3:>19.1f}")


def operation_overhead(repeats: int, clock: str, device: torch.device) -> None:
    """The fixed cost of one tiny operation, and how many operations a training step calls."""
    a, b = torch.ones(1, device=device), torch.ones(1, device=device)
    tiny = median_seconds(lambda: [torch.add(a, b) for _ in range(1000)], repeats, clock=CLOCKS[clock],
                          device=device) / 1000
    _, step = small_gpt_step(1, device=device)
    step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        step()
    calls = sum(e.count for e in profiler.key_averages() if e.key.startswith("aten::"))
    print(f"one tiny operation (torch.add of two 1-element tensors): {tiny * 1e6:.1f} us; a training step calls "
          f"{calls:,} aten operations (any batch): {calls * tiny * 1e3:.1f} ms per step of fixed cost")


def profile_share(batch: int, steps: int) -> None:
    """On the CPU only: torch.profiler's CPU times of a step split into matrix products, other operations, Python."""
    config, step = small_gpt_step(batch)
    for _ in range(3):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        wall = sum(timed(step) for _ in range(steps))
    events = profiler.key_averages()
    self_us = {e.key: e.self_cpu_time_total for e in events}
    calls = sum(e.count for e in events if e.key.startswith("aten::"))
    matmul = sum(self_us.get(name, 0) for name in MATMUL_OPS) / 1e6
    ops = sum(self_us.values()) / 1e6
    flops = training_flops(config, batch, config.max_len).total
    print(f"\ntorch.profiler, {steps} steps at batch {batch}, wall time (the profiler slows each operation down):")
    print(f"  {calls / steps:,.0f} calls of aten operations per step ({len(events)} kinds)")
    print(f"  {wall / steps * 1e3:.1f} ms per step: matrix products ({', '.join(MATMUL_OPS)}) {matmul / wall:.0%}, "
          f"all other operations {(ops - matmul) / wall:.0%}, outside any operation (Python) "
          f"{max(0.0, wall - ops) / wall:.0%}")
    print(f"  {flops / 1e9:.2f} GFLOP per step in {matmul / steps * 1e3:.1f} ms of matrix products: "
          f"{flops * steps / matmul / 1e9:.1f} GFLOP/s inside them")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048], help="matrix sizes n")
    parser.add_argument("--threads-list", type=int, nargs="+", default=[1, 2], help="threads for part 1")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for part 2 (default 2)")
    parser.add_argument("--repeats", type=int, default=10, help="timed products or steps per cell")
    parser.add_argument("--rounds", type=int, default=3, help="child processes per kernel setting (part 1)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 3, 12, 48, 96], help="batch sizes (part 2)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall (default) or cpu: the thread's CPU time, one thread only")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, rounds and batch sizes")
    add_device_option(parser, ": what is measured")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # part 1 on the CPU, under one kernel setting
        return child(args.sizes, args.threads_list, args.repeats, args.clock)
    device = parsed_device(parser, args)
    if args.clock == "cpu":
        if args.threads != 1:
            parser.error("--clock cpu measures one thread's CPU time: add --threads 1")
        if device.type != "cpu":
            parser.error(f"--clock cpu times the CPU's own work: on {describe(device)}, use --clock wall")
        args.threads_list = [1]
    if args.quick:
        args.repeats, args.rounds, args.batches = 5, 1, [1, 12, 48]
    torch.set_num_threads(args.threads)  # part 2's threads (part 1's child processes set their own)
    print(f"on {describe(device)}: torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} "
          "CPUs, this process: " + " ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in PIN)
          + f" ({torch.backends.cpu.get_cpu_capability()}); load average before: {load()}\n")
    if device.type == "cpu":
        kernel_settings_table(args.sizes, args.threads_list, args.repeats, args.rounds, args.clock)
    else:
        device_table(args.sizes, args.repeats, device)
    distance_table(args.batches, args.repeats, args.clock, device)
    operation_overhead(args.repeats, args.clock, device)
    if device.type == "cpu":
        profile_share(12, args.repeats)
    print(f"\n{args.threads} threads in part 2; load average after: {load()}")


if __name__ == "__main__":
    main()
