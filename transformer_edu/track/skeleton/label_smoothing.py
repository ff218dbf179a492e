"""Label-smoothed cross-entropy (chapter 11; paper section 5.4)."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor, nn

from transformer_edu.track import todo


class LabelSmoothingLoss(nn.Module):
    """Cross-entropy against q(k) = (1 - eps) [k = y] + eps / V (eps / V on every class, the true one and
    padding included, as torch's cross_entropy(label_smoothing=eps) does), averaged over the positions whose
    target is not ignore_index."""

    def __init__(self, smoothing: float = 0.1, ignore_index: int = 0):
        """Given."""
        super().__init__()
        self.smoothing, self.ignore_index = smoothing, ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Shapes: logits (..., V), target (...) integer ids -> a scalar."""
        todo("label-smoothing")
