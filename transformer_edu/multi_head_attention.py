"""Multi-head attention (paper section 3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,  head_i = Attention(Q W^Q_i, K W^K_i, V W^V_i)

The h projections W^Q_i (D x d_k) are stored side by side as one D x D linear layer `w_q` (likewise
`w_k`, `w_v`); splitting its output into h slices of width d_k = D / h gives the h heads.
`forward` is the equation; `forward_cached`, for step-by-step decoding, keeps keys and values (chapter 12).
Both attend with `self.attention`: chapter 5's scaled_dot_product_attention, or with a later change (shared
key/value heads, rotary positions, torch's fused kernel) an AttentionVariant (attention_variants.py, chapter 17).
"""
from __future__ import annotations

from torch import Tensor, nn

from .attention import scaled_dot_product_attention
from .attention_variants import AttentionVariant
from .checks import check_features, check_int, check_mask, checked_by
from .kv_cache import AttentionCache


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, *,
                 n_kv_heads: int | None = None, rotary: bool = False, kernel: str = "ours"):
        """n_kv_heads, rotary, kernel: later changes (attention_variants.py); the defaults are the paper's."""
        super().__init__()
        check_int("d_model", d_model)
        check_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads  # H_kv = H in the paper
        check_int("n_kv_heads", self.n_kv_heads, 1, n_heads, " (key/value heads; None: one per query head)")
        if n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads}): each "
                             f"key/value head serves the same number of query heads")
        kv_width = self.n_kv_heads * self.d_k
        self.w_q = nn.Linear(d_model, d_model, bias=bias)  # W^Q_1..W^Q_h side by side
        self.w_k = nn.Linear(d_model, kv_width, bias=bias)  # W^K_1..W^K_h
        self.w_v = nn.Linear(d_model, kv_width, bias=bias)  # W^V_1..W^V_h
        self.w_o = nn.Linear(d_model, d_model, bias=bias)  # W^O
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        if self.n_kv_heads == n_heads and not rotary and kernel == "ours":
            self.attention = scaled_dot_product_attention  # equation 1, chapter 5
        else:
            self.attention = AttentionVariant(n_heads, self.n_kv_heads, rotary, kernel)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, L, D) -> (B, H, L, d_k); keys, values: H_kv heads (chapter 17)."""
        b, length, _ = x.shape
        return x.view(b, length, -1, self.d_k).transpose(1, 2)  # (B, H, L, d_k)

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, L, d_k) -> (B, L, D): the Concat in the equation above."""
        b, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(b, length, self.d_model)  # (B, L, D)

    @checked_by("check_inputs")
    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                return_attention: bool = False):
        """Attend from `query` to `key`/`value`. Shapes: query (B, T, D), key and value (B, S, D); mask bool
        broadcastable to (B, H, T, S) -> (B, T, D) [, weights (B, H, T, S)]."""
        q = self.split_heads(self.w_q(query))  # (B, H, T, d_k): Q W^Q_i for every head i
        k = self.split_heads(self.w_k(key))  # (B, H, S, d_k)
        v = self.split_heads(self.w_v(value))  # (B, H, S, d_k)
        heads, w = self.attention(q, k, v, mask, self.dropout)  # (B, H, T, d_k)
        out = self.w_o(self.merge_heads(heads))  # (B, T, D): Concat(head_1, ..., head_h) W^O
        return (out, w) if return_attention else out  # w: the weights (B, H, T, S)

    @checked_by("check_inputs")
    def forward_cached(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                       return_attention: bool = False, *, cache: AttentionCache):
        """forward, with keys and values kept in `cache` between decoding steps (chapter 12). Append mode
        (self-attention): key and value hold the new positions only, projected and added to the kept ones.
        Static mode (cross-attention): key and value (the memory) are projected at the first step only.
        Shapes as forward, with S = all positions kept."""
        q = self.split_heads(self.w_q(query))  # (B, H, T, d_k)
        if cache.static and cache.k is not None:
            k, v = cache.k, cache.v  # (B, H, S, d_k), projected at the first step
        else:  # the new positions (or the memory, at the first step), kept
            k = self.split_heads(self.w_k(key))  # (B, H, S_new, d_k)
            v = self.split_heads(self.w_v(value))
            k, v = cache.add(k, v)  # (B, H, S, d_k): every position kept so far
        heads, w = self.attention(q, k, v, mask, self.dropout)  # (B, H, T, d_k)
        out = self.w_o(self.merge_heads(heads))  # (B, T, D)
        return (out, w) if return_attention else out

    def check_inputs(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                     return_attention: bool = False, cache: AttentionCache | None = None) -> None:
        if cache is not None and not isinstance(cache, AttentionCache):
            raise ValueError(f"cache must be an AttentionCache (kv_cache.py), got {type(cache).__name__}")
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_features(t, self.d_model, name, self.w_q.weight.dtype)
        if not (query.shape[0] == key.shape[0] == value.shape[0]):
            raise ValueError(f"query, key and value must share the batch size, got {query.shape[0]}, "
                             f"{key.shape[0]} and {value.shape[0]}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"key and value must have the same length, got {key.shape[1]} and {value.shape[1]}")
        kept = 0 if cache is None or cache.static else cache.length
        if mask is not None:
            check_mask(mask, (query.shape[0], self.n_heads, query.shape[1], kept + key.shape[1]))
        if cache is None:
            return
        if cache.k is not None and cache.k.shape[0] != query.shape[0]:
            raise ValueError(f"the cache holds keys for a batch of {cache.k.shape[0]}, but the query has batch "
                             f"{query.shape[0]}: start a new cache for a new batch")
        if cache.static and cache.k is not None and cache.k.shape[2] != key.shape[1]:
            raise ValueError(f"the cache holds keys and values for a memory of length {cache.k.shape[2]}, but "
                             f"this memory has length {key.shape[1]}: start a new cache for a new source")
