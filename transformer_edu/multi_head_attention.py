"""Multi-head attention (paper section 3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,  head_i = Attention(Q W^Q_i, K W^K_i, V W^V_i)

The h projections W^Q_i (D x d_k) are stored side by side as one D x D linear layer `w_q` (likewise
`w_k`, `w_v`); splitting its output into h slices of width d_k = D / h gives the h heads.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import scaled_dot_product_attention
from .checks import check_features, check_int


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        check_int("d_model", d_model)
        check_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)  # W^Q_1..W^Q_h side by side
        self.w_k = nn.Linear(d_model, d_model, bias=bias)  # W^K_1..W^K_h
        self.w_v = nn.Linear(d_model, d_model, bias=bias)  # W^V_1..W^V_h
        self.w_o = nn.Linear(d_model, d_model, bias=bias)  # W^O
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, L, D) -> (B, H, L, d_k)."""
        b, length, _ = x.shape
        return x.view(b, length, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, L, d_k)

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, L, d_k) -> (B, L, D): the Concat in the equation above."""
        b, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(b, length, self.d_model)  # (B, L, D)

    def project_kv(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values split into heads: (B, S, D) -> two (B, H, S, d_k). Cached during decoding."""
        return self.split_heads(self.w_k(key)), self.split_heads(self.w_v(value))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                return_attention: bool = False, cache: dict | None = None, static_kv: bool = False):
        """Attend from `query` to `key`/`value`.

        Shapes:
            query (B, T, D), key and value (B, S, D); mask bool broadcastable to (B, H, T, S)
            returns (B, T, D), and weights (B, H, T, S) if return_attention
        cache: during step-by-step decoding, a dict kept between calls. With static_kv=False (self-attention)
        the new keys/values are appended to the cached ones; with static_kv=True (encoder-decoder attention)
        they are computed from `key`/`value` once and reused.
        """
        self._check_inputs(query, key, value, mask, cache, static_kv)
        q = self.split_heads(self.w_q(query))  # (B, H, T, d_k)
        if cache is not None and static_kv and "k" in cache:
            k, v = cache["k"], cache["v"]  # (B, H, S, d_k), computed at the first step
        else:
            k, v = self.project_kv(key, value)  # (B, H, S, d_k)
            if cache is not None and not static_kv and "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)  # (B, H, S_past + S, d_k)
                v = torch.cat([cache["v"], v], dim=2)
            if cache is not None:
                cache["k"], cache["v"] = k, v
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)  # (B, H, T, d_k)
        out = self.w_o(self.merge_heads(out))  # (B, T, D)
        return (out, weights) if return_attention else out

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                      cache: dict | None = None, static_kv: bool = False) -> None:
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_features(t, self.d_model, name, self.w_q.weight.dtype)
        if not (query.shape[0] == key.shape[0] == value.shape[0]):
            raise ValueError(f"query, key and value must share the batch size, got {query.shape[0]}, "
                             f"{key.shape[0]} and {value.shape[0]}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"key and value must have the same length, got {key.shape[1]} and {value.shape[1]}")
        if isinstance(mask, Tensor) and mask.dim() != 4:
            # A 2-D or 3-D mask would broadcast from the right against (B, H, T, S) and could silently be read
            # as a per-head or per-query mask when sizes happen to coincide: ask for all four axes.
            raise ValueError(f"mask must have 4 dimensions broadcastable to (batch, heads, queries, keys), got shape "
                             f"{tuple(mask.shape)}; a padding mask is (B, 1, 1, S) (masks.padding_mask), a causal "
                             f"mask (1, 1, T, T) (masks.causal_mask)")
        if cache is not None and "k" in cache and cache["k"].shape[0] != query.shape[0]:
            raise ValueError(f"the cache holds keys for a batch of {cache['k'].shape[0]}, but the query has batch "
                             f"{query.shape[0]}: start a new cache for a new batch")
        if cache is not None and static_kv and "k" in cache and cache["k"].shape[2] != key.shape[1]:
            raise ValueError(f"the cache holds keys and values for a memory of length {cache['k'].shape[2]}, but "
                             f"this memory has length {key.shape[1]}: start a new cache for a new source")

