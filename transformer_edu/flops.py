"""Floating-point operations of a forward pass and of a training step, counted from a model's shapes.

The 2017 paper reports what training cost (Table 2) as training time x number of GPUs x an estimate of each
GPU's sustained single-precision FLOP/s (section 6.1 and its footnote 5): 3.3 x 10^18 for the base model.
Here the count comes from the shapes instead, so it can be set beside a measured time (benchmarks/).

Convention: a multiply-add is 2 floating-point operations, so a (m x k) by (k x n) matrix product costs
2mkn. Counted, in every layer: the projections W^Q, W^K, W^V, W^O; the scores Q K^T; the softmax weights
times V (`mixing`); the feed-forward network's W_1 and W_2; and the output layer. Two later changes alter
the products (chapter 17): shared key/value heads (n_kv_heads) narrow W^K and W^V, and SwiGLU adds the
gate's matrix to the feed-forward network; the others (RMSNorm, rotary positions, the fused kernel) change
no product. A training step is 3 x the forward pass: the backward pass of Y = X W computes dX = dY W^T and
dW = X^T dY, two products of the same size (the "6N per token" of Kaplan et al. 2020: 2N forward, 4N
backward, for N weights in matrix products). Three is exact here because every product's inputs need
gradients (the first layer's input is the embedding, a parameter too); a frozen part would skip some of the
backward products.

Left out: bias adds, the 1/sqrt(d_k) scaling, masks, softmax, LayerNorm, the activation, residual adds, the
embedding lookup (a row copy), the loss and the optimizer's update. Each costs a few operations per element
of a tensor, not per element x width as a product does. The largest, the softmax, costs a few operations per
score, where Q K^T and the mixing together cost 4 d_k. The scores are counted for every (query, key) pair,
future ones included: the model computes them all and masks afterwards (a fused causal kernel could skip
about half of them). torch.utils.flop_counter.FlopCounterMode counts the same products on the real model
(tests/test_flops.py checks that the two agree exactly).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .checks import check_int, check_positions
from .config import TransformerConfig
from .gpt import GPTConfig


@dataclass(frozen=True)
class FlopCount:
    """Floating-point operations of the matrix products (2 per multiply-add), by part of the model."""

    projections: int = 0  # W^Q, W^K, W^V, W^O of every attention sub-layer
    scores: int = 0  # Q K^T, every head, every (query, key) pair
    mixing: int = 0  # the softmax weights times V
    feed_forward: int = 0  # W_1 and W_2 of every position-wise feed-forward network
    output: int = 0  # the pre-softmax linear layer: D -> V at every position

    @property
    def total(self) -> int:
        return sum(dataclasses.astuple(self))

    def __add__(self, other: "FlopCount") -> "FlopCount":
        return FlopCount(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    def __mul__(self, factor: int) -> "FlopCount":
        return FlopCount(*(factor * a for a in dataclasses.astuple(self)))

    __rmul__ = __mul__


def attention_flops(batch_size: int, queries: int, new_keys: int, keys: int, d_model: int,
                    kv_width: int | None = None) -> FlopCount:
    """One multi-head attention: `queries` rows through W^Q and W^O (D -> D), `new_keys` rows through W^K
    and W^V (D -> kv_width: D, or H_kv d_k with shared key/value heads; only the rows a cache does not hold
    yet), and the scores and mixing over all `keys`. Summed over the H query heads, Q K^T is 2 x queries x
    keys x d_k per head, 2 x queries x keys x D in all (a shared key/value head is used by several of them)."""
    kv_width = d_model if kv_width is None else kv_width
    return FlopCount(projections=2 * batch_size * (2 * queries * d_model + 2 * new_keys * kv_width) * d_model,
                     scores=2 * batch_size * queries * keys * d_model,
                     mixing=2 * batch_size * queries * keys * d_model)


def feed_forward_flops(batch_size: int, length: int, d_model: int, d_ff: int, gated: bool = False) -> FlopCount:
    """W_1 (D -> F) and W_2 (F -> D) at every one of the batch_size x length positions; with a gated unit
    (SwiGLU) W_1 and the gate's V together (D -> 2F), so three products of that size instead of two."""
    return FlopCount(feed_forward=(3 if gated else 2) * (2 * batch_size * length * d_model * d_ff))


def forward_flops(config, batch_size: int, length: int, source_length: int | None = None,
                  past: int = 0) -> FlopCount:
    """The matrix products of one forward pass, by part.

    GPTConfig: `length` new tokens (B, T), attending to themselves and to `past` tokens already in a key/value
    cache (generation: past = tokens seen so far, length = 1). TransformerConfig: `source_length` S tokens
    through the encoder, `length` T target tokens through the decoder (one forward pass of Transformer).
    """
    if not isinstance(config, (GPTConfig, TransformerConfig)):
        raise ValueError(f"config must be a GPTConfig or a TransformerConfig, got {type(config).__name__}")
    check_int("batch_size", batch_size)
    check_int("length", length, why=" (tokens in the forward pass)")
    check_int("past", past, 0, why=" (tokens already in the key/value cache)")
    d, f, gated = config.d_model, config.d_ff, config.activation == "swiglu"
    kv_width = (config.n_kv_heads or config.n_heads) * config.d_k  # D unless key/value heads are shared
    if isinstance(config, GPTConfig):
        if source_length is not None:
            raise ValueError(f"a decoder-only model has no source: source_length must be None for a GPTConfig, "
                             f"got {source_length!r}")
        check_positions(past, length, config.max_len)
        layer = (attention_flops(batch_size, length, length, past + length, d, kv_width)
                 + feed_forward_flops(batch_size, length, d, f, gated))
        return config.n_layers * layer + FlopCount(output=2 * batch_size * length * d * config.vocab_size)
    if source_length is None:
        raise ValueError("an encoder-decoder model needs source_length (S, the source tokens) for a "
                         "TransformerConfig, got None")
    check_int("source_length", source_length)
    if past:
        raise ValueError(f"past (a key/value cache) is counted for a GPTConfig only, got past={past} for a "
                         f"TransformerConfig")
    for name, n in (("source_length", source_length), ("length", length)):
        check_int(name, n, 1, config.max_len, f" (at most max_len={config.max_len})")
    b, s, t = batch_size, source_length, length
    encoder_layer = attention_flops(b, s, s, s, d, kv_width) + feed_forward_flops(b, s, d, f, gated)
    decoder_layer = (attention_flops(b, t, t, t, d, kv_width)  # masked self-attention
                     + attention_flops(b, t, s, s, d, kv_width)  # encoder-decoder attention: keys from the memory
                     + feed_forward_flops(b, t, d, f, gated))
    return (config.n_encoder_layers * encoder_layer + config.n_decoder_layers * decoder_layer
            + FlopCount(output=2 * batch_size * t * d * config.tgt_vocab_size))


def training_flops(config, batch_size: int, length: int, source_length: int | None = None) -> FlopCount:
    """The matrix products of one training step: 3 x forward_flops (forward + backward, see the module
    docstring); the optimizer's update is left out. Arguments as forward_flops, without a cache."""
    return 3 * forward_flops(config, batch_size, length, source_length)
