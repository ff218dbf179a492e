"""GPT training on Shakespeare: our GPT against the same model built from torch's layers (book/performance.md).

"The same model": our TokenEmbedding, positions and tied output layer (GPTConfig.small with learned positions,
as benchmarks/gpt_shakespeare.py trains it) around either our decoder stack (Blocks without cross-attention)
or torch's nn.TransformerEncoder of nn.TransformerEncoderLayer, given the causal mask as torch documents it
(generate_square_subsequent_mask, with is_causal=True). Our weights are copied into torch's layers, and the
script checks that both compute the same logits before training. Each round trains both from the same
weights (seed = round) on the same batches with the same AdamW, warm-up and clipping as gpt_shakespeare.py,
the two models alternating step by step (A B, then B A, ...), so a change in machine load hits both alike.
Every --eval-every steps both are scored on the same validation windows; "seconds" count the training steps
only, by the wall clock (or, with --clock cpu and one thread, by CPU time: see matmul_peak.py). Reported per
round: the median time of a step, the seconds until the validation loss first reaches --target, and how
closely the two loss curves agree (the same model, computed in a different order, drifts apart only by
rounding, which training amplifies). Beside the step times: the matmul FLOPs of a step (transformer_edu.flops), the
FLOP/s achieved, and their fraction of a 2048 x 2048 matmul (benchmarks/matmul_peak.py) timed three times at
every evaluation, so that it sees the same load as the steps.
--profile adds torch.profiler's table of where each model's step spends its time.
--device (default auto: a GPU if PyTorch sees one, else the CPU) chooses where both models train and where the
matmul runs; every clock read waits for the device to finish (devices.synchronize). --clock cpu and --profile
(whose table is the CPU's self time) are for the CPU only.

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/gpt_vs_torch.py
    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/gpt_vs_torch.py --rounds 1 \
        --steps 300 --profile
    .venv/bin/python benchmarks/gpt_vs_torch.py --device cuda --rounds 1
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gpt_shakespeare import BATCH, BLOCK, LEARNING_RATE, WARMUP, validation_loss  # benchmarks/ is on sys.path
from matmul_peak import CLOCKS, MATMUL_OPS, load, square_matmul, timed
from transformer_edu import PositionalEncoding, TokenEmbedding, copy_attention_to_torch
from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.flops import training_flops
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import lm_batch, shakespeare_characters


class TorchGPT(nn.Module):
    """GPT's embeddings, positions and output layer around torch's nn.TransformerEncoder with a causal mask.
    Takes and returns what GPT.forward does without a cache: ids (B, T) -> logits (B, T, V)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        unsupported = {name: getattr(config, name) for name, paper in
                       (("norm", "layer"), ("n_kv_heads", None), ("attention_dropout", config.dropout),
                        ("ffn_dropout", config.dropout)) if getattr(config, name) != paper}
        if config.activation not in ("relu", "gelu"):
            unsupported["activation"] = config.activation
        if config.positional not in ("sinusoidal", "learned"):
            unsupported["positional"] = config.positional
        if unsupported:
            raise ValueError(f"nn.TransformerEncoderLayer has LayerNorm, one key/value head per head, ReLU or GELU "
                             f"and one dropout rate everywhere, and takes positions added to the embeddings; this "
                             f"config has {unsupported}")
        self.config = c = config
        self.embed = TokenEmbedding(c.vocab_size, c.d_model)
        self.position = PositionalEncoding(c.d_model, c.max_len, c.dropout, learned=c.positional == "learned")
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, c.activation,
                                           layer_norm_eps=c.layer_norm_eps, batch_first=True,
                                           norm_first=c.norm_first)
        self.decoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False,
                                             norm=nn.LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.final_norm
                                             else None)
        self.output = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.share_embeddings:
            self.output.weight = self.embed.weight

    @classmethod
    @torch.no_grad()
    def copy_of(cls, ours: GPT) -> "TorchGPT":
        """The same weights as `ours`: embeddings, positions, every layer, the final norm, the output layer."""
        theirs = cls(ours.config)
        pairs = [(ours.embed, theirs.embed), (ours.position, theirs.position), (ours.output, theirs.output)]
        for mine, layer in zip(ours.decoder.layers, theirs.decoder.layers):
            copy_attention_to_torch(mine.self_attn, layer.self_attn)  # w_q, w_k, w_v stacked into in_proj
            pairs += [(mine.feed_forward.w_1, layer.linear1), (mine.feed_forward.w_2, layer.linear2),
                      (mine.self_attn_norm, layer.norm1), (mine.ff_norm, layer.norm2)]
        if ours.decoder.final_norm is not None:
            pairs.append((ours.decoder.final_norm, theirs.decoder.norm))
        for mine, their_module in pairs:
            their_module.load_state_dict(mine.state_dict())
        return theirs

    def forward(self, ids: Tensor) -> Tensor:
        future = nn.Transformer.generate_square_subsequent_mask(ids.shape[1], ids.device)  # (T, T), -inf above
        x = self.position(self.embed(ids))  # (B, T, D)
        x = self.decoder(x, mask=future, is_causal=True)  # (B, T, D)
        return self.output(x)  # (B, T, V)


def check_same_function(ours: nn.Module, theirs: nn.Module, ids: Tensor) -> float:
    with torch.no_grad():
        gap = float((ours.eval()(ids) - theirs.eval()(ids)).abs().max())
    ours.train()
    theirs.train()
    if gap > 1e-4:
        raise RuntimeError(f"the two models' logits differ by {gap:.2e}: they are not the same model")
    return gap


def trainer(model: nn.Module, clock=time.perf_counter, device: str | torch.device = "cpu"):
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.99), weight_decay=0.1)

    def step(x: Tensor, y: Tensor, number: int) -> tuple[float, float]:
        """One training step; returns (seconds, training loss)."""
        synchronize(device)  # a GPU runs asynchronously: wait for it before each clock read
        start = clock()
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * min(1.0, (number + 1) / WARMUP)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        synchronize(device)
        return clock() - start, loss.item()

    return step


def one_round(seed: int, config: GPTConfig, train_ids: Tensor, validation_ids: Tensor, args,
              device: torch.device) -> dict:
    """train_ids and validation_ids on `device`: lm_batch cuts the windows there."""
    torch.manual_seed(seed)
    ours = GPT(config)
    theirs = TorchGPT.copy_of(ours)  # copied on the CPU, then both moved
    models = {"ours": ours.to(device), "torch": theirs.to(device)}
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same windows on every device
    gap = check_same_function(models["ours"], models["torch"], lm_batch(train_ids, BLOCK, 4, generator)[0])
    clock = CLOCKS[args.clock]
    steps = {name: trainer(model, clock, device) for name, model in models.items()}
    seconds = {name: [] for name in models}
    losses = {name: [] for name in models}
    curve = {name: [] for name in models}  # (step, training seconds so far, validation loss)
    reached = {name: None for name in models}
    matmul, matmul_seconds = square_matmul(2048, device), []
    for number in range(args.steps):
        x, y = lm_batch(train_ids, BLOCK, BATCH, generator)
        order = list(models) if number % 2 == 0 else list(models)[::-1]
        for name in order:
            took, loss = steps[name](x, y, number)
            seconds[name].append(took)
            losses[name].append(loss)
        if (number + 1) % args.eval_every == 0:
            matmul_seconds += [timed(matmul, clock, device) for _ in range(3)]
            for name, model in models.items():
                value = validation_loss(model, validation_ids, args.eval_batches)
                curve[name].append((number + 1, sum(seconds[name]), value))
                if reached[name] is None and value <= args.target:
                    reached[name] = curve[name][-1]
    return {"gap": gap, "seconds": seconds, "losses": losses, "curve": curve, "reached": reached,
            "matmul_seconds": matmul_seconds}


def profile(model: nn.Module, train_ids: Tensor, steps: int, rows: int) -> None:
    generator = torch.Generator().manual_seed(0)
    step = trainer(model)
    batches = [lm_batch(train_ids, BLOCK, BATCH, generator) for _ in range(steps + 3)]
    for number in range(3):
        step(*batches[number], number)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for number in range(3, steps + 3):
            step(*batches[number], number)
        wall = time.perf_counter() - start
    events = sorted(profiler.key_averages(), key=lambda e: -e.self_cpu_time_total)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / 1e6
    calls = sum(e.count for e in events if e.key.startswith("aten::"))
    print(f"  {wall / steps * 1e3:.1f} ms per step under the profiler, {calls / steps:,.0f} aten calls per step, "
          f"matrix products {matmul / wall:.0%} of the time; the largest self times per step:")
    for e in events[:rows]:
        print(f"    {e.key:<42} {e.self_cpu_time_total / steps / 1e3:>7.2f} ms {e.count // steps:>6} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="training runs of each model, seeds 0, 1, ...")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per model per round")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between validation losses")
    parser.add_argument("--eval-batches", type=int, default=20, help="validation batches of 64 windows")
    parser.add_argument("--target", type=float, default=2.0,
                        help="validation loss to reach, nats per character (default 2.0, chapter 15's target)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall (default) or cpu: the thread's CPU time, one thread only (matmul_peak.py)")
    parser.add_argument("--pre-ln", action="store_true", help="pre-LN with a final LayerNorm (GPT-2's order)")
    parser.add_argument("--profile", action="store_true", help="also profile 20 steps of each model (CPU only)")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures one thread's CPU time: add --threads 1")
    if device.type != "cpu" and (args.clock == "cpu" or args.profile):
        parser.error(f"--clock cpu and --profile measure the CPU's own work: on {describe(device)}, "
                     "leave them out")
    if args.steps < args.eval_every:
        parser.error(f"--steps ({args.steps}) must be at least --eval-every ({args.eval_every})")
    torch.set_num_threads(args.threads)
    tokenizer, train_ids, validation_ids = shakespeare_characters()
    train_ids, validation_ids = train_ids.to(device), validation_ids.to(device)  # lm_batch cuts windows there
    config = GPTConfig.small(vocab_size=tokenizer.vocab_size, positional="learned", norm_first=args.pre_ln,
                             final_norm=args.pre_ln)
    flops = training_flops(config, BATCH, BLOCK).total
    print(f"on {describe(device)}: torch {torch.__version__}, {args.threads} threads, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', '(unset)')} "
          f"MKL_CBWR={os.environ.get('MKL_CBWR', '(unset)')}; load average before: {load()}")
    print(f"{config}\nbatch {BATCH} x {BLOCK} characters, {args.steps} steps per model per round, validation "
          f"every {args.eval_every} steps ({args.eval_batches} x 64 windows), target {args.target} nats\n")

    results = []
    print(f"{'round':>5} {'ours ms/step':>13} {'torch ms/step':>14} {'ours/torch':>11} {'s to target ours':>17} "
          f"{'torch':>6} {'steps':>11} {'max |train loss gap|':>21} {'max |val gap|':>14}")
    for seed in range(args.rounds):
        r = one_round(seed, config, train_ids, validation_ids, args, device)
        results.append(r)
        ms = {name: statistics.median(s) * 1e3 for name, s in r["seconds"].items()}
        to_target = {name: (f"{hit[1]:.1f}", str(hit[0])) if hit else ("-", "-") for name, hit in r["reached"].items()}
        train_gap = max(abs(a - b) for a, b in zip(*r["losses"].values()))
        val_gap = max(abs(a[2] - b[2]) for a, b in zip(*r["curve"].values()))
        print(f"{seed:>5} {ms['ours']:>13.1f} {ms['torch']:>14.1f} {ms['ours'] / ms['torch']:>11.3f} "
              f"{to_target['ours'][0]:>17} {to_target['torch'][0]:>6} "
              f"{to_target['ours'][1] + ' / ' + to_target['torch'][1]:>11} {train_gap:>21.1e} {val_gap:>14.1e}",
              flush=True)

    print("\nvalidation loss (ours / torch) by step, round 0: " + ", ".join(
        f"{a[0]}: {a[2]:.3f}/{b[2]:.3f}" for a, b in zip(*results[0]["curve"].values())))
    gaps = [abs(a - b) for a, b in zip(*results[0]["losses"].values())]
    print("largest |training loss gap| in round 0, steps 1-10, 1-100, all: "
          f"{max(gaps[:10]):.1e}, {max(gaps[:100]):.1e}, {max(gaps):.1e}; logits before training differ by at most "
          f"{max(r['gap'] for r in results):.1e}")
    ratios = [statistics.median(r["seconds"]["ours"]) / statistics.median(r["seconds"]["torch"]) for r in results]
    hits = [r["reached"] for r in results if all(r["reached"].values())]
    print(f"\nmedian over rounds: ours / torch seconds per step {statistics.median(ratios):.3f}"
          + (f", seconds to {args.target}: ours {statistics.median(h['ours'][1] for h in hits):.1f}, torch "
             f"{statistics.median(h['torch'][1] for h in hits):.1f}, ratio "
             f"{statistics.median(h['ours'][1] / h['torch'][1] for h in hits):.3f}" if hits else
             f"; the target {args.target} was not reached by both in any round"))
    peak = 2 * 2048 ** 3 / statistics.median(t for r in results for t in r["matmul_seconds"])
    print(f"\nFLOPs (matrix products, transformer_edu.flops.training_flops): {flops / 1e9:.2f} GFLOP per step; "
          f"the 2048 x 2048 matmul timed between the steps: {peak / 1e9:.1f} GFLOP/s on "
          + (f"{args.threads} threads" if device.type == "cpu" else describe(device)))
    for name in ("ours", "torch"):
        step_seconds = statistics.median(statistics.median(r["seconds"][name]) for r in results)
        print(f"  {name:<6} {step_seconds * 1e3:6.1f} ms per step = {flops / step_seconds / 1e9:5.1f} GFLOP/s, "
              f"{flops / step_seconds / peak:.0%} of the measured matmul peak")
    if args.profile:
        torch.manual_seed(0)
        ours = GPT(config)
        for name, model in (("ours", ours), ("torch", TorchGPT.copy_of(ours))):
            print(f"\nprofile of 20 steps, {name}:")
            profile(model, train_ids, 20, 14)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
