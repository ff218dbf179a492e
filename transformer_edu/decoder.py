"""The decoder stack (paper section 3.1, right half of Figure 1).

Each of the N = 6 layers has three sub-layers, each wrapped in AddNorm:
  1. masked multi-head self-attention over the target so far (a position may not look at later positions),
  2. encoder-decoder ("cross") attention: queries from the decoder, keys and values from the encoder output,
  3. the position-wise feed-forward network.
"""
from __future__ import annotations

from torch import Tensor, nn

from .checks import check_features, weight_dtype
from .feed_forward import PositionwiseFeedForward
from .multi_head_attention import MultiHeadAttention
from .residual import AddNorm


class KVCache:
    """Keys and values kept between decoding steps, so each step projects only the newest token.

    Per layer: "self" grows by one position per step; "cross" is computed from the memory once.
    """

    def __init__(self, n_layers: int):
        self.layers = [{"self": {}, "cross": {}} for _ in range(n_layers)]

    @property
    def length(self) -> int:
        """How many target positions are cached already."""
        cached = self.layers[0]["self"].get("k")
        return 0 if cached is None else cached.shape[2]

    def select(self, index: Tensor) -> None:
        """Keep batch rows `index` (in that order), e.g. the surviving hypotheses of a beam search."""
        for layer in self.layers:
            for part in layer.values():
                for name in list(part):
                    part[name] = part[name].index_select(0, index)


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 activation: str = "relu", attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=attention_dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=attention_dropout)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, activation)
        self.add_norm_self = AddNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.add_norm_cross = AddNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.add_norm_ff = AddNorm(d_model, dropout, norm_first, layer_norm_eps)

    def forward(self, y: Tensor, memory: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                return_attention: bool = False, cache: dict | None = None):
        """Shapes: y (B, T, D), memory (B, S, D), src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T)
        -> (B, T, D) [, (self weights (B, H, T, T), cross weights (B, H, T, S))]."""
        self_weights = cross_weights = None

        def masked_self_attention(h: Tensor) -> Tensor:
            nonlocal self_weights
            out, self_weights = self.self_attn(h, h, h, mask=tgt_mask, return_attention=True,
                                               cache=None if cache is None else cache["self"])
            return out

        def cross_attention(h: Tensor) -> Tensor:
            nonlocal cross_weights
            out, cross_weights = self.cross_attn(h, memory, memory, mask=src_mask, return_attention=True,
                                                 cache=None if cache is None else cache["cross"], static_kv=True)
            return out

        y = self.add_norm_self(y, masked_self_attention)  # (B, T, D)
        y = self.add_norm_cross(y, cross_attention)  # (B, T, D)
        y = self.add_norm_ff(y, self.feed_forward)  # (B, T, D)
        return (y, (self_weights, cross_weights)) if return_attention else y


class Decoder(nn.Module):
    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, final_norm: bool = False, activation: str = "relu",
                 attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, attention_dropout, layer_norm_eps)
            for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None  # not in the paper

    def new_cache(self) -> KVCache:
        return KVCache(len(self.layers))

    def forward(self, y: Tensor, memory: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                return_attention: bool = False, cache: KVCache | None = None):
        """Shapes: y (B, T, D) embedded target, memory (B, S, D) -> (B, T, D)
        [, self weights list of N (B, H, T, T), cross weights list of N (B, H, T, S)]."""
        for name, t in (("decoder input", y), ("memory", memory)):
            check_features(t, self.d_model, name, weight_dtype(self), finite=True)  # once, not in each layer
        if y.shape[0] != memory.shape[0]:
            raise ValueError(f"decoder input and memory must share the batch size, got {y.shape[0]} and {memory.shape[0]}")
        self_weights, cross_weights = [], []
        for i, layer in enumerate(self.layers):
            y, (w_self, w_cross) = layer(y, memory, src_mask, tgt_mask, return_attention=True,
                                         cache=None if cache is None else cache.layers[i])
            self_weights.append(w_self)
            cross_weights.append(w_cross)
        if self.final_norm is not None:
            y = self.final_norm(y)
        return (y, self_weights, cross_weights) if return_attention else y
