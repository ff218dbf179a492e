"""Label-smoothed cross-entropy (paper section 5.4, "Label Smoothing").

Instead of the one-hot target, the loss compares the model's distribution p with
    q(k) = (1 - eps) * [k = y] + eps / V        for every class k of the V-token vocabulary,
eps = eps_ls = 0.1 in the paper (Szegedy et al., 2016, spread the mass uniformly over all classes, the
true one and PAD included). The loss is the cross-entropy H(q, p) = -sum_k q(k) log p(k), averaged over
the target positions that are not padding. This is exactly what
F.cross_entropy(logits, y, label_smoothing=eps, ignore_index=PAD) computes. It equals KL(q || p) plus the
entropy H(q), a constant, so its minimum is H(q) > 0, not 0. (The Annotated Transformer spreads eps over
the V - 2 classes other than the true one and PAD, and reports KL(q || p), which is 0 at best: a slightly
different q, and smaller numbers.) The paper notes that label smoothing hurts perplexity, "as the model
learns to be more unsure", but improves accuracy and BLEU.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .checks import is_number
from .config import PAD_ID


class LabelSmoothingLoss(nn.Module):
    """Cross-entropy against the smoothed target q above, ignoring `ignore_index` positions.

    Shapes: logits (..., V) float, target (...) integer ids -> scalar (mean over non-ignored positions),
    or with reduction="sum" their sum. smoothing=0 gives the ordinary cross-entropy.
    """

    def __init__(self, smoothing: float = 0.1, ignore_index: int = PAD_ID, reduction: str = "mean"):
        super().__init__()
        if not is_number(smoothing) or not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be a number in [0, 1) (the paper uses 0.1), got {smoothing!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.smoothing, self.ignore_index, self.reduction = float(smoothing), ignore_index, reduction

    def smoothed_target(self, target: Tensor, vocab_size: int) -> Tensor:
        """q as a tensor. Shapes: target (N,) -> (N, V), each row sums to 1."""
        q = torch.full((target.shape[0], vocab_size), self.smoothing / vocab_size)  # (N, V): eps / V everywhere
        return q.scatter_add(1, target[:, None], torch.full((target.shape[0], 1), 1.0 - self.smoothing))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point or logits.dim() < 2:
            got = f"{logits.dtype}, shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(f"logits must be a float tensor of shape (..., V), got {got}")
        if (not isinstance(target, Tensor) or target.dtype.is_floating_point or target.dtype == torch.bool
                or target.shape != logits.shape[:-1]):
            got = f"{target.dtype}, shape {tuple(target.shape)}" if isinstance(target, Tensor) else type(target).__name__
            raise ValueError(f"target must be integer ids of shape {tuple(logits.shape[:-1])} "
                             f"(the logits' shape without V), got {got}")
        vocab_size = logits.shape[-1]
        log_p = torch.log_softmax(logits.reshape(-1, vocab_size), dim=-1)  # (N, V)
        target = target.reshape(-1)  # (N,)
        keep = target != self.ignore_index  # (N,) positions that count
        if bool(((target < 0) | (target >= vocab_size))[keep].any()):
            raise ValueError(f"target ids must be in [0, {vocab_size - 1}] (or ignore_index), got values from "
                             f"{int(target[keep].min())} to {int(target[keep].max())}")
        log_p, target = log_p[keep], target[keep]  # (N', V), (N',)
        nll = -log_p.gather(1, target[:, None])[:, 0]  # (N',) -log p(y): the one-hot part
        uniform = -log_p.mean(dim=1)  # (N',) -sum_k (1 / V) log p(k): the uniform part
        losses = (1.0 - self.smoothing) * nll + self.smoothing * uniform  # (N',) = -sum_k q(k) log p(k)
        if self.reduction == "sum":
            return losses.sum()
        return losses.mean() if losses.numel() else losses.sum()  # no real token: 0, not NaN
