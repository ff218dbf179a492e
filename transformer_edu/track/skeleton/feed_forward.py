"""The position-wise feed-forward network (chapter 7; paper section 3.3, equation 2)."""
from __future__ import annotations

from torch import Tensor, nn

from transformer_edu.track import todo


class PositionwiseFeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied to every position separately."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        """Given: w_1 (D -> F), w_2 (F -> D); dropout on the inner activations (0 in the paper)."""
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: (B, L, D) -> (B, L, D), through (B, L, F)."""
        todo("feed-forward")
