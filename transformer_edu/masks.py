"""Attention masks (paper sections 3.1 and 3.2.3): hide padding, and hide the future from the decoder.

Convention: boolean masks, True means "may attend" (as in F.scaled_dot_product_attention).
torch.nn.MultiheadAttention and nn.Transformer use the opposite: True means "blocked".
Shapes broadcast against attention scores (B, H, T_q, T_k):
    padding mask (B, 1, 1, S), causal mask (1, 1, T, T), combined target mask (B, 1, T, T).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_int, check_token_ids, is_trusted


def padding_mask(ids: Tensor, pad_id: int) -> Tensor:
    """True where a real token stands. Shapes: ids (B, S) -> mask (B, 1, 1, S)."""
    if not is_trusted():
        check_token_ids(ids)
    return (ids != pad_id)[:, None, None, :]  # (B, 1, 1, S)


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """True on and below the diagonal: position i may attend to positions 0..i. Shape (1, 1, T, T)."""
    check_int("causal_mask's length", length)
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]  # (1, 1, T, T)


def target_mask(tgt_ids: Tensor, pad_id: int) -> Tensor:
    """Padding and causal masks combined for the decoder. Shapes: (B, T) -> (B, 1, T, T)."""
    return padding_mask(tgt_ids, pad_id) & causal_mask(tgt_ids.shape[1], tgt_ids.device)  # (B, 1, T, T)


def to_torch_convention(mask: Tensor) -> Tensor:
    """Flip to nn.MultiheadAttention's convention, where True means "blocked"."""
    return ~mask
