"""Seconds to learn the copy task: the training run of tests/test_training.py, timed (book/performance.md).

The test (test_copy_task_is_learned_through_the_public_api) trains the small preset for 800 updates of 128
random strings each (Adam, 400 warm-up steps, factor 0.5, label smoothing 0.1) and asserts what is learned:
at least 99% exact match on 500 held-out strings. It asserts nothing about time, since the time depends on
the machine and on whatever else runs on it; this script measures it. "training" counts the updates only
(train()'s history["train_seconds"]), "evaluation" the greedy decoding of the held-out strings. --device
(default auto: a GPU if PyTorch sees one, else the CPU) chooses where the model trains and decodes.

    .venv/bin/python benchmarks/copy_task.py                # the test's run, with torch's default threads
    .venv/bin/python benchmarks/copy_task.py --threads 1 --repeats 3
    .venv/bin/python benchmarks/copy_task.py --device cuda
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from transformer_edu import Transformer, TransformerConfig
from transformer_edu.data import build_tokenizers, make_dataset
from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.training import exact_match, train


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=800, help="updates (the test's 800)")
    parser.add_argument("--repeats", type=int, default=1, help="runs, each from the same seed (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(f"on {describe(device)}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"kernels {torch.backends.cpu.get_cpu_capability()}; load average before: {load()}")
    print(f"copy task: small preset (d_model 64, 4 heads, d_ff 256, 2+2 layers), {args.steps} updates of 128 "
          f"strings, warm-up 400, lr factor 0.5; exact match on 500 held-out strings\n")
    print(f"{'run':>3} {'training (s)':>13} {'steps/s':>8} {'evaluation (s)':>15} {'exact match':>12}")
    train_pairs, test_pairs = make_dataset("copy", args.steps * 128, 500, seed=0)
    tokenizers = build_tokenizers("copy")
    seconds = []
    for run in range(1, args.repeats + 1):
        torch.manual_seed(0)
        model = Transformer(TransformerConfig.small(vocab_size=tokenizers[0].vocab_size, max_len=64)).to(device)
        history = train(model, train_pairs, tokenizers=tokenizers, steps=args.steps, batch_size=128,
                        warmup_steps=400, lr_factor=0.5, seed=0, progress=False)  # moves each batch to the device
        synchronize(device)  # a GPU runs asynchronously: wait for it before each clock read
        start = time.perf_counter()
        accuracy = exact_match(model, test_pairs, *tokenizers)
        synchronize(device)
        evaluation = time.perf_counter() - start
        seconds.append(history["train_seconds"][-1])
        print(f"{run:>3} {seconds[-1]:>13.1f} {args.steps / seconds[-1]:>8.1f} {evaluation:>15.1f} "
              f"{accuracy:>12.1%}")
    print(f"\nmedian training time: {statistics.median(seconds):.1f} s for {args.steps} updates")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
