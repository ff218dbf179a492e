"""What every view shares: the anywidget base class, the JavaScript and CSS it loads, and number rounding.

Each view's ES module is view_common.js followed by its own view_<name>.js (all in this folder); the one
stylesheet views.css goes to every view as anywidget's `_css`. The package's __init__ documents the views.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import anywidget
import numpy as np
import traitlets

_HERE = Path(__file__).parent


def front_end(*names: str) -> str:
    """One ES module: the shared helpers, then the named files in order (a live view adds engine.js and
    view_live.js before its own), then the default export."""
    parts = [(_HERE / name).read_text(encoding="utf-8") for name in ("view_common.js", *names)]
    return "\n".join(parts) + "\nexport default { render };\n"


def rounded(values, decimals: int) -> list:
    """Numbers as nested lists rounded to `decimals` places; NaN and infinities become None (JSON null)."""
    arr = np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    out = arr.astype(object)
    out[~np.isfinite(arr)] = None
    return out.tolist()


def check_size(n: int, max_numbers: int, what: str) -> None:
    if n > max_numbers:
        raise ValueError(f"{what} holds {n:,} numbers, more than max_numbers={max_numbers:,}; the page would be "
                         f"large. Use fewer tokens, layers or heads (or raise max_numbers deliberately)")


class View(anywidget.AnyWidget):
    """Base: `data_for(...)` checks the inputs and returns the synced data; the constructor and `update` take
    the same arguments (update replaces the data of a displayed view, e.g. from a live widget)."""

    _css = (_HERE / "views.css").read_text(encoding="utf-8")
    data = traitlets.Dict().tag(sync=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__signature__ = inspect.signature(cls.data_for)  # help() shows the real arguments

    @classmethod
    def data_for(cls, *args, **kwargs) -> dict:
        raise NotImplementedError

    def __init__(self, *args, **kwargs):
        super().__init__(data=self.data_for(*args, **kwargs))

    def update(self, *args, **kwargs) -> None:
        """Replace the data (same arguments as the constructor); a displayed view redraws."""
        self.data = self.data_for(*args, **kwargs)

    @property
    def data_size(self) -> int:
        """Size in bytes of the data as JSON (what the page stores, besides the code)."""
        return len(json.dumps(self.data, separators=(",", ":")))

    def _summary(self) -> str:
        return ""

    def __repr__(self) -> str:  # stable text (no memory address), so notebook outputs do not change
        return f"{type(self).__name__}({self._summary()})"


def significant(values, digits: int) -> list:
    """Numbers as nested lists kept to `digits` significant figures (for values that span many decades, where
    a fixed number of decimals would turn 1e-13 into 0); NaN and infinities become None (JSON null)."""
    arr = np.asarray(values, dtype=np.float64)
    out = np.empty(arr.shape, dtype=object)
    for index, v in np.ndenumerate(arr):
        out[index] = float(f"{v:.{digits}g}") + 0.0 if np.isfinite(v) else None  # + 0.0: no -0.0
    return out.tolist()
