"""One training step of our Transformer and of torch.nn.Transformer (book/performance.md: on the CPU).

A step is forward pass, label-smoothed loss, backward pass and Adam update. Both models have the same parts
and sizes: our TokenEmbedding (one matrix shared by source, target and output layer, section 3.4) and
sinusoidal PositionalEncoding around either our encoder-decoder stacks (built with final_norm=True, because
nn.Transformer always ends each stack with a LayerNorm) or nn.Transformer's (torch_transformer_like, with
torch's default execution paths). Both start from the same weights, see the same batches and use the same
optimizer. They run alternately (A B A B ...), so a change in machine load hits both alike; the first
steps of each are warm-up and not timed. Dropout is 0 by default: nn.Transformer also drops out attention
weights and the FFN's hidden layer, which ours does not (pass --dropout to include it anyway). --device
(default auto: a GPU if PyTorch sees one, else the CPU) chooses where both models train; each timed step waits
for the device to finish (devices.synchronize).

    .venv/bin/python benchmarks/train_step.py            # the book's table
    .venv/bin/python benchmarks/train_step.py --quick    # a short run
    .venv/bin/python benchmarks/train_step.py --quick --device cuda
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import Tensor, nn

from transformer_edu import (PositionalEncoding, TokenEmbedding, Transformer, TransformerConfig,
                             copy_stacks_to_torch, torch_transformer_like)
from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.training import LabelSmoothingLoss, make_optimizer

CONFIGS = {
    "small preset": dict(),  # d_model 64, 4 heads, d_ff 256, 2+2 layers
    "mid-size": dict(d_model=256, n_heads=4, d_ff=1024, n_encoder_layers=3, n_decoder_layers=3),
}


class TorchTransformerModel(nn.Module):
    """nn.Transformer with our embeddings, positions and tied output layer: the same model as ours, but with
    torch's encoder and decoder stacks. Takes and returns what Transformer.forward does (ids -> logits)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.src_embed = TokenEmbedding(config.src_vocab_size, config.d_model)
        self.tgt_embed = self.src_embed if config.share_embeddings else TokenEmbedding(config.tgt_vocab_size,
                                                                                       config.d_model)
        self.src_position = PositionalEncoding(config.d_model, config.max_len, config.dropout)
        self.tgt_position = PositionalEncoding(config.d_model, config.max_len, config.dropout)
        self.transformer = torch_transformer_like(config)
        self.output = nn.Linear(config.d_model, config.tgt_vocab_size, bias=False)
        if config.share_embeddings:
            self.output.weight = self.tgt_embed.weight

    @classmethod
    def copy_of(cls, ours: Transformer) -> "TorchTransformerModel":
        """The same weights as `ours` (embeddings, stacks, output layer)."""
        model = cls(ours.config)
        model.load_state_dict({k: v for k, v in ours.state_dict().items()
                               if k.startswith(("src_embed", "tgt_embed", "output"))}, strict=False)
        copy_stacks_to_torch(ours.encoder, ours.decoder, model.transformer)
        return model

    def forward(self, src_ids: Tensor, tgt_ids: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None) -> Tensor:
        """Shapes: src_ids (B, S), tgt_ids (B, T) -> logits (B, T, V). Like Transformer.forward, but the masks
        are always built from the ids (src_mask/tgt_mask are accepted and ignored)."""
        return self._decode(tgt_ids, self.encode(src_ids), src_ids == self.config.pad_id)

    # The Seq2SeqModel protocol (transformer_edu/protocol.py), so that train() and the package's greedy
    # decoding (use_cache=False) take this model as they take ours.
    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None, return_attention: bool = False) -> Tensor:
        """Source ids (B, S) -> memory (B, S, D) through torch's encoder stack (padding found from the ids)."""
        if return_attention:
            raise ValueError("nn.Transformer's stacks do not return their attention weights")
        x = self.src_position(self.src_embed(src_ids))  # (B, S, D)
        return self.transformer.encoder(x, src_key_padding_mask=src_ids == self.config.pad_id)

    def decode(self, tgt_ids: Tensor, memory: Tensor, src_mask: Tensor | None = None,
               tgt_mask: Tensor | None = None, cache=None, return_attention: bool = False) -> Tensor:
        """Target ids (B, T) and memory -> logits (B, T, V); src_mask in our convention (True = may attend,
        (B, 1, 1, S)); the causal and target padding masks are built from the ids."""
        if cache is not None or return_attention:
            raise ValueError("nn.Transformer's stacks keep no key/value cache and return no attention weights: "
                             "decode with use_cache=False")
        return self._decode(tgt_ids, memory, None if src_mask is None else ~src_mask[:, 0, 0, :])

    def _decode(self, tgt_ids: Tensor, memory: Tensor, memory_blocked: Tensor | None) -> Tensor:
        """torch's convention for masks: True = blocked."""
        length = tgt_ids.shape[1]
        future = torch.ones(length, length, dtype=torch.bool, device=tgt_ids.device).triu(1)  # (T, T)
        y = self.transformer.decoder(self.tgt_position(self.tgt_embed(tgt_ids)), memory, tgt_mask=future,
                                     tgt_key_padding_mask=tgt_ids == self.config.pad_id,
                                     memory_key_padding_mask=memory_blocked)
        return self.output(y)  # (B, T, V)

    def new_cache(self):
        raise ValueError("nn.Transformer's stacks keep no key/value cache: decode with use_cache=False")

    def attention_layers(self) -> dict:
        raise ValueError("nn.Transformer's attention modules are torch's, not transformer_edu's "
                         "MultiHeadAttention: ablation and the views take our Transformer")


def random_batches(n: int, batch: int, src_len: int, tgt_len: int, vocab: int, seed: int,
                   device: str | torch.device = "cpu") -> list[tuple]:
    """Token ids with ragged lengths (padding at the end), like real batches: drawn on the CPU (the same ids on
    every device), then moved to `device`."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        src = torch.randint(3, vocab, (batch, src_len), generator=g)
        tgt = torch.randint(3, vocab, (batch, tgt_len + 1), generator=g)
        for ids, full in ((src, src_len), (tgt, tgt_len + 1)):
            lengths = torch.randint(full // 2, full + 1, (batch,), generator=g)
            ids[torch.arange(full)[None, :] >= lengths[:, None]] = 0  # PAD after each length
        batches.append((src.to(device), tgt[:, :-1].to(device), tgt[:, 1:].to(device)))
    return batches


def check_same_function(ours: nn.Module, theirs: nn.Module, batch: tuple) -> None:
    """Both models compute the same logits at every real target position (before training, dropout off)."""
    src, tgt_in, _ = batch
    with torch.no_grad():
        gap = (ours.eval()(src, tgt_in) - theirs.eval()(src, tgt_in))[tgt_in != ours.config.pad_id].abs().max()
    if gap > 1e-4:
        raise RuntimeError(f"the two models differ by {float(gap):.2e}: the comparison would be unfair")


def step_timer(model: nn.Module, batches: list[tuple], device: torch.device):
    optimizer, scheduler = make_optimizer(model, d_model=model.config.d_model, warmup_steps=4000)
    loss_fn = LabelSmoothingLoss(0.1, ignore_index=model.config.pad_id)
    model.train()
    state = {"i": 0}

    def step() -> float:
        src, tgt_in, tgt_out = batches[state["i"] % len(batches)]
        state["i"] += 1
        synchronize(device)  # a GPU runs asynchronously: wait for it before each clock read
        start = time.perf_counter()
        loss = loss_fn(model(src, tgt_in), tgt_out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        synchronize(device)
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per model first")
    parser.add_argument("--batch", type=int, default=64, help="sentences per batch")
    parser.add_argument("--src-len", type=int, default=24, help="longest source S")
    parser.add_argument("--tgt-len", type=int, default=24, help="longest target T")
    parser.add_argument("--vocab", type=int, default=1000, help="vocabulary size V")
    parser.add_argument("--dropout", type=float, default=0.0, help="P_drop for both models")
    parser.add_argument("--quick", action="store_true", help="a short run: 30 timed steps after 5 warm-up")
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)
    if args.quick:
        args.steps, args.warmup = 30, 5

    print(f"on {describe(device)}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"batch {args.batch}, source length <= {args.src_len}, target length <= {args.tgt_len}, "
          f"vocabulary {args.vocab}, dropout {args.dropout}; median of {args.steps} steps after "
          f"{args.warmup} warm-up steps, the two models alternating\n")
    print(f"{'configuration':<14} {'ours (ms)':>10} {'torch (ms)':>11} {'ours / torch':>13}")
    for name, changes in CONFIGS.items():
        torch.manual_seed(0)
        config = TransformerConfig.small(vocab_size=args.vocab, dropout=args.dropout, final_norm=True, **changes)
        ours = Transformer(config)
        theirs = TorchTransformerModel.copy_of(ours)
        ours, theirs = ours.to(device), theirs.to(device)  # copied on the CPU, then both moved
        batches = random_batches(16, args.batch, args.src_len, args.tgt_len, args.vocab, seed=1, device=device)
        check_same_function(ours, theirs, batches[0])
        timers = {"ours": step_timer(ours, batches, device), "torch": step_timer(theirs, batches, device)}
        times: dict[str, list[float]] = {"ours": [], "torch": []}
        for i in range(args.warmup + args.steps):
            for key, step in timers.items():
                seconds = step()
                if i >= args.warmup:
                    times[key].append(seconds)
        ours_ms, torch_ms = (statistics.median(times[k]) * 1e3 for k in ("ours", "torch"))
        print(f"{name:<14} {ours_ms:>10.1f} {torch_ms:>11.1f} {ours_ms / torch_ms:>12.2f}x")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
