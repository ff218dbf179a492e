"""LayerStatisticsExplorer: one number per layer for a few series and metrics, as a line chart (activation and
gradient statistics through a stack, paper section 3.1 and the pre-LN comparison).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...checks import check_int
from ..plots import as_array
from .base import View, check_size, front_end, significant

SERIES_LIMIT = 8  # Okabe-Ito colours and marker shapes that stay distinguishable (as plots.MARKERS)


class LayerStatisticsExplorer(View):
    """One number per layer (or per depth) for a few named series and one or more metrics, as a line chart.

    values: {metric: {series: numbers, one per layer}} (tensors, arrays or lists), e.g.
    {"activation std": {"post-LN": [...], "pre-LN": [...]}, "gradient norm": {"post-LN": [...], ...}}. Every
    metric has the same series and every series the same number of layers N. x: the N positions on the x axis
    (default 1, 2, ..., N; increasing), named by x_label. Controls: a metric selector, a checkbox per series
    (the legend: colour and marker shape as in plots.MARKERS), a log-scale switch and a slider that reads
    every shown series' value at one layer (hovering over the chart does the same, clicking pins it).
    The y axis fits the ticked series, so unticking an exploding series zooms in on the others.

    log_scale: "auto" (a metric starts on a log scale when all its values are positive and the largest is at
    least 100 times the smallest), True, False, or {metric: bool} (metrics left out are "auto"). On a log
    scale, values <= 0 are not drawn (the readout says so). metric: the metric shown first (name or index);
    hidden: series unticked at first; layer: the index (0 to N-1) read out first. Values keep `digits`
    significant figures; NaN and infinities become gaps. At most 8 series.
    Size: about 8 bytes per number (2 metrics x 4 series x 48 layers is about 3 KB), besides the view's
    30 KB of JavaScript and CSS.
    """

    _esm = front_end("view_layer_statistics.js")

    @classmethod
    def data_for(cls, values: Mapping, x=None, *, x_label: str = "layer", log_scale="auto", metric: int | str = 0,
                 hidden=(), layer: int = 0, title: str | None = None, note: str | None = None, digits: int = 4,
                 max_numbers: int = 20_000):
        if not isinstance(values, Mapping) or not values:
            raise ValueError(f"values must be a non-empty dict {{metric: {{series: one number per layer}}}}, "
                             f"got {type(values).__name__}{' (empty)' if isinstance(values, Mapping) else ''}")
        check_int("digits", digits, 1, 15, " (significant figures)")
        metric_names = [str(m) for m in values]
        if len(set(metric_names)) != len(metric_names):
            raise ValueError(f"metric names must differ as text, got {metric_names}")
        series_names, first, n_layers, metrics, total = None, None, None, [], 0
        for m, name in zip(values, metric_names):
            per_series = values[m]
            if not isinstance(per_series, Mapping) or not per_series:
                raise ValueError(f"values[{m!r}] must be a non-empty dict {{series: one number per layer}}, got "
                                 f"{type(per_series).__name__}{' (empty)' if isinstance(per_series, Mapping) else ''}")
            names = [str(s) for s in per_series]
            if series_names is None:
                if len(set(names)) != len(names):
                    raise ValueError(f"series names must differ as text, got {names}")
                if len(names) > SERIES_LIMIT:
                    raise ValueError(f"at most {SERIES_LIMIT} series can be told apart by colour and marker, got "
                                     f"{len(names)}: {names}")
                series_names, first = names, m
            elif sorted(names) != sorted(series_names):
                raise ValueError(f"every metric needs the same series: values[{m!r}] has {names} but "
                                 f"values[{first!r}] has {series_names}")
            by_name = {str(s): v for s, v in per_series.items()}
            rows = []
            for s in series_names:
                arr = as_array(by_name[s], f"values[{m!r}][{s!r}]", 1)
                if n_layers is None:
                    if arr.size == 0:
                        raise ValueError(f"values[{m!r}][{s!r}] must hold one number per layer, got none")
                    n_layers = arr.size
                elif arr.size != n_layers:
                    raise ValueError(f"values[{m!r}][{s!r}] has {arr.size} numbers but values[{first!r}]"
                                     f"[{series_names[0]!r}] has {n_layers}: every series needs one number per layer")
                rows.append(arr)
            table = np.stack(rows)  # (series, layers)
            finite = table[np.isfinite(table)]
            if finite.size == 0:
                raise ValueError(f"values[{m!r}] has no finite number (all NaN or infinite)")
            metrics.append((name, table, finite))
            total += table.size
        check_size(total, max_numbers, "values")

        xs = np.arange(1, n_layers + 1, dtype=np.float64) if x is None else as_array(x, "x", 1)
        if xs.size != n_layers or not np.isfinite(xs).all() or (np.diff(xs) <= 0).any():
            raise ValueError(f"x must be {n_layers} finite, increasing numbers (one per layer), got "
                             f"{xs.size} numbers: {xs[:8].tolist()}{' ...' if xs.size > 8 else ''}")

        if isinstance(log_scale, Mapping):
            unknown = [str(k) for k in log_scale if str(k) not in metric_names]
            if unknown:
                raise ValueError(f"log_scale names metrics {unknown} that are not in values (metrics: {metric_names})")
            chosen = {str(k): v for k, v in log_scale.items()}
        elif log_scale == "auto" or isinstance(log_scale, bool):
            chosen = {name: log_scale for name in metric_names}
        else:
            raise ValueError(f"log_scale must be 'auto', True, False or a dict {{metric: bool}}, got {log_scale!r}")
        out_metrics = []
        for name, table, finite in metrics:
            wanted = chosen.get(name, "auto")
            positive = finite[finite > 0]
            if wanted == "auto":
                log = bool(positive.size == finite.size and positive.max() >= 100 * positive.min())
            elif isinstance(wanted, bool):
                if wanted and positive.size == 0:
                    raise ValueError(f"a log scale needs positive values, but metric {name!r} has none")
                log = wanted
            else:
                raise ValueError(f"log_scale[{name!r}] must be 'auto', True or False, got {wanted!r}")
            out_metrics.append({"name": name, "values": significant(table, digits), "log": log})

        if isinstance(metric, str):
            if metric not in metric_names:
                raise ValueError(f"metric must be one of {metric_names} (or an index), got {metric!r}")
            metric_index = metric_names.index(metric)
        elif isinstance(metric, (int, np.integer)) and not isinstance(metric, bool) and 0 <= metric < len(metric_names):
            metric_index = int(metric)
        else:
            raise ValueError(f"metric must be a name in {metric_names} or an index in [0, {len(metric_names) - 1}], "
                             f"got {metric!r}")
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (Sequence, set, frozenset)):
            raise ValueError(f"hidden must be a list of series names, got {type(hidden).__name__}")
        missing = [str(h) for h in hidden if str(h) not in series_names]
        if missing:
            raise ValueError(f"hidden names series {missing} that are not in values (series: {series_names})")
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < n_layers:
            raise ValueError(f"layer must be an index in [0, {n_layers - 1}], got {layer!r}")
        return {"title": title, "x": significant(xs, 6), "x_label": str(x_label), "series": series_names,
                "metrics": out_metrics, "metric": metric_index,
                "hidden": sorted({series_names.index(str(h)) for h in hidden}), "layer": int(layer),
                "note": None if note is None else str(note)}

    def _summary(self) -> str:
        d = self.data
        return (f"metrics={[m['name'] for m in d['metrics']]}, series={d['series']}, layers={len(d['x'])}")
