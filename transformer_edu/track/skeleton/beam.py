"""Beam search with the length penalty (chapter 12, "Beam search"; paper section 6.1)."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor

from transformer_edu.track import todo


@torch.no_grad()
def beam_search(model, src_ids: Tensor, max_len: int, beam_size: int = 4, length_penalty: float = 0.6) -> Tensor:
    """The best hypothesis for ONE source sentence (src_ids of shape (1, S)) under log P(Y | x) / lp(Y), with
    lp(Y) = ((5 + |Y|) / 6) ** length_penalty and |Y| the tokens after BOS (EOS included).

    Keep beam_size live hypotheses, starting from BOS alone. At each step extend every live hypothesis by every
    token except PAD and BOS, and keep the beam_size best extensions by log P: those ending in EOS are finished
    (score log P / lp, set aside; keep the best), the others stay live. Stop when no live hypothesis is left,
    or when none can beat the best finished one (max live log P / lp(max_len) <= best score), or after
    max_len steps, when the live hypotheses compete too (scored with lp(max_len)).
    Shapes: src_ids (1, S) -> ids (1, 1 + n), BOS first."""
    todo("beam-search")
