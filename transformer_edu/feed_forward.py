"""Position-wise feed-forward network (paper section 3.3, equation 2).

    FFN(x) = max(0, x W_1 + b_1) W_2 + b_2

The same two linear layers are applied to every position separately (a 1x1 convolution, in the paper's
words); the inner width d_ff = 2048 is four times d_model = 512 in the base model.
"""
from __future__ import annotations

from torch import Tensor, nn

from .checks import check_features, check_int, checked_by, weight_dtype

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}  # ReLU is the paper's; GELU is later practice (BERT, GPT)


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        check_int("d_model", d_model)
        check_int("d_ff", d_ff)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.d_model = d_model
        self.w_1 = nn.Linear(d_model, d_ff)  # W_1, b_1
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)  # not in the paper (tensor2tensor and nn.Transformer use it); 0 by default
        self.w_2 = nn.Linear(d_ff, d_model)  # W_2, b_2

    @checked_by("check_inputs")
    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, L, D) -> (B, L, D), through (B, L, F)."""
        return self.w_2(self.dropout(self.activation(self.w_1(x))))  # (B, L, F) -> (B, L, D)

    def check_inputs(self, x: Tensor) -> None:
        check_features(x, self.d_model, "feed-forward input", weight_dtype(self))
