"""Attention masks (paper sections 3.1 and 3.2.3): hide padding, and hide the future from the decoder.

Convention: boolean masks, True means "may attend" (as in F.scaled_dot_product_attention).
torch.nn.MultiheadAttention and nn.Transformer use the opposite: True means "blocked".
Shapes broadcast against attention scores (B, H, T_q, T_k):
    padding mask (B, 1, 1, S), causal mask (1, 1, T, T), combined target mask (B, 1, T, T).
"""
from __future__ import annotations

import torch
from torch import Tensor


def check_token_ids(ids: Tensor, vocab_size: int | None = None, name: str = "ids") -> None:
    """Raise ValueError unless `ids` is a non-empty (B, L) integer tensor of valid token ids."""
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.long, torch.int32):
        raise ValueError(f"{name} must hold integer token ids of dtype torch.long (or torch.int32), got dtype "
                         f"{ids.dtype}" + ("" if ids.dtype.is_floating_point or ids.dtype == torch.bool
                                           else "; convert with ids.long()"))
    if ids.dim() != 2:
        raise ValueError(f"{name} must have shape (batch, length), got shape {tuple(ids.shape)}")
    if ids.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(ids.shape)}): need at least one token per sequence")
    if vocab_size is not None:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{name} must be in [0, {vocab_size - 1}] for a vocabulary of {vocab_size}, "
                             f"got values from {low} to {high}")


def padding_mask(ids: Tensor, pad_id: int) -> Tensor:
    """True where a real token stands. Shapes: ids (B, S) -> mask (B, 1, 1, S)."""
    check_token_ids(ids)
    return (ids != pad_id)[:, None, None, :]  # (B, 1, 1, S)


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """True on and below the diagonal: position i may attend to positions 0..i. Shape (1, 1, T, T)."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"causal_mask needs a positive int length, got {length!r}")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]  # (1, 1, T, T)


def target_mask(tgt_ids: Tensor, pad_id: int) -> Tensor:
    """Padding and causal masks combined for the decoder. Shapes: (B, T) -> (B, 1, T, T)."""
    return padding_mask(tgt_ids, pad_id) & causal_mask(tgt_ids.shape[1], tgt_ids.device)  # (B, 1, T, T)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of masks that broadcast together; None entries are skipped."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    for m in present:
        if not isinstance(m, Tensor) or m.dtype != torch.bool:
            got = f"dtype {m.dtype}" if isinstance(m, Tensor) else type(m).__name__
            raise ValueError(f"combine_masks takes bool masks (True = may attend) or None, got {got}")
    try:
        shape = torch.broadcast_shapes(*(m.shape for m in present))
    except RuntimeError:
        raise ValueError(f"masks do not broadcast together: shapes {[tuple(m.shape) for m in present]}") from None
    combined = torch.ones(shape, dtype=torch.bool, device=present[0].device)
    for m in present:
        combined = combined & m
    return combined


def check_mask(mask: Tensor, scores_shape: tuple[int, ...]) -> None:
    """Raise ValueError unless `mask` is boolean and broadcasts to the scores' shape (..., T_q, T_k)."""
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a bool tensor (True = may attend), got {got}")
    pairs = zip(reversed(mask.shape), reversed(scores_shape))  # a plain comparison: this runs on every call
    if mask.dim() > len(scores_shape) or any(m not in (1, s) for m, s in pairs):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to attention scores of shape "
                         f"{tuple(scores_shape)} (batch, heads, queries, keys); a padding mask is (B, 1, 1, S), "
                         f"a causal mask (1, 1, T, T)")


def to_torch_convention(mask: Tensor) -> Tensor:
    """Flip to nn.MultiheadAttention's convention, where True means "blocked"."""
    return ~mask
