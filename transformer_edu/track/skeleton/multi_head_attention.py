"""Multi-head attention (chapter 6; paper section 3.2.2)."""
from __future__ import annotations

from torch import Tensor, nn

from transformer_edu.track import todo

from .attention import scaled_dot_product_attention
from .kv_cache import AttentionCache


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W^Q_i, K W^K_i, V W^V_i).
    The h matrices W^Q_i (D x d_k) sit side by side in one D x D linear layer w_q (likewise w_k, w_v)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        """Given."""
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, L, D) -> (B, H, L, d_k): feature block i (d_k wide) of every position goes to head i."""
        todo("multi-head-attention")

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, L, d_k) -> (B, L, D): the Concat of the equation (undoes split_heads)."""
        todo("multi-head-attention")

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                return_attention: bool = False):
        """Project, split into heads, attend (scaled_dot_product_attention with self.dropout), merge, apply
        w_o. Shapes: query (B, T, D), key and value (B, S, D), mask broadcastable to (B, H, T, S)
        -> (B, T, D), and with return_attention=True also the weights (B, H, T, S)."""
        todo("multi-head-attention")

    def forward_cached(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                       return_attention: bool = False, *, cache: AttentionCache):
        """forward, keeping keys and values in `cache` between decoding steps (chapter 12). Append mode: key
        and value hold the new positions only; project them, cache.add them, attend to all kept ones. Static
        mode: project key and value (the memory) at the first step only (when cache.k is None), then reuse
        cache.k and cache.v. Shapes as forward, with S = every position kept."""
        todo("kv-cache")
