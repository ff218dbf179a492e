"""The encoder: layers of self-attention and feed-forward, each with Add & Norm (chapters 7 and 8; paper
section 3.1)."""
from __future__ import annotations

from torch import Tensor, nn

from transformer_edu.track import todo

from .feed_forward import PositionwiseFeedForward
from .multi_head_attention import MultiHeadAttention


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward, each wrapped in Add & Norm with dropout on the sub-layer's output:
        post-LN (the paper, norm_first=False):  x = LayerNorm(x + Dropout(Sublayer(x)))
        pre-LN (a later change, norm_first=True): x = x + Dropout(Sublayer(LayerNorm(x)))"""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False):
        """Given."""
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff)
        self.self_attn_norm = nn.LayerNorm(d_model)
        self.ff_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Shapes: x (B, S, D), mask (B, 1, 1, S) -> (B, S, D). Both orders, chosen by self.norm_first."""
        todo("encoder-layer")


class Encoder(nn.Module):
    """N encoder layers applied in turn, each with its own weights."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False):
        """Given."""
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
                                    for _ in range(n_layers))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Shapes: x (B, S, D) embedded source, mask (B, 1, 1, S) -> memory (B, S, D)."""
        todo("encoder")
