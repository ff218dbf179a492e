"""Positional encoding (paper section 3.5).

Attention by itself ignores order, so each position gets a vector that is added to the token embedding:

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

Each pair of dimensions is a sine/cosine pair of one frequency, so PE(pos + k) is a fixed rotation of
PE(pos) for every k. The paper also tried learned position embeddings (Table 3, row E) and found nearly
identical results; `LearnedPositionalEncoding` is that variant (and is what BERT later used).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .checks import check_features, check_int, check_positions, checked_by


def sinusoidal_table(max_len: int, d_model: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The (max_len, d_model) table of PE(pos, dim), computed in float64 and returned as `dtype`."""
    check_int("max_len", max_len)
    check_int("d_model", d_model, 2)
    if d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal positions (sines and cosines come in pairs), got {d_model}")
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (D/2,) the even dimensions 2i
    angle = position / 10000 ** (two_i / d_model)  # (L, D/2)
    table = torch.empty(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table.to(dtype)  # (L, D)


class PositionalEncoding(nn.Module):
    """Fixed sinusoidal positions, as in the paper: a table without parameters."""

    def __init__(self, d_model: int, max_len: int = 1024, dropout: float = 0.0, learned: bool = False):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        if learned:  # Table 3 row (E): a trained vector per position
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)  # (max_len, D)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)  # (max_len, D)
        self.dropout = nn.Dropout(dropout)  # the paper drops out the sum of embeddings and positions

    @checked_by("check_inputs")
    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """Add positions start .. start + L - 1. Shapes: x (B, L, D) -> (B, L, D)."""
        pe = self.table[start:start + x.shape[1]]  # (L, D): PE(pos) for pos = start .. start + L - 1
        return self.dropout(x + pe.to(x.dtype))  # (B, L, D)

    def check_inputs(self, x: Tensor, start: int = 0) -> None:
        check_features(x, self.d_model, "embeddings")
        check_positions(start, x.shape[1], self.max_len)


class LearnedPositionalEncoding(PositionalEncoding):
    """A trained vector per position (paper Table 3 row E; later used by BERT and GPT)."""

    def __init__(self, d_model: int, max_len: int = 1024, dropout: float = 0.0):
        super().__init__(d_model, max_len, dropout, learned=True)
