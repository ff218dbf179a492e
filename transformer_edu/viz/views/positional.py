"""PositionalEncodingExplorer: a position table as a heatmap, a curve per dimension and bars per position
(paper section 3.5).
"""
from __future__ import annotations

import numpy as np
import torch

from ..plots import as_array
from .base import View, check_size, front_end, rounded


class PositionalEncodingExplorer(View):
    """A (positions, d_model) position table: heatmap, one dimension as a curve, one position as bars.

    Pass `table` (e.g. `sinusoidal_table(50, 64)` or a learned table), or `d_model` and `max_len` to use the
    paper's sinusoidal table (section 3.5). For a sinusoidal table the view also gives each dimension's
    wavelength, 2*pi*10000^(2i/d_model) positions. Size: 50 x 64 (3,200 numbers) is about 20 KB.
    """

    _esm = front_end("view_positional.js")

    @classmethod
    def data_for(cls, table=None, *, d_model: int | None = None, max_len: int | None = None, title: str | None = None,
                 dimension: int = 0, position: int = 0, decimals: int = 3, max_numbers: int = 20_000):
        from ...positional_encoding import sinusoidal_table  # viz may use the model code, never the reverse

        if (table is None) == (d_model is None or max_len is None):
            raise ValueError(f"pass either a table or both d_model and max_len, got table="
                             f"{'given' if table is not None else None}, d_model={d_model}, max_len={max_len}")
        pe = as_array(sinusoidal_table(max_len, d_model) if table is None else table, "table", 2)
        P, D = pe.shape
        if P < 2 or D < 1:
            raise ValueError(f"table must have at least 2 positions and 1 dimension, got shape {pe.shape}")
        check_size(pe.size, max_numbers, "table")
        if not (0 <= dimension < D and 0 <= position < P):
            raise ValueError(f"dimension must be in [0, {D - 1}] and position in [0, {P - 1}], got {dimension} and "
                             f"{position}")
        sinusoidal = D % 2 == 0 and np.allclose(pe, sinusoidal_table(P, D, dtype=torch.float64).numpy(), atol=1e-4)
        wavelengths = None
        if sinusoidal:
            two_i = np.arange(D) // 2 * 2
            wavelengths = rounded(2 * np.pi * 10000.0 ** (two_i / D), 2)
        return {"title": title or f"Positional encoding: {P} positions x {D} dimensions",
                "table": rounded(pe, decimals), "sinusoidal": bool(sinusoidal),
                "wavelengths": wavelengths, "dimension": dimension, "position": position}

    def _summary(self) -> str:
        return f"positions={len(self.data['table'])}, d_model={len(self.data['table'][0])}"
