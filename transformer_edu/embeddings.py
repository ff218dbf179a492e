"""Token embeddings (paper section 3.4).

A learned table maps each token id to a vector of width d_model. Looking up row i is the same as
multiplying a one-hot vector by the table. The paper multiplies the embeddings by sqrt(d_model), which
puts them on a scale comparable to the sinusoidal position signal added next (each entry in [-1, 1]).
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from .checks import check_int, check_token_ids, checked_by


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int, scale: bool = True):
        super().__init__()
        check_int("vocab_size", vocab_size)
        check_int("d_model", d_model)
        self.vocab_size, self.d_model = vocab_size, d_model
        self.table = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.table.weight, mean=0.0, std=d_model ** -0.5)  # after x sqrt(D): unit scale
        self.scale = math.sqrt(d_model) if scale else 1.0

    @property
    def weight(self) -> nn.Parameter:
        """The (V, D) table; shared with the output layer when embeddings are tied."""
        return self.table.weight

    @checked_by("check_inputs")
    def forward(self, ids: Tensor) -> Tensor:
        """Shapes: ids (B, L) integer token ids -> (B, L, D)."""
        return self.table(ids) * self.scale  # (B, L, D)

    def check_inputs(self, ids: Tensor) -> None:
        check_token_ids(ids, self.vocab_size)
