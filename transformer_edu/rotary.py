"""Rotary position embeddings (RoPE; Su et al. 2021), a later change to the paper's positions (section 3.5).

The paper adds a position vector to each token embedding once, at the bottom of the stack. RoPE adds nothing:
inside every self-attention it rotates each query and key by an angle proportional to its position, pair of
features by pair of features, with the paper's sinusoid frequencies:

    (x_2i, x_2i+1) at position m  ->  rotated by the angle m * theta_i,    theta_i = 10000^(-2i / d_k)

A rotation keeps lengths, and the dot product of a query rotated by m theta with a key rotated by n theta equals
the dot product of the unrotated pair with the key rotated by (n - m) theta: the attention scores depend on the
offset n - m between the two positions, never on where the pair sits. Values are not rotated.
Pairs are adjacent features (2i, 2i + 1), as in Su et al. and as the paper's sin/cos table pairs them; GPT-NeoX
and Hugging Face's LLaMA pair feature i with i + d_k / 2 instead, an equivalent permutation of the features.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_int


def rotary_angles(length: int, d_k: int, start: int = 0, dtype: torch.dtype = torch.float32,
                  device=None) -> tuple[Tensor, Tensor]:
    """cos and sin of m * theta_i for positions m = start .. start + length - 1: two (length, d_k / 2) tensors,
    computed in float64 and returned as `dtype`."""
    check_int("length", length)
    check_int("d_k", d_k, 2)
    check_int("start", start, 0)
    if d_k % 2:
        raise ValueError(f"rotary positions rotate pairs of features, so d_k must be even, got {d_k}")
    position = torch.arange(start, start + length, dtype=torch.float64, device=device)[:, None]  # (L, 1)
    theta = 10000.0 ** (-torch.arange(0, d_k, 2, dtype=torch.float64, device=device) / d_k)  # (d_k / 2,)
    angle = position * theta  # (L, d_k / 2)
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


def apply_rotary(x: Tensor, start: int = 0) -> Tensor:
    """Rotate every pair (x_2i, x_2i+1) of queries or keys at positions start, start + 1, ...
    Shapes: x (..., L, d_k) -> (..., L, d_k)."""
    if not isinstance(x, Tensor) or not x.dtype.is_floating_point or x.dim() < 2:
        raise ValueError(f"x must be a floating-point tensor of shape (..., length, d_k), got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    cos, sin = rotary_angles(x.shape[-2], x.shape[-1], start, x.dtype, x.device)  # (L, d_k / 2) each
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., L, d_k / 2): the two features of each pair
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (..., L, d_k / 2, 2)
    return rotated.flatten(-2)  # (..., L, d_k), pairs back in place
