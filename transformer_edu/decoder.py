"""The decoder stack (paper section 3.1, right half of Figure 1).

Each of the N = 6 layers has three sub-layers, each wrapped in Add & Norm: a Block with causal
self-attention and encoder-decoder attention (block.py).
  1. masked multi-head self-attention over the target so far (a position may not look at later positions),
  2. encoder-decoder ("cross") attention: queries from the decoder, keys and values from the encoder output,
  3. the position-wise feed-forward network.
"""
from __future__ import annotations

from torch import Tensor

from .block import Block, Stack
from .checks import check_int
from .kv_cache import KVCache


class DecoderLayer(Block):
    """Masked self-attention, encoder-decoder attention and feed-forward, each with Add & Norm.
    Called as layer(y, tgt_mask, memory, src_mask)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 activation: str = "relu", attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5,
                 ffn_dropout: float = 0.0, **later):
        """later: changes made since 2017 that Block takes (norm, n_kv_heads, attention_kernel)."""
        super().__init__(d_model, n_heads, d_ff, cross_attention=True, causal=True, dropout=dropout,
                         norm_first=norm_first, activation=activation, attention_dropout=attention_dropout,
                         layer_norm_eps=layer_norm_eps, ffn_dropout=ffn_dropout, **later)


class Decoder(Stack):
    """N decoder layers. Called as decoder(y, memory, src_mask, tgt_mask)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, final_norm: bool = False, activation: str = "relu",
                 attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5, ffn_dropout: float = 0.0,
                 **later):
        check_int("n_layers", n_layers)
        super().__init__([DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, attention_dropout,
                                       layer_norm_eps, ffn_dropout, **later) for _ in range(n_layers)],
                         final_norm)

    def forward(self, y: Tensor, memory: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: y (B, T, D) embedded target, memory (B, S, D), src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T)
        -> (B, T, D) [, AttentionWeights: decoder_self N x (B, H, T, T), cross N x (B, H, T, S)]."""
        return super().forward(y, tgt_mask, memory, src_mask, cache, return_attention)
