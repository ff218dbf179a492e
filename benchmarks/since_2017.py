"""Chapter 17's table: each change made since 2017 switched on alone, on chapter 15's task, with one budget.

The task: a character-level GPT on Shakespeare (lm_data: the last 10% of the text held out), GPTConfig.small
(4 layers, 4 heads, d_model 128, context 64, no dropout), batch 12, AdamW with 100 warm-up steps to 1e-3
(training.make_adamw), gradients clipped at norm 1, trained with training.train for --steps updates.
The baseline keeps the 2017 paper's choices (post-LN, LayerNorm, sinusoidal positions, ReLU, one key/value
head per query head, attention as equation 1, the output layer tied to the embedding); every other row changes
exactly one of them.

Measured for each row:
- parameters, and the key/value cache a generation keeps per token (float32: layers x 2 x H_kv x d_k x 4 bytes);
- training speed in tokens per second: --timing-rounds rounds in which every row trains --timing-steps steps in
  turn (A B C ... A B C ...), median of the rounds, so a busy machine slows every row alike;
- validation loss after the same number of updates (the same tokens seen), for --seeds seeds: mean and range;
- validation loss at a fixed time: the baseline's time for --steps updates, at each row's own measured speed
  (read off that row's validation curve, evaluated every --eval-every steps; a row faster than the baseline is
  trained 30% longer so that its curve reaches that time);
- stability: post-LN against pre-LN with no warm-up and a higher peak learning rate (--unstable-lr): the final
  validation loss, or "diverged" when training stops on a non-finite loss.
Validation loss: mean cross-entropy (nats per character) over the same 8 batches of 32 held-out windows of 64
characters (16,384 predictions), drawn once with a generator of their own.

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/since_2017.py --threads 1
writes transformer_edu/results/since_2017.json (the chapter loads it from the installed package): 85 minutes on one
thread of a two-core AMD EPYC (2 December 2026; the file records the command, the machine, the device and the
time). --quick runs a small version for a smoke test:

    .venv/bin/python benchmarks/since_2017.py --quick --out /tmp/since_2017.json

--device (default auto: a GPU if PyTorch sees one, else the CPU) chooses where every row trains and is evaluated;
the text is moved there too, so batches are cut on the device (the same windows as on the CPU). The chapter's
table was measured on the CPU; a GPU's speeds can rank the rows differently, so keep its results apart (--out):

    .venv/bin/python benchmarks/since_2017.py --device cuda --out /tmp/since_2017_cuda.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from transformer_edu.checks import NonFiniteError
from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import lm_batch, shakespeare_characters
from transformer_edu.model import count_parameters
from transformer_edu.training import make_adamw, train

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT.parent / "transformer_edu" / "results" / "since_2017.json"  # shipped in the package: chapter 17 reads it
BLOCK, BATCH = 64, 12
# name -> (the one change, the paper that made it)
VARIANTS = {
    "2017 baseline": ({}, "Vaswani et al. 2017"),
    "pre-LN": (dict(norm_first=True, final_norm=True), "Xiong et al. 2020; GPT-2"),
    "RMSNorm": (dict(norm="rms"), "Zhang and Sennrich 2019"),
    "learned positions": (dict(positional="learned"), "GPT-1, BERT"),
    "rotary positions": (dict(positional="rope"), "Su et al. 2021"),
    "GELU": (dict(activation="gelu"), "Hendrycks and Gimpel 2016; GPT-1"),
    "SwiGLU, d_ff 344": (dict(activation="swiglu", d_ff=344), "Shazeer 2020"),
    "grouped-query, 2 key/value heads": (dict(n_kv_heads=2), "Ainslie et al. 2023"),
    "multi-query, 1 key/value head": (dict(n_kv_heads=1), "Shazeer 2019"),
    "fused attention kernel": (dict(attention_kernel="sdpa"), "PyTorch 2.0; Dao et al. 2022"),
    "untied output layer": (dict(share_embeddings=False), "(the paper ties them, section 3.4)"),
}


def config_of(name: str, vocab_size: int) -> GPTConfig:
    return GPTConfig.small(vocab_size=vocab_size, **VARIANTS[name][0])


def validation_loss(model, ids) -> float:
    generator = torch.Generator().manual_seed(1)  # the same windows at every evaluation
    model.eval()
    with torch.no_grad():
        losses = [F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
                  for x, y in (lm_batch(ids, BLOCK, 32, generator) for _ in range(8))]
    model.train()
    return sum(losses) / len(losses)


def run(config, train_ids, validation_ids, steps, seed, eval_every, peak_lr=1e-3, warmup=100):
    """Train one model on the device of the ids; return its validation curve [(step, loss)], or None if it
    diverged."""
    torch.manual_seed(seed)
    model = GPT(config).to(train_ids.device)
    untrained = validation_loss(model, validation_ids)
    optimizer, scheduler = make_adamw(model, peak_lr=peak_lr, warmup_steps=warmup)
    try:
        history = train(model, train_ids, steps=steps, batch_size=BATCH, block_size=BLOCK, smoothing=0.0,
                        optimizer=optimizer, scheduler=scheduler, clip_grad_norm=1.0, eval_every=eval_every,
                        eval_fn=lambda m: {"loss": validation_loss(m, validation_ids)}, seed=seed, progress=False)
    except NonFiniteError:
        return None
    return [(0, untrained)] + history["val_loss"]


def timing(names, vocab_size, train_ids, rounds, steps) -> dict[str, float]:
    """Seconds per update for each row, median over rounds of `steps` updates each, rows alternating
    (train's "train_seconds": the updates only, each ending with the loss read back, which waits for a GPU).
    The models train on the device of train_ids."""
    runs = {}
    for name in names:
        torch.manual_seed(0)
        model = GPT(config_of(name, vocab_size)).to(train_ids.device)
        runs[name] = (model, *make_adamw(model))
    seconds = {name: [] for name in names}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for name in names:
            model, optimizer, scheduler = runs[name]
            history = train(model, train_ids, steps=steps, batch_size=BATCH, block_size=BLOCK, smoothing=0.0,
                            optimizer=optimizer, scheduler=scheduler, clip_grad_norm=1.0, progress=False)
            seconds[name].append(history["train_seconds"][-1] / steps)
    return {name: statistics.median(values[1:]) for name, values in seconds.items()}


def loss_at_step(curve, step: float) -> float:
    """The validation curve read at `step`, linearly between evaluations."""
    for (s0, l0), (s1, l1) in zip(curve, curve[1:]):
        if s0 <= step <= s1:
            return l0 + (l1 - l0) * (step - s0) / (s1 - s0)
    return float("nan")  # beyond the curve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="updates per training run (default 400)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per row (default 3)")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--timing-rounds", type=int, default=5)
    parser.add_argument("--timing-steps", type=int, default=20)
    parser.add_argument("--unstable-lr", type=float, default=3e-3, help="peak lr of the stability rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a few steps of everything (a smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    add_device_option(parser)
    args = parser.parse_args(argv)
    device = parsed_device(parser, args)
    if args.quick:
        args.steps, args.seeds, args.eval_every, args.timing_rounds, args.timing_steps = 20, 1, 10, 1, 2
    torch.set_num_threads(args.threads)
    print(f"on {describe(device)}: torch {torch.__version__}", flush=True)
    started = time.perf_counter()
    tokenizer, train_ids, validation_ids = shakespeare_characters()
    train_ids, validation_ids = train_ids.to(device), validation_ids.to(device)  # the models follow them
    names = list(VARIANTS)
    per_step = timing(names, tokenizer.vocab_size, train_ids, args.timing_rounds, args.timing_steps)
    budget = args.steps * per_step["2017 baseline"]  # seconds: the baseline's time for args.steps updates
    rows = []
    for name in names:
        config = config_of(name, tokenizer.vocab_size)
        reach = budget / per_step[name]  # updates this row makes in the baseline's time
        steps = max(args.steps, -(-int(reach * 1.3) // args.eval_every) * args.eval_every)
        curves = [run(config, train_ids, validation_ids, steps, seed, args.eval_every) for seed in range(args.seeds)]
        same_steps = [None if c is None else loss_at_step(c, args.steps) for c in curves]  # None: diverged
        same_time = [None if c is None else loss_at_step(c, reach) for c in curves]
        rows.append({"name": name, "change": VARIANTS[name][0], "reference": VARIANTS[name][1],
                     "parameters": count_parameters(GPT(config)),
                     "kv_cache_bytes_per_token": config.n_layers * 2 * (config.n_kv_heads or config.n_heads)
                     * config.d_k * 4,
                     "seconds_per_step": per_step[name], "tokens_per_second": BATCH * BLOCK / per_step[name],
                     "steps_in_budget": reach, "loss_same_steps": same_steps, "loss_same_time": same_time,
                     "curves": curves})
        print(f"{name:34s} {BATCH * BLOCK / per_step[name]:8.0f} tok/s  loss after {args.steps} steps "
              f"{same_steps}  at {budget:.0f} s {same_time}", flush=True)
    stability = []
    for name in ("2017 baseline", "pre-LN"):
        config = config_of(name, tokenizer.vocab_size)
        curves = [run(config, train_ids, validation_ids, args.steps, seed, args.eval_every,
                      peak_lr=args.unstable_lr, warmup=1) for seed in range(args.seeds)]
        stability.append({"name": name, "peak_lr": args.unstable_lr, "warmup_steps": 1,
                          "final_loss": [None if c is None else c[-1][1] for c in curves], "curves": curves})
        print(f"{name} without warm-up at lr {args.unstable_lr}: "
              f"{[None if c is None else round(c[-1][1], 3) for c in curves]}", flush=True)
    result = {"command": "ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/since_2017.py "
                         + " ".join(sys.argv[1:] if argv is None else argv),
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "budget_seconds": budget, "batch": BATCH, "block": BLOCK, "vocab_size": tokenizer.vocab_size,
              "rows": rows, "stability": stability, "device": device.type, "device_name": describe(device),
              "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "torch": torch.__version__, "threads": args.threads,
                          "load_average_at_start": os.getloadavg()[0]}}
    synchronize(device)  # nothing left running on a GPU before the clock is read
    result["total_seconds"] = time.perf_counter() - started
    if not args.quick or args.out != RESULTS:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out} ({result['total_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
