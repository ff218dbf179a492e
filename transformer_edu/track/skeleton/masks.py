"""Attention masks (chapter 5; paper sections 3.1 and 3.2.3). Boolean, True = may attend."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor

from transformer_edu.track import todo


def padding_mask(ids: Tensor, pad_id: int) -> Tensor:
    """True where a real token stands. Shapes: ids (B, S) -> (B, 1, 1, S)."""
    todo("masks")


def causal_mask(length: int, device=None) -> Tensor:
    """True where query t may attend to key s, that is s <= t. Shape (1, 1, T, T), dtype bool."""
    todo("masks")


def target_mask(tgt_ids: Tensor, pad_id: int) -> Tensor:
    """Given: padding and causal masks together, for the decoder. Shapes: (B, T) -> (B, 1, T, T)."""
    return padding_mask(tgt_ids, pad_id) & causal_mask(tgt_ids.shape[1], tgt_ids.device)
