"""Seconds of training until 99% held-out exact match on the dates task: ours and torch.nn.Transformer.

Both models are built from one config (the shipped dates model's: `python -m transformer_edu.train` defaults)
and start from the same weights: the nn.Transformer model (benchmarks/train_step.py) has our embeddings,
positions and tied output layer around torch's stacks, with our weights copied in. Both get final_norm=True,
since nn.Transformer always has those LayerNorms. They see the same batches in the same order, with the
same loss (label smoothing 0.1), optimizer (Adam 0.9/0.98/1e-9) and schedule, through transformer_edu's
train(). Every --eval-every steps both are scored by one greedy-decoding function (re-running the decoder
over the prefix, no cache, for both) on the same 1,000 held-out examples; "seconds" counts the updates only,
not the evaluations. One difference stays: with dropout > 0, nn.Transformer also drops attention weights
and the FFN's hidden layer, where ours (as the paper) drops only sub-layer outputs and embeddings.
--device (default auto: a GPU if PyTorch sees one, else the CPU) chooses where both models train and decode.

    .venv/bin/python benchmarks/time_to_accuracy.py               # seeds 0 and 1
    .venv/bin/python benchmarks/time_to_accuracy.py --seeds 0 --eval-every 100 --dropout 0
    .venv/bin/python benchmarks/time_to_accuracy.py --device cuda
"""
from __future__ import annotations

import argparse
import os
import statistics

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from train_step import TorchTransformerModel  # benchmarks/ is on sys.path when this script runs
from transformer_edu import Transformer, TransformerConfig
from transformer_edu.data import build_tokenizers, make_dataset
from transformer_edu.devices import add_device_option, describe, parsed_device
from transformer_edu.tokenizer import BOS_ID, EOS_ID, PAD_ID
from transformer_edu.train import parse_args as cli_defaults
from transformer_edu.training import exact_match, train


@torch.no_grad()
def greedy_exact_match(model: nn.Module, src: torch.Tensor, expected: torch.Tensor) -> float:
    """Fraction of rows whose greedy output is `expected` (target + EOS, PAD after). Works for any model
    mapping (src ids, target prefix) to logits; re-runs the whole prefix at every step. src, expected and the
    model on one device."""
    was_training = model.training
    model.eval()
    ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long, device=src.device)  # (B, 1)
    for _ in range(expected.shape[1]):
        next_ids = model(src, ys)[:, -1].argmax(dim=-1)  # (B,)
        ys = torch.cat([ys, next_ids[:, None]], dim=1)  # (B, t + 1)
    model.train(was_training)
    real = expected != PAD_ID  # up to and including EOS; what comes after EOS does not count
    return float(((ys[:, 1:] == expected) | ~real).all(dim=1).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one run of each model per seed")
    parser.add_argument("--eval-every", type=int, default=50, help="steps between held-out evaluations")
    parser.add_argument("--max-steps", type=int, default=3000, help="give up after this many steps")
    parser.add_argument("--target", type=float, default=0.99, help="held-out exact match to reach")
    parser.add_argument("--dropout", type=float, default=None, help="P_drop (default: the shipped model's 0.1)")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)
    d = cli_defaults([])  # the shipped model's sizes and training settings
    d.dropout = d.dropout if args.dropout is None else args.dropout
    tokenizers = build_tokenizers("dates")
    train_pairs, test_pairs = make_dataset("dates", args.max_steps * d.batch_size, d.n_test, seed=d.data_seed)
    src = pad_sequence([torch.tensor(tokenizers[0].encode(s)) for s, _ in test_pairs], batch_first=True).to(device)
    expected = pad_sequence([torch.tensor(tokenizers[1].encode(t) + [EOS_ID]) for _, t in test_pairs],
                            batch_first=True).to(device)
    config = TransformerConfig(src_vocab_size=tokenizers[0].vocab_size, tgt_vocab_size=tokenizers[1].vocab_size,
                               d_model=d.d_model, n_heads=d.heads, d_ff=d.d_ff, n_encoder_layers=d.layers,
                               n_decoder_layers=d.layers, dropout=d.dropout, max_len=64, final_norm=True)
    print(f"on {describe(device)}: torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"dates: d_model {d.d_model}, {d.heads} heads, d_ff {d.d_ff}, {d.layers}+{d.layers} layers, dropout "
          f"{d.dropout}, final_norm; batch {d.batch_size}, warmup {d.warmup}, lr factor {d.lr_factor}, smoothing "
          f"{d.smoothing}; exact match on {len(test_pairs)} held-out examples every {args.eval_every} steps\n")
    print(f"{'model':<16} {'seed':>4} {'seconds to ' + format(args.target, '.0%'):>15} {'steps':>6} "
          f"{'steps/s':>8} {'exact match':>12}")
    results: dict[str, list[float]] = {"ours": [], "nn.Transformer": []}
    for seed in args.seeds:
        torch.manual_seed(seed)
        ours = Transformer(config)
        theirs = TorchTransformerModel.copy_of(ours)  # copied on the CPU, then both moved
        models = {"ours": ours.to(device), "nn.Transformer": theirs.to(device)}
        for name, model in models.items():  # train() moves each batch to the model's device
            history = train(model, train_pairs, tokenizers=tokenizers, steps=args.max_steps,
                            batch_size=d.batch_size, warmup_steps=d.warmup, lr_factor=d.lr_factor,
                            smoothing=d.smoothing, eval_every=args.eval_every, seed=seed, progress=False,
                            eval_fn=lambda m: {"exact_match": greedy_exact_match(m, src, expected)},
                            stop_when=lambda metrics: metrics["exact_match"] >= args.target)
            step, accuracy = history["val_exact_match"][-1]
            seconds = history["train_seconds"][step - 1]
            reached = accuracy >= args.target
            results[name].append(seconds if reached else float("nan"))
            print(f"{name:<16} {seed:>4} {seconds if reached else float('nan'):>15.1f} {step:>6} "
                  f"{step / seconds:>8.1f} {accuracy:>12.3f}")
            if name == "ours":  # the benchmark's evaluation agrees with the package's
                assert abs(accuracy - exact_match(model, test_pairs, *tokenizers)) < 1e-9
    print()
    for name, seconds in results.items():
        print(f"{name}: median {statistics.median(seconds):.1f} s to {args.target:.0%} over seeds {args.seeds}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
