"""DistributionExplorer: the next-token distribution softmax(logits / temperature), recomputed in the browser
(the final linear and softmax, paper section 3.4).
"""
from __future__ import annotations

import numpy as np

from ..plots import as_array, token_list
from .base import View, check_size, front_end, rounded


class DistributionExplorer(View):
    """Next-token probabilities softmax(logits / temperature), recomputed in the browser as the temperature
    slider moves; bars for the top_k tokens and one for all the others.

    logits (V,) or (T, V) (one row per position, with a position selector); vocab: V token strings;
    temperatures: the slider's values (all > 0), starting at `temperature`; top_k bars (default min(10, V)).
    Size: about 8 bytes per logit per position; T x V is limited by max_numbers, so pass a small
    vocabulary's logits.
    """

    _esm = front_end("view_distribution.js")

    @classmethod
    def data_for(cls, logits, vocab, temperatures=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0), *,
                 temperature: float = 1.0, top_k: int | None = None, position_labels=None, title: str | None = None,
                 decimals: int = 4, max_numbers: int = 50_000):
        z = as_array(logits, "logits", (1, 2))
        z = z[None] if z.ndim == 1 else z  # (T, V)
        if 0 in z.shape or not np.isfinite(z).all():
            raise ValueError(f"logits must be non-empty and finite, got shape {z.shape}")
        T, V = z.shape
        check_size(z.size, max_numbers, "logits")
        words = token_list(vocab, "vocab", V, f"logits' vocabulary axis (shape {z.shape})")
        temps = [float(t) for t in temperatures]
        if not temps or any(not np.isfinite(t) or t <= 0 for t in temps) or temps != sorted(set(temps)):
            raise ValueError(f"temperatures must be distinct positive numbers in increasing order, "
                             f"got {temperatures!r}")
        if float(temperature) not in temps:
            raise ValueError(f"temperature {temperature} must be one of temperatures {temps}")
        top_k = min(10, V) if top_k is None else top_k
        if not 1 <= top_k <= V:
            raise ValueError(f"top_k must be in [1, {V}], got {top_k}")
        labels = [f"position {t}" for t in range(T)] if position_labels is None else token_list(
            position_labels, "position_labels", T, f"logits' position axis (shape {z.shape})")
        return {"title": title, "logits": rounded(z, decimals), "vocab": words, "temperatures": temps,
                "temperature_index": temps.index(float(temperature)), "top_k": int(top_k),
                "positions": labels}

    def _summary(self) -> str:
        return f"positions={len(self.data['logits'])}, vocab={len(self.data['vocab'])}"
