"""Teacher forcing and the learning-rate schedule (chapter 11; paper sections 3.1 and 5.3)."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor

from transformer_edu.track import todo


def teacher_forcing(targets: list[list[int]], bos_id: int, eos_id: int, pad_id: int) -> tuple[Tensor, Tensor]:
    """The decoder's input and labels for target id lists y (without BOS or EOS): the input is BOS y_1 .. y_n,
    the label at each position the next token, y_1 .. y_n EOS; both padded on the right with pad_id.
    Shapes: B lists -> (tgt_in (B, T), tgt_out (B, T)), long, T = 1 + the longest n."""
    todo("teacher-forcing")


def noam_lr(step: int, d_model: int, warmup_steps: int = 4000, factor: float = 1.0) -> float:
    """Equation 3, for step >= 1: factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)."""
    todo("warm-up-schedule")
