"""The decoder: layers of masked self-attention, encoder-decoder attention and feed-forward, each with Add &
Norm (chapter 9; paper section 3.1)."""
from __future__ import annotations

from torch import Tensor, nn

from transformer_edu.track import todo

from .feed_forward import PositionwiseFeedForward
from .kv_cache import KVCache
from .multi_head_attention import MultiHeadAttention


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention (queries from the decoder, keys and values from the
    memory), feed-forward; each in Add & Norm as in EncoderLayer (post-LN, or pre-LN with norm_first)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False):
        """Given."""
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff)
        self.self_attn_norm = nn.LayerNorm(d_model)
        self.cross_attn_norm = nn.LayerNorm(d_model)
        self.ff_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, tgt_mask: Tensor | None, memory: Tensor, src_mask: Tensor | None = None,
                cache: KVCache | None = None) -> Tensor:
        """Shapes: y (B, T, D), tgt_mask (B, 1, T, T), memory (B, S, D), src_mask (B, 1, 1, S) -> (B, T, D).
        With a cache (chapter 12), y holds the new positions only: call the attentions' forward_cached with
        cache.of(self.self_attn) and cache.of(self.cross_attn, static=True)."""
        todo("decoder-layer")


class Decoder(nn.Module):
    """N decoder layers applied in turn, every one reading the same memory."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False):
        """Given."""
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
                                    for _ in range(n_layers))

    def forward(self, y: Tensor, memory: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                cache: KVCache | None = None) -> Tensor:
        """Shapes: y (B, T, D) embedded target, memory (B, S, D) -> (B, T, D)."""
        todo("decoder")
