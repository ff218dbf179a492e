"""The encoder stack (paper section 3.1, left half of Figure 1).

Each of the N = 6 identical layers has two sub-layers: multi-head self-attention, then a position-wise
feed-forward network, each wrapped in a residual connection and layer normalization (AddNorm).
"""
from __future__ import annotations

from torch import Tensor, nn

from .checks import check_features, weight_dtype
from .feed_forward import PositionwiseFeedForward
from .multi_head_attention import MultiHeadAttention
from .residual import AddNorm


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 activation: str = "relu", attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=attention_dropout)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, activation)
        self.add_norm_attn = AddNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.add_norm_ff = AddNorm(d_model, dropout, norm_first, layer_norm_eps)

    def forward(self, x: Tensor, src_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: x (B, S, D), src_mask (B, 1, 1, S) -> (B, S, D) [, weights (B, H, S, S)]."""
        weights = None

        def self_attention(h: Tensor) -> Tensor:
            nonlocal weights
            out, weights = self.self_attn(h, h, h, mask=src_mask, return_attention=True)
            return out

        x = self.add_norm_attn(x, self_attention)  # (B, S, D)
        x = self.add_norm_ff(x, self.feed_forward)  # (B, S, D)
        return (x, weights) if return_attention else x


class Encoder(nn.Module):
    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, final_norm: bool = False, activation: str = "relu",
                 attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, attention_dropout, layer_norm_eps)
            for _ in range(n_layers))  # N independent layers, each with its own weights
        self.final_norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None  # not in the paper

    def forward(self, x: Tensor, src_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: x (B, S, D) embedded source, src_mask (B, 1, 1, S) -> memory (B, S, D)
        [, list of N weights (B, H, S, S)]."""
        check_features(x, self.d_model, "encoder input", weight_dtype(self),
                       hint="; embed token ids first (or call Transformer.encode)", finite=True)
        all_weights = []
        for layer in self.layers:
            x, weights = layer(x, src_mask, return_attention=True)  # (B, S, D)
            all_weights.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return (x, all_weights) if return_attention else x
