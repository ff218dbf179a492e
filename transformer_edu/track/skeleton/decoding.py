"""Greedy decoding (chapter 12, "Greedy decoding, one step at a time")."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor

from transformer_edu.track import todo


@torch.no_grad()
def greedy_decode(model, src_ids: Tensor, max_len: int) -> Tensor:
    """The most probable next token at each step, for a model with encode(src_ids, src_mask) and
    decode(tgt_ids, memory, src_mask, tgt_mask) (model.config has pad_id, bos_id, eos_id).
    Start from BOS; never choose PAD or BOS (set their logits to -inf); a sequence that has produced EOS
    continues with PAD only; stop when every sequence has produced EOS, or after max_len tokens.
    Shapes: src_ids (B, S) -> ids (B, 1 + n), BOS first, n <= max_len."""
    todo("greedy-decoding")
