"""One block for every stack (paper section 3.1, Figure 1), and the attention weights it returns.

A layer of the encoder has two sub-layers, a layer of the decoder three:

    self-attention            (the decoder's is masked: a position sees only its past)
    encoder-decoder attention (decoder only: queries from the decoder, keys and values from the memory)
    position-wise feed-forward network

Each sub-layer is wrapped in a residual connection and layer normalization, "Add & Norm" (section 3.1,
with dropout on the sub-layer's output, section 5.4):

    post-LN (the paper):              x = LayerNorm(x + Dropout(Sublayer(x)))
    pre-LN (a later change, Xiong et al. 2020):  x = x + Dropout(Sublayer(LayerNorm(x)))

Pre-LN keeps an un-normalized path from input to output, which trains deep stacks without the warm-up the
post-LN paper model needs; a pre-LN stack then needs one final LayerNorm (Stack's final_norm).
`Block` holds the parts; EncoderLayer and DecoderLayer (encoder.py, decoder.py) are Blocks without and with
cross-attention, and a decoder-only (GPT-style) block would be a Block with causal self-attention and none.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from .checks import check_features, check_int, check_mask, checked_by, weight_dtype
from .feed_forward import PositionwiseFeedForward
from .kv_cache import KVCache
from .multi_head_attention import MultiHeadAttention
from .normalization import make_norm

KINDS = ("encoder_self", "decoder_self", "cross")


@dataclass
class AttentionWeights:
    """Per-head attention weights, one tensor per layer and kind, from a block, a stack or a whole model.

    encoder_self: tensors (B, H, S, S); decoder_self: (B, H, T, T); cross: (B, H, T, S). A block fills the
    kinds it has (one tensor each), a stack one tensor per layer, the encoder-decoder model all three.
    """

    encoder_self: list[Tensor] = field(default_factory=list)
    decoder_self: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)

    @classmethod
    def concat(cls, parts: list["AttentionWeights"]) -> "AttentionWeights":
        """One AttentionWeights holding the layers of `parts` in order."""
        return cls(*([w for part in parts for w in getattr(part, kind)] for kind in KINDS))

    def example(self, i: int) -> "AttentionWeights":
        """Batch item i as a batch of one: the per-layer (1, H, L, L) tensors bertviz takes."""
        first = next(ws[0] for ws in (self.encoder_self, self.decoder_self, self.cross) if ws)
        check_int("example index", i, 0, first.shape[0] - 1)
        return AttentionWeights(*([w[i:i + 1].detach() for w in getattr(self, kind)] for kind in KINDS))


class Block(nn.Module):
    """Self-attention, optional encoder-decoder attention, feed-forward; each with Add & Norm.

    causal: the self-attention is the masked kind (decoder, GPT). It names the weights ("decoder_self"
    rather than "encoder_self"); the mask itself comes in with the input, built by the model.
    norm, n_kv_heads, attention_kernel, rotary: changes made since 2017 (config.py, chapter 17); rotary
    positions apply to the self-attention only.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, cross_attention: bool = False,
                 causal: bool = False, dropout: float = 0.1, attention_dropout: float = 0.0,
                 ffn_dropout: float = 0.0, activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, norm: str = "layer", n_kv_heads: int | None = None,
                 attention_kernel: str = "ours", rotary: bool = False):
        super().__init__()
        self.d_model, self.norm_first, self.norm = d_model, norm_first, norm
        self.self_kind = "decoder_self" if causal else "encoder_self"
        later = dict(n_kv_heads=n_kv_heads, kernel=attention_kernel)  # later changes, chapter 17
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=attention_dropout, rotary=rotary, **later)
        self.cross_attn = (MultiHeadAttention(d_model, n_heads, dropout=attention_dropout, **later)
                           if cross_attention else None)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, activation, ffn_dropout)
        self.self_attn_norm = make_norm(norm, d_model, layer_norm_eps)  # nn.LayerNorm in the paper
        self.cross_attn_norm = make_norm(norm, d_model, layer_norm_eps) if cross_attention else None
        self.ff_norm = make_norm(norm, d_model, layer_norm_eps)
        self.dropout = nn.Dropout(dropout)  # residual dropout, P_drop (section 5.4)

    @checked_by("check_inputs")
    def forward(self, x: Tensor, mask: Tensor | None = None, memory: Tensor | None = None,
                memory_mask: Tensor | None = None, cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: x (B, L, D), mask (B or 1, 1, L, L) or (B, 1, 1, L); memory (B, S, D) and memory_mask
        (B, 1, 1, S) for the cross-attention -> (B, L, D) [, AttentionWeights of this block].
        With a cache (decoding, chapter 12), x holds the new positions only."""
        order = self.pre_ln if self.norm_first else self.post_ln
        x, weights = order(x, mask, memory, memory_mask, cache)
        return (x, weights) if return_attention else x

    def post_ln(self, x, mask, memory, memory_mask, cache) -> tuple[Tensor, AttentionWeights]:
        """The paper's order, for each sub-layer: x = LayerNorm(x + Dropout(Sublayer(x))).
        `a` is an attention sub-layer's output; `w` collects the attention weights."""
        w = AttentionWeights()
        a = self.attend(self.self_attn, x, x, mask, cache, w)
        x = self.self_attn_norm(x + self.dropout(a))
        if self.cross_attn is not None:
            a = self.attend(self.cross_attn, x, memory, memory_mask, cache, w)
            x = self.cross_attn_norm(x + self.dropout(a))
        x = self.ff_norm(x + self.dropout(self.feed_forward(x)))
        return x, w

    def pre_ln(self, x, mask, memory, memory_mask, cache) -> tuple[Tensor, AttentionWeights]:
        """A later change, for each sub-layer: x = x + Dropout(Sublayer(LayerNorm(x)))."""
        w = AttentionWeights()
        h = self.self_attn_norm(x)
        a = self.attend(self.self_attn, h, h, mask, cache, w)
        x = x + self.dropout(a)
        if self.cross_attn is not None:
            h = self.cross_attn_norm(x)
            a = self.attend(self.cross_attn, h, memory, memory_mask, cache, w)
            x = x + self.dropout(a)
        x = x + self.dropout(self.feed_forward(self.ff_norm(x)))
        return x, w

    def attend(self, attention, query, source, mask, cache, weights) -> Tensor:
        """attention(query, source, source): self-attention when source is the query
        itself, encoder-decoder attention when it is the memory. Appends the weights
        to `weights`; with a `cache`, decodes one step at a time (chapter 12)."""
        is_cross = attention is self.cross_attn
        if cache is None:
            out, w = attention(query, source, source, mask, return_attention=True)
        else:  # the memory's keys and values stay fixed; self-attention's grow
            kept = cache.of(attention, static=is_cross)
            out, w = attention.forward_cached(query, source, source, mask,
                                              return_attention=True, cache=kept)
        getattr(weights, "cross" if is_cross else self.self_kind).append(w)
        return out  # (B, L, D)

    def check_inputs(self, x, mask=None, memory=None, memory_mask=None, cache=None, return_attention=False):
        check_features(x, self.d_model, "block input", weight_dtype(self), finite=True)
        if cache is not None:
            check_cache(cache, x.shape[0], None if memory is None else memory.shape[1])
        kept = 0 if cache is None else cache.length
        if mask is not None:
            check_mask(mask, (x.shape[0], self.self_attn.n_heads, x.shape[1], kept + x.shape[1]))
        if self.cross_attn is None:
            if memory is not None or memory_mask is not None:
                raise ValueError("this block has no encoder-decoder attention: memory and memory_mask must be None")
        else:
            check_features(memory, self.d_model, "memory", weight_dtype(self), finite=True,
                           hint=" (the encoder's output)")
            if memory.shape[0] != x.shape[0]:
                raise ValueError(f"block input and memory must share the batch size, got {x.shape[0]} and "
                                 f"{memory.shape[0]}")
            if memory_mask is not None:
                check_mask(memory_mask, (x.shape[0], self.cross_attn.n_heads, x.shape[1], memory.shape[1]),
                           "memory_mask")


def check_cache(cache, batch_size: int, memory_length: int | None) -> None:
    """Raise ValueError unless `cache` is a KVCache that belongs to this batch (and this memory)."""
    if not isinstance(cache, KVCache):
        raise ValueError(f"cache must be a KVCache (model.new_cache()), got {type(cache).__name__}")
    if cache.batch_size not in (None, batch_size):
        raise ValueError(f"the cache holds keys for a batch of {cache.batch_size}, but the input has batch "
                         f"{batch_size}: start a new cache for a new batch")
    if memory_length is not None and cache.memory_length not in (None, memory_length):
        raise ValueError(f"the cache holds keys and values for a memory of length {cache.memory_length}, but "
                         f"this memory has length {memory_length}: start a new cache for a new source")


class Stack(nn.Module):
    """N blocks applied in turn (each with its own weights), and a final LayerNorm if asked (not in the paper)."""

    def __init__(self, blocks: list[Block], final_norm: bool = False):
        super().__init__()
        if not blocks or not all(isinstance(b, Block) for b in blocks):
            raise ValueError(f"a stack needs a non-empty list of Blocks, got {blocks!r:.80}")
        self.d_model = blocks[0].d_model
        self.layers = nn.ModuleList(blocks)
        first = blocks[0]
        self.final_norm = make_norm(first.norm, self.d_model, first.ff_norm.eps) if final_norm else None

    @checked_by("check_inputs")
    def forward(self, x: Tensor, mask: Tensor | None = None, memory: Tensor | None = None,
                memory_mask: Tensor | None = None, cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: x (B, L, D) -> (B, L, D) [, AttentionWeights with one tensor per layer]; the other
        arguments as in Block.forward, passed to every layer."""
        per_layer = []
        for layer in self.layers:
            x, w = layer(x, mask, memory, memory_mask, cache, return_attention=True)
            per_layer.append(w)  # x: (B, L, D); w: this layer's AttentionWeights
        if self.final_norm is not None:
            x = self.final_norm(x)  # (B, L, D)
        return (x, AttentionWeights.concat(per_layer)) if return_attention else x

    def check_inputs(self, x, mask=None, memory=None, memory_mask=None, cache=None, return_attention=False):
        check_features(x, self.d_model, "stack input", weight_dtype(self), finite=True,
                       hint="; embed token ids first (or call the model's encode/decode)")
        self.layers[0].check_inputs(x, mask, memory, memory_mask, cache)
