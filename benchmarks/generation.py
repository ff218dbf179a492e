"""GPT generation, tokens per second with and without the key/value cache (book/performance.md).

gpt.generate continues a prompt one token at a time. Without the cache, each step runs the model over the
whole sequence so far; with it, over the one new token, which attends to the stored keys and values. The
model sees at most config.max_len tokens: past that, generate crops to the last max_len tokens, every
position shifts, and both ways recompute the whole window at every step. So two contexts are timed:
GPTConfig.small's own 64 (the shipped model's: 256 new tokens overrun it after the first 64 - prompt) and one
long enough for prompt + tokens, where the cache is used to the end. Greedy decoding (temperature None), so
both ways must give the same tokens (checked); untrained models with fixed seeds and random prompt ids, 88
characters as the Shakespeare tokenizer has (the time does not depend on what the weights have learned).
The two ways alternate (A B A B) over --repeats timed runs after one warm-up each; medians reported.
"GFLOP/s" is the matmul FLOPs of the whole generation (transformer_edu.flops, step by step as generate runs
it) over its time. Last, torch.profiler counts the operations a cached generation step calls, to set beside
its time. --clock cpu (one thread): timed by CPU time, as in matmul_peak.py. --device (default auto: a GPU if
PyTorch sees one, else the CPU) chooses where the models run; each timed run waits for the device to finish
(devices.synchronize), and --clock cpu is for the CPU only.

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/generation.py
    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/generation.py --batch 8 --tokens 64 256
    .venv/bin/python benchmarks/generation.py --device cuda --batch 8 --tokens 64 256
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch

from matmul_peak import CLOCKS, VOCAB, load, timed  # benchmarks/ is on sys.path when this script runs
from transformer_edu.devices import add_device_option, describe, parsed_device
from transformer_edu.flops import forward_flops
from transformer_edu.gpt import GPT, GPTConfig, generate


def generation_flops(config: GPTConfig, batch: int, prompt: int, new: int, use_cache: bool) -> int:
    """The matmul FLOPs of generate(model, (batch, prompt) ids, new, use_cache=...), step by step as it runs."""
    total, kept = 0, 0  # kept: tokens in the cache
    for length in range(prompt, prompt + new):  # the sequence before each step
        if use_cache and length <= config.max_len:
            total += forward_flops(config, batch, length - kept, past=kept).total
            kept = length
        else:
            total += forward_flops(config, batch, min(length, config.max_len)).total
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[256], help="new tokens to generate")
    parser.add_argument("--prompt", type=int, default=8, help="prompt length")
    parser.add_argument("--batch", type=int, default=1, help="sequences generated together")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall (default) or cpu: the thread's CPU time, one thread only (matmul_peak.py)")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures one thread's CPU time: add --threads 1")
    if args.clock == "cpu" and device.type != "cpu":
        parser.error(f"--clock cpu times the CPU's own work: on {describe(device)}, use --clock wall")
    torch.set_num_threads(args.threads)
    print(f"on {describe(device)}: torch {torch.__version__}, {args.threads} threads, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', '(unset)')} "
          f"MKL_CBWR={os.environ.get('MKL_CBWR', '(unset)')}; load average before: {load()}")
    print(f"GPTConfig.small (d_model 128, 4 heads, d_ff 512, 4 layers), learned positions, {VOCAB} tokens; "
          f"batch {args.batch}, prompt {args.prompt}, greedy; median of {args.repeats} runs, alternating\n")
    contexts = {"64 (GPTConfig.small)": 64, f"{args.prompt + max(args.tokens)} (prompt + tokens)":
                args.prompt + max(args.tokens)}
    print(f"{'context':<26} {'tokens':>6} {'without cache':>14} {'with cache':>11} {'speed-up':>9} "
          f"{'same':>5}   {'GFLOP/s without':>15} {'with':>5}")
    print(f"{'':<26} {'':>6} {'(tokens/s)':>14} {'(tokens/s)':>11}")
    for name, max_len in contexts.items():
        torch.manual_seed(0)
        config = GPTConfig.small(vocab_size=VOCAB, positional="learned", max_len=max_len)
        model = GPT(config).to(device).eval()
        prompt = torch.randint(0, VOCAB, (args.batch, args.prompt), generator=torch.Generator().manual_seed(1))
        prompt = prompt.to(device)  # drawn on the CPU: the same prompt on every device
        for new in args.tokens:
            def run(use_cache: bool, new: int = new) -> torch.Tensor:
                return generate(model, prompt, new, temperature=None, use_cache=use_cache)

            same = torch.equal(run(True), run(False))  # also the warm-up of each way
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.repeats):
                for use_cache in (False, True):
                    times[use_cache].append(timed(lambda: run(use_cache), CLOCKS[args.clock], device))
            seconds = {k: statistics.median(v) for k, v in times.items()}
            rate = {k: args.batch * new / s for k, s in seconds.items()}  # new tokens per second, all sequences
            gflops = {k: generation_flops(config, args.batch, args.prompt, new, k) / s / 1e9
                      for k, s in seconds.items()}
            speed_up = seconds[False] / seconds[True]
            print(f"{name:<26} {new:>6} {rate[False]:>14.0f} {rate[True]:>11.0f} {speed_up:>8.1f}x "
                  f"{str(same):>5}   {gflops[False]:>15.2f} {gflops[True]:>5.2f}")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        generate(model, prompt, 32, temperature=None, use_cache=True)  # the long context, cached
    calls = sum(e.count for e in profiler.key_averages() if e.key.startswith("aten::")) / 32
    per_token = seconds[True] / new  # the last row's cached run
    print(f"\nwith the cache, one generation step calls about {calls:.0f} aten operations (torch.profiler) and took "
          f"{per_token * 1e6:.0f} us in the last row: {per_token / calls * 1e6:.1f} us per operation")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
