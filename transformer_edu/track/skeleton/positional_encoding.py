"""Sinusoidal positional encoding (chapter 4; paper section 3.5)."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor, nn

from transformer_edu.track import todo


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """The table of positional encodings, float32 (d_model is even):

        PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
        PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

    Shapes: -> (max_len, d_model). Tip: compute in float64, return .float()."""
    todo("positional-encoding")


class PositionalEncoding(nn.Module):
    """Given: adds rows start .. start + L - 1 of your table to the embeddings, then dropout."""

    def __init__(self, d_model: int, max_len: int = 1024, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)  # (max_len, D)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """Shapes: x (B, L, D) -> (B, L, D)."""
        return self.dropout(x + self.table[start:start + x.shape[1]].to(x.dtype))
