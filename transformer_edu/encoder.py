"""The encoder stack (paper section 3.1, left half of Figure 1).

Each of the N = 6 identical layers has two sub-layers, multi-head self-attention and a position-wise
feed-forward network, each wrapped in Add & Norm: a Block without encoder-decoder attention (block.py).
"""
from __future__ import annotations

from .block import Block, Stack
from .checks import check_int


class EncoderLayer(Block):
    """Self-attention and feed-forward, each with Add & Norm. Called as layer(x, src_mask)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 activation: str = "relu", attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5,
                 ffn_dropout: float = 0.0, **later):
        """later: changes made since 2017 that Block takes (norm, n_kv_heads, attention_kernel)."""
        super().__init__(d_model, n_heads, d_ff, cross_attention=False, causal=False, dropout=dropout,
                         norm_first=norm_first, activation=activation, attention_dropout=attention_dropout,
                         layer_norm_eps=layer_norm_eps, ffn_dropout=ffn_dropout, **later)


class Encoder(Stack):
    """N encoder layers. Called as encoder(x, src_mask): x (B, S, D) embedded source -> memory (B, S, D)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 norm_first: bool = False, final_norm: bool = False, activation: str = "relu",
                 attention_dropout: float = 0.0, layer_norm_eps: float = 1e-5, ffn_dropout: float = 0.0,
                 **later):
        check_int("n_layers", n_layers)
        super().__init__([EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, attention_dropout,
                                       layer_norm_eps, ffn_dropout, **later) for _ in range(n_layers)],
                         final_norm)
