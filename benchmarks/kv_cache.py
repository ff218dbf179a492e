"""Greedy decoding with and without the key/value cache (book/performance.md, "Key/value cache": on the CPU).

Without the cache, step t runs the decoder over all t target positions again; with it, over the one new
position, which attends to the stored keys and values. EOS is ignored (stop_at_eos=False) so that every run
generates exactly the requested number of tokens. Untrained models with fixed seeds: the timing does not
depend on what the weights have learned. --device (default auto: a GPU if PyTorch sees one, else the CPU)
chooses where the models run; each timed run waits for the device to finish (devices.synchronize).

    .venv/bin/python benchmarks/kv_cache.py                   # the book's table
    .venv/bin/python benchmarks/kv_cache.py --repeats 3 --tokens 16 64
    .venv/bin/python benchmarks/kv_cache.py --device cuda --batch 8
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from matmul_peak import median_seconds  # benchmarks/ is on sys.path when this script runs
from transformer_edu import Transformer, TransformerConfig
from transformer_edu.decoding import greedy_decode
from transformer_edu.devices import add_device_option, describe, parsed_device

MODELS = {
    "small preset (d_model 64, 4 heads, d_ff 256, 2+2 layers)":
        dict(),
    "mid-size (d_model 256, 4 heads, d_ff 1024, 3+3 layers)":
        dict(d_model=256, n_heads=4, d_ff=1024, n_encoder_layers=3, n_decoder_layers=3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[16, 64, 256], help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median reported)")
    parser.add_argument("--batch", type=int, default=1, help="sentences decoded together")
    parser.add_argument("--src-len", type=int, default=32, help="source length S")
    parser.add_argument("--vocab", type=int, default=1000, help="vocabulary size V")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)

    print(f"on {describe(device)}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"batch {args.batch}, source length {args.src_len}, vocabulary {args.vocab}, "
          f"median of {args.repeats} runs after one warm-up\n")
    for name, changes in MODELS.items():
        torch.manual_seed(0)
        config = TransformerConfig.small(vocab_size=args.vocab, max_len=max(args.tokens) + 1, **changes)
        model = Transformer(config).to(device).eval()
        src = torch.randint(3, args.vocab, (args.batch, args.src_len), device=device)
        print(name)
        print(f"{'tokens':>7} {'without cache (ms)':>19} {'with cache (ms)':>16} {'speed-up':>9} {'same output':>12}")
        for n in args.tokens:
            def decode(use_cache: bool, n: int = n) -> torch.Tensor:
                return greedy_decode(model, src, max_len=n, use_cache=use_cache, stop_at_eos=False)
            same = torch.equal(decode(True), decode(False))
            naive = median_seconds(lambda: decode(False), args.repeats, warmup=1, device=device)
            cached = median_seconds(lambda: decode(True), args.repeats, warmup=1, device=device)
            print(f"{n:>7} {naive * 1e3:>19.1f} {cached * 1e3:>16.1f} {naive / cached:>8.1f}x {str(same):>12}")
        print()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
