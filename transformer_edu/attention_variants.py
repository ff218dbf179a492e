"""How the heads attend, with three changes made since 2017 (chapter 17); equation 1 of the paper by default.

MultiHeadAttention (section 3.2.2) calls `self.attention(q, k, v, mask, dropout)` once for all its heads. In the
paper's model that is scaled_dot_product_attention (attention.py). AttentionVariant is the same call with any of:

- shared key/value heads: H query heads but only H_kv key and value heads, each serving H / H_kv query heads.
  H_kv = 1 is multi-query attention (Shazeer 2019), 1 < H_kv < H grouped-query attention (Ainslie et al.
  2023). Fewer W^K, W^V parameters, and above all a key/value cache H / H_kv times smaller when decoding.
- rotary positions (rotary.py; Su et al. 2021): queries and keys rotated by their positions before the scores.
  In self-attention the T queries are the last T of the S positions (all of them without a cache; the new
  ones with a cache), which is what the rotation assumes. The cache keeps keys unrotated; they are rotated by
  their positions at every step (recomputed, not stored: simpler, and the same numbers).
- torch's fused kernel, F.scaled_dot_product_attention (kernel="sdpa"): the same equation in one call that never
  materialises the weights, so it returns None for them (no attention maps, no views).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import scaled_dot_product_attention
from .checks import check_int
from .rotary import apply_rotary

KERNELS = ("ours", "sdpa")  # "ours": attention.py (chapter 5); "sdpa": torch's fused kernel


class AttentionVariant(nn.Module):
    """scaled_dot_product_attention over H query heads with shared key/value heads, rotary positions, or
    torch's fused kernel. No parameters: MultiHeadAttention keeps the projections."""

    def __init__(self, n_heads: int, n_kv_heads: int, rotary: bool = False, kernel: str = "ours"):
        super().__init__()
        check_int("n_heads", n_heads)
        check_int("n_kv_heads", n_kv_heads, 1, n_heads)
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({n_kv_heads}): each "
                             f"key/value head serves the same number of query heads")
        if kernel not in KERNELS:
            raise ValueError(f"attention_kernel must be one of {KERNELS}, got {kernel!r}")
        self.n_heads, self.n_kv_heads, self.rotary, self.kernel = n_heads, n_kv_heads, rotary, kernel
        self.groups = n_heads // n_kv_heads  # query heads per key/value head

    def forward(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                dropout: nn.Module | None = None) -> tuple[Tensor, Tensor | None]:
        """Shapes: q (B, H, T, d_k), k and v (B, H_kv, S, d_k), mask (B or 1, 1, T, S)
        -> (B, H, T, d_k), weights (B, H, T, S) or None with the fused kernel."""
        if self.rotary:  # the queries are the last T of the S positions
            q, k = apply_rotary(q, start=k.shape[2] - q.shape[2]), apply_rotary(k)
        if self.kernel == "sdpa":
            p = dropout.p if dropout is not None and dropout.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                                 enable_gqa=self.groups > 1)  # (B, H, T, d_k)
            return out, None
        if self.groups == 1:
            return scaled_dot_product_attention(q, k, v, mask, dropout)
        b, h, t, d_k = q.shape  # query head i uses key/value head i // groups
        q = q.view(b, self.n_kv_heads, self.groups, t, d_k)  # (B, H_kv, G, T, d_k)
        k, v = k.unsqueeze(2), v.unsqueeze(2)  # (B, H_kv, 1, S, d_k): broadcast over the G query heads
        mask = None if mask is None else mask.unsqueeze(2)  # (B or 1, 1, 1, T, S)
        out, w = scaled_dot_product_attention(q, k, v, mask, dropout)  # (B, H_kv, G, T, d_k), (..., T, S)
        return out.reshape(b, h, t, d_k), w.reshape(b, h, t, -1)  # (B, H, T, d_k), (B, H, T, S)

    def extra_repr(self) -> str:
        return (f"n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}, rotary={self.rotary}, "
                f"kernel={self.kernel!r}")
