"""Static figures for the book: pure functions from tensors and token lists to a matplotlib Figure.

Every function checks its inputs (torch tensors, numpy arrays or nested lists), draws on a new Figure and
returns it; nothing is shown and nothing is left in pyplot's list of open figures (each Figure is created by
pyplot, so that Jupyter knows how to display it, and closed at once). In a notebook, a Figure that is the last
expression of a cell is displayed once.

Colours are colour-blind safe: viridis for weights in [0, 1] and other non-negative values, RdBu_r (a
ColorBrewer scheme marked colour-blind safe) for signed values, and for groups the Okabe-Ito palette together
with a different marker per group, so no figure depends on telling red from green.

    attention_heatmap(weights (T, S) or (H, T, S), query_tokens, key_tokens)   paper section 3.2
    head_grid(values (N, H) or {panel: (N, H)})                 one number per layer and head (section 3.2.2)
    positional_encoding_heatmap(table (positions, D)), positional_similarity(table)   section 3.5
    embedding_projection(vectors (N, D), labels, groups)      2-D PCA of embeddings (section 3.4)
    learning_rate_schedule(steps, lrs), loss_curves(history)  section 5.3 and training
    parameter_breakdown({part: count}), model_diagram(model)  Figure 1, drawn from a model's own modules
    seed_curves({row: runs}, baseline), seed_ranges({row: values}, baseline)   results repeated over seeds
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..checks import check_int

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
SEQUENTIAL, DIVERGING = "viridis", "RdBu_r"


def as_array(x, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`x` (tensor, array or nested list of numbers) as a float64 numpy array with a checked number of axes."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a tensor, an array or a nested list of numbers, "
                         f"got {type(x).__name__}") from err
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        wanted = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{name} must be {wanted}, got shape {arr.shape}")
    return arr


def token_list(tokens, name: str, expected: int | None = None, what: str = "") -> list[str]:
    """Tokens as a list of str; `expected` is the matching axis size of the data, named by `what`."""
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise ValueError(f"{name} must be a list of token strings, got {type(tokens).__name__}")
    out = [str(t) for t in tokens]
    if expected is not None and len(out) != expected:
        raise ValueError(f"{name} has {len(out)} tokens but {what} has size {expected}")
    return out


def display_token(token: str, limit: int = 16) -> str:
    """A token as literal text for a label: control characters spelled out, long tokens shortened."""
    shown = token.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    shown = shown.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # matplotlib breaks lines at these
    return shown if len(shown) <= limit else shown[: limit - 1] + "\u2026"


def _new_figure(width: float, height: float) -> Figure:
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)  # pyplot forgets it: no global state, no second display at the end of the cell
    return fig


def _literal(texts) -> None:
    for t in texts:
        t.set_parse_math(False)  # a token like "$5" must not be read as TeX


def attention_heatmap(weights, query_tokens, key_tokens, title: str | None = None, head_labels=None,
                      annotate: bool | None = None, vmin: float | None = None, vmax: float | None = None,
                      max_columns: int = 4) -> Figure:
    """Heatmap of attention weights: row t shows how query token t spreads its attention over the keys.

    Shapes: weights (T, S) for one head or (H, T, S) for H heads (one panel each); query_tokens T strings,
    key_tokens S strings. Values in [0, 1] use a fixed 0..1 colour scale, so panels are comparable;
    `annotate` writes each value in its cell (default: when the matrix is at most 10 x 10).
    """
    w = as_array(weights, "weights", (2, 3))
    if w.ndim == 2:
        w = w[None]  # (1, T, S)
    heads, T, S = w.shape
    if heads == 0 or T == 0 or S == 0:
        raise ValueError(f"weights must be non-empty, got shape {w.shape}")
    queries = token_list(query_tokens, "query_tokens", T, f"weights' query axis (shape {tuple(w.shape)})")
    keys = token_list(key_tokens, "key_tokens", S, f"weights' key axis (shape {tuple(w.shape)})")
    if head_labels is None:
        head_labels = [f"head {h}" for h in range(heads)] if heads > 1 else [None]
    elif len(head_labels) != heads:
        raise ValueError(f"head_labels has {len(head_labels)} entries but weights have {heads} heads")
    finite = w[np.isfinite(w)]
    lo = vmin if vmin is not None else (0.0 if finite.size == 0 or finite.min() >= 0 else float(finite.min()))
    hi = vmax if vmax is not None else (1.0 if finite.size == 0 or finite.max() <= 1 else float(finite.max()))
    annotate = (T <= 10 and S <= 10) if annotate is None else annotate
    cols = min(heads, max_columns)
    rows = -(-heads // cols)
    cell = 0.38 if annotate else 0.28
    panel_w, panel_h = max(2.2, S * cell + 1.2), max(2.0, T * cell + 1.2)
    fig = _new_figure(cols * panel_w + 1.0, rows * panel_h + (0.5 if title else 0.1))
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            fig.delaxes(ax)
            continue
        image = ax.imshow(w[h], cmap=SEQUENTIAL, vmin=lo, vmax=hi, aspect="equal", interpolation="nearest")
        ax.set_xticks(range(S), [display_token(k) for k in keys], rotation=60, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(T), [display_token(q) for q in queries])
        _literal(ax.get_xticklabels() + ax.get_yticklabels())
        if h // cols == rows - 1 or h + cols >= heads:  # bottom panel of its column
            ax.set_xlabel("key (attended to)")
        if h % cols == 0:
            ax.set_ylabel("query (attending)")
        if head_labels[h] is not None:
            ax.set_title(str(head_labels[h]), fontsize=10)
        if annotate:
            for t in range(T):
                for s in range(S):
                    v = w[h, t, s]
                    if np.isfinite(v):
                        dark = (v - lo) / ((hi - lo) or 1.0) < 0.6  # viridis is dark below ~0.6
                        ax.text(s, t, f"{v:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if dark else "black")
    fig.colorbar(image, ax=list(axes.flat)[:heads], shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


def head_grid(values, title: str | None = None, *, value_label: str = "value", decimals: int = 2,
              vmin: float | None = None, vmax: float | None = None, row_label: str = "layer",
              col_label: str = "head") -> Figure:
    """A layer x head grid: one cell per attention head, coloured by its value and with the value written in it.

    values: an (N, H) array (N layers, H heads) for one panel, or a dict panel title -> (N_i, H_i) array for
    several panels side by side on one shared colour scale (e.g. one per kind of attention). Non-negative
    values use viridis; signed values RdBu_r centred on 0. Rows and columns are numbered from 0.
    """
    if isinstance(values, Mapping):
        if not values:
            raise ValueError("values is an empty dict; pass at least one (layers, heads) array")
        grids = {str(k): as_array(v, f"values[{k!r}]", 2) for k, v in values.items()}
    else:
        grids = {None: as_array(values, "values", 2)}
    for name, g in grids.items():
        if 0 in g.shape:
            raise ValueError(f"values{'' if name is None else f'[{name!r}]'} must be a non-empty (layers, heads) "
                             f"array, got shape {g.shape}")
    check_int("decimals", decimals, 0, 6)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids.values()])
    signed = finite.size > 0 and finite.min() < 0
    if signed:
        limit = float(np.abs(finite).max())
        lo, hi, cmap = (-limit if vmin is None else vmin), (limit if vmax is None else vmax), DIVERGING
    else:
        lo = (0.0 if vmin is None else vmin)
        hi = (float(finite.max()) if finite.size and finite.max() > 0 else 1.0) if vmax is None else vmax
        cmap = SEQUENTIAL
    if not lo < hi:
        raise ValueError(f"vmin must be below vmax, got {lo} and {hi}")
    colours = plt.get_cmap(cmap)
    widest = max(g.shape[1] for g in grids.values())
    tallest = max(g.shape[0] for g in grids.values())
    cell = 0.42 + 0.07 * decimals
    fig = _new_figure(len(grids) * (widest * cell + 1.0) + 1.4, tallest * 0.6 + 1.8 + (0.3 if title else 0))
    axes = fig.subplots(1, len(grids), squeeze=False)[0]
    image = None
    for i, (ax, (name, g)) in enumerate(zip(axes, grids.items())):
        image = ax.imshow(g, cmap=cmap, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(g.shape[1]))
        ax.set_yticks(range(g.shape[0]))
        ax.set_xlabel(col_label)
        if i == 0:
            ax.set_ylabel(row_label)
        if name is not None:
            ax.set_title(name, fontsize=10)
            _literal([ax.title])
        for (r, c), v in np.ndenumerate(g):
            if not np.isfinite(v):
                continue
            red, green, blue, _ = colours((min(max(v, lo), hi) - lo) / (hi - lo))
            dark = 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5  # relative luminance of the cell
            ax.text(c, r, f"{v:.{decimals}f}", ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    fig.colorbar(image, ax=list(axes), shrink=0.9, label=value_label)
    if title:
        fig.suptitle(title)
    return fig


def positional_encoding_heatmap(table, title: str | None = None) -> Figure:
    """Heatmap of a (positions, D) position table: one row per position, one column per dimension."""
    pe = as_array(table, "table", 2)
    if 0 in pe.shape:
        raise ValueError(f"table must be non-empty, got shape {pe.shape}")
    limit = max(1.0, float(np.nanmax(np.abs(pe))))
    fig = _new_figure(8, 4.5)
    ax = fig.add_subplot()
    image = ax.imshow(pe, cmap=DIVERGING, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_xlabel("dimension (2i: sine, 2i + 1: cosine of pair i)")
    ax.set_ylabel("position")
    ax.set_title(title or f"Positional encoding: {pe.shape[0]} positions x {pe.shape[1]} dimensions")
    fig.colorbar(image, ax=ax, label="value")
    return fig


def positional_similarity(table, title: str | None = None, normalize: bool = False) -> Figure:
    """Dot products PE(p) . PE(q) between every pair of positions (cosines if `normalize`)."""
    pe = as_array(table, "table", 2)
    if 0 in pe.shape:
        raise ValueError(f"table must be non-empty, got shape {pe.shape}")
    if normalize:
        pe = pe / np.maximum(np.linalg.norm(pe, axis=1, keepdims=True), 1e-12)
    sim = pe @ pe.T  # (P, P)
    fig = _new_figure(5.8, 4.8)
    ax = fig.add_subplot()
    image = ax.imshow(sim, cmap=SEQUENTIAL, aspect="equal", interpolation="nearest")
    ax.set_xlabel("position q")
    ax.set_ylabel("position p")
    what = "cosine similarity" if normalize else "dot product"
    ax.set_title(title or f"{what.capitalize()} between position vectors")
    fig.colorbar(image, ax=ax, label=what)
    return fig


def pca_2d(vectors) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, D) vectors on their first two principal components.

    Returns (points (N, 2), explained variance ratio (2,)). Computed by an exact SVD in float64 of the
    centred data; each component's sign is fixed so that its largest-magnitude loading is positive, so the
    same input always gives the same picture.
    """
    x = as_array(vectors, "vectors", 2)
    n, d = x.shape
    if n < 2 or d < 2:
        raise ValueError(f"PCA to 2-D needs at least 2 vectors of at least 2 dimensions, got shape {x.shape}")
    centred = torch.from_numpy(x - x.mean(axis=0))
    _, sing, vt = torch.linalg.svd(centred, full_matrices=False)  # vt (min(N, D), D)
    comps = vt[:2].numpy().copy()  # (2, D) (fewer if N == 2; padded below)
    if comps.shape[0] < 2:
        comps = np.vstack([comps, np.zeros((1, d))])
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    var = sing.numpy() ** 2
    ratio = np.zeros(2)
    ratio[: min(2, var.size)] = (var[:2] / var.sum()) if var.sum() > 0 else 0.0
    return centred.numpy() @ comps.T, ratio  # (N, 2), (2,)


def embedding_projection(vectors, labels, groups=None, title: str | None = None, annotate: bool = True) -> Figure:
    """Scatter of (N, D) vectors projected to 2-D by PCA, one colour and marker per group, each point labelled."""
    x = as_array(vectors, "vectors", 2)
    labels = token_list(labels, "labels", x.shape[0], f"vectors (shape {x.shape})")
    groups = ["all"] * len(labels) if groups is None else token_list(groups, "groups", x.shape[0],
                                                                      f"vectors (shape {x.shape})")
    points, ratio = pca_2d(x)
    names = list(dict.fromkeys(groups))  # in order of first appearance
    fig = _new_figure(6.5, 5.2)
    ax = fig.add_subplot()
    for g, name in enumerate(names):
        idx = [i for i, grp in enumerate(groups) if grp == name]
        ax.scatter(points[idx, 0], points[idx, 1], s=42, color=OKABE_ITO[g % len(OKABE_ITO)],
                   marker=MARKERS[g % len(MARKERS)], label=name, edgecolors="white", linewidths=0.6)
    if annotate:
        for (px, py), label in zip(points, labels):
            t = ax.annotate(display_token(label), (px, py), xytext=(4, 3), textcoords="offset points", fontsize=8)
            t.set_parse_math(False)
    ax.set_xlabel(f"principal component 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"principal component 2 ({ratio[1]:.0%} of variance)")
    ax.set_title(title or f"{x.shape[0]} vectors of {x.shape[1]} dimensions, projected to 2-D (PCA)")
    if len(names) > 1:
        legend = ax.legend(title="group", fontsize=8, loc="best")
        _literal(legend.get_texts())
    ax.grid(alpha=0.3)
    return fig


def learning_rate_schedule(steps, lrs, title: str | None = None, warmup_steps: int | None = None) -> Figure:
    """Learning rate against training step (e.g. the paper's warm-up schedule, section 5.3)."""
    s, lr = as_array(steps, "steps", 1), as_array(lrs, "lrs", 1)
    if s.shape != lr.shape or s.size == 0:
        raise ValueError(f"steps and lrs must be non-empty and equally long, got {s.size} steps and {lr.size} lrs")
    fig = _new_figure(6.5, 3.8)
    ax = fig.add_subplot()
    ax.plot(s, lr, color=OKABE_ITO[0], linewidth=1.8)
    if warmup_steps is not None:
        ax.axvline(warmup_steps, color=OKABE_ITO[5], linestyle="--", linewidth=1.2,
                   label=f"warmup_steps = {warmup_steps}")
        ax.legend()
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.set_title(title or "Learning rate schedule")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    return fig


def _series(history: Mapping, key: str, x_key: str) -> tuple[np.ndarray, np.ndarray]:
    values = history[key]
    if len(values) and isinstance(values[0], (tuple, list)):
        pairs = as_array(values, f"history[{key!r}]", 2)
        if pairs.shape[1] != 2:
            raise ValueError(f"history[{key!r}] must hold numbers or (step, value) pairs, got shape {pairs.shape}")
        return pairs[:, 0], pairs[:, 1]
    y = as_array(values, f"history[{key!r}]", 1)
    if x_key in history and len(history[x_key]) == y.size:
        return as_array(history[x_key], f"history[{x_key!r}]", 1), y
    return np.arange(1, y.size + 1, dtype=np.float64), y


def loss_curves(history: Mapping, x_key: str = "step", title: str | None = None) -> Figure:
    """Training curves: every series whose name contains "loss" on the left axes, other metrics on the right.

    `history` maps names to lists of numbers (plotted against history[x_key] when it has the same length,
    else against 1, 2, ...) or to lists of (step, value) pairs, e.g.
    {"step": [...], "train_loss": [...], "val_loss": [(500, 2.1), ...], "val_exact_match": [(500, 0.4), ...]}.
    """
    if not isinstance(history, Mapping):
        raise ValueError(f"history must be a dict of name -> list, got {type(history).__name__}")
    names = [k for k in history if k != x_key]
    if not names or not all(len(history[k]) for k in names):
        raise ValueError(f"history needs at least one non-empty series besides {x_key!r}, got keys {list(history)}")
    losses = [k for k in names if "loss" in str(k).lower()]
    metrics = [k for k in names if k not in losses]
    panels = [(losses, "loss"), (metrics, "held-out metric")]
    panels = [p for p in panels if p[0]]
    fig = _new_figure(5.2 * len(panels) + 0.6, 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (keys, ylabel) in zip(axes, panels):
        for i, key in enumerate(keys):
            x, y = _series(history, key, x_key)
            ax.plot(x, y, color=OKABE_ITO[i % len(OKABE_ITO)], marker=None if y.size > 30 else MARKERS[i],
                    markersize=4, linewidth=1.6, label=str(key))
        ax.set_xlabel(x_key if x_key in history or any(isinstance(history[k][0], (tuple, list)) for k in keys)
                      else "evaluation")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title or "Training curves")
    return fig


def parameter_breakdown(parts: Mapping[str, int], title: str | None = None) -> Figure:
    """Horizontal bars: how many trainable numbers each named part has, with its share of the total."""
    if not isinstance(parts, Mapping) or not parts:
        raise ValueError(f"parts must be a non-empty dict of name -> parameter count, got {parts!r}")
    counts = as_array(list(parts.values()), "parameter counts", 1)
    if (counts < 0).any():
        raise ValueError(f"parameter counts must be non-negative, got {dict(parts)}")
    names, total = [str(k) for k in parts], counts.sum()
    fig = _new_figure(7.5, 0.55 * len(names) + 1.4)
    ax = fig.add_subplot()
    bars = ax.barh(range(len(names)), counts, color=[OKABE_ITO[i % 7] for i in range(len(names))])
    ax.set_yticks(range(len(names)), names)
    _literal(ax.get_yticklabels())
    ax.invert_yaxis()
    for bar, n in zip(bars, counts):
        share = n / total if total else 0.0
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f" {int(n):,} ({share:.0%})" if share >= 0.01 or n == 0 else f" {int(n):,} ({share:.2%})",
                va="center", fontsize=9)
    big = counts.max() >= 1e5  # long tick labels would run together: count in millions
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:g}M" if big else f"{v:,.0f}"))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlim(0, counts.max() * 1.35 if counts.max() else 1)
    ax.set_xlabel("trainable parameters" + (" (millions)" if big else ""))
    ax.set_title(title or f"Parameters: {int(total):,} in total")
    return fig


_FILL = {"attention": "#fbe0a6", "ffn": "#cde6f7", "norm": "#e4e4e4", "io": "#cdeadf"}  # light Okabe-Ito tints


def _layer_boxes(layer) -> list[tuple[str, str]]:
    """(label, kind) of one layer's sub-layers, bottom to top, read from its modules."""
    decoder = getattr(layer, "cross_attn", None) is not None
    boxes = []
    for sub_name in ("self_attn", "cross_attn", "feed_forward"):
        sub = getattr(layer, sub_name, None)
        if sub is None:
            continue
        if sub_name == "feed_forward":
            w1, w2 = getattr(sub, "w_1", None), getattr(sub, "w_2", None)
            sized = w1 is not None and w2 is not None
            size = f" {w1.in_features} -> {w1.out_features} -> {w2.out_features}" if sized else ""
            label, kind = f"Feed-forward{size}", "ffn"
        else:
            heads = f", h = {sub.n_heads}" if hasattr(sub, "n_heads") else ""
            label = ("Encoder-decoder attention" if sub_name == "cross_attn"
                     else "Masked multi-head self-attention" if decoder else "Multi-head self-attention") + heads
            kind = "attention"
        if getattr(layer, "norm_first", False):
            boxes += [("LayerNorm (pre-LN, later practice)", "norm"), (label, kind), ("Add (residual)", "norm")]
        else:
            boxes += [(label, kind), ("Add & Norm", "norm")]
    return boxes


def model_diagram(model, title: str | None = None) -> Figure:
    """Block diagram of an encoder-decoder model, read from its modules (the book's version of Figure 1).

    `model` needs `.encoder.layers` and `.decoder.layers`; the number of layers, each layer's sub-layers
    (with head counts and feed-forward sizes), LayerNorm placement and optional final LayerNorms all come
    from the model, so the drawing changes when the model does. Read it from the bottom; the grey lines on the
    left of each stack are the residual connections.
    """
    try:
        enc_layers, dec_layers = list(model.encoder.layers), list(model.decoder.layers)
    except (AttributeError, TypeError) as err:
        raise ValueError(f"model_diagram needs a model with .encoder.layers and .decoder.layers, got "
                         f"{type(model).__name__}") from err
    if not enc_layers or not dec_layers:
        raise ValueError(f"model_diagram needs at least one encoder and one decoder layer, got "
                         f"{len(enc_layers)} and {len(dec_layers)}")
    config = getattr(model, "config", None)
    d_model = getattr(config, "d_model", None) or getattr(model.encoder, "d_model", "d_model")
    vocab = getattr(getattr(model, "output", None), "out_features", "V")
    columns = {"Encoder": (0.4, _layer_boxes(enc_layers[0]), len(enc_layers), model.encoder),
               "Decoder": (5.6, _layer_boxes(dec_layers[0]), len(dec_layers), model.decoder)}
    box_h, gap, width = 0.5, 0.22, 4.0
    rows = max(len(b) for _, b, _, _ in columns.values()) + 7
    fig = _new_figure(9.6, rows * 0.5 + 0.8)
    ax = fig.add_subplot()
    ax.axis("off")

    def box(x, y, label, kind, w=width):
        ax.add_patch(FancyBboxPatch((x, y), w, box_h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=_FILL[kind], edgecolor="#222222", linewidth=0.8))
        ax.text(x + w / 2, y + box_h / 2, label, ha="center", va="center", fontsize=8.5, color="#111111")
        return y + box_h

    def up(x, y0, y1, color="#222222"):
        ax.annotate("", xy=(x, y1), xytext=(x, y0), arrowprops=dict(arrowstyle="-|>", color=color, lw=0.9))

    inputs = {"Encoder": "Inputs: source token ids", "Decoder": "Outputs so far: target ids, shifted right"}
    ends, cross_y = {}, None
    for name, (x, boxes, n, stack) in columns.items():
        mid = x + width / 2
        y = box(x, 0.0, inputs[name], "io")
        up(mid, y, y + gap)
        y = box(x, y + gap, f"Embedding x sqrt({d_model}) + positional encoding", "io")
        bottom = y + gap
        y = bottom + 0.15
        starts = []  # the bottom of each box
        for i, (label, kind) in enumerate(boxes):
            if i:
                up(mid, y - gap, y)
            if label.startswith("Encoder-decoder"):
                cross_y = y + box_h / 2
            starts.append(y)
            y = box(x + 0.25, y, label, kind, width - 0.5) + gap
        # Residual connections: from just below each sub-layer (below its LayerNorm with pre-LN) around it, on
        # the left, into the box that adds it back.
        for i, (label, _) in enumerate(boxes):
            if label.startswith(("Add", "LayerNorm")) or i + 1 >= len(boxes):
                continue
            first = i - 1 if i and boxes[i - 1][0].startswith("LayerNorm") else i
            add = i + 1
            y0, y1 = starts[first] - gap / 2, starts[add] + box_h / 2
            ax.plot([mid, x + 0.12, x + 0.12], [y0, y0, y1], color="#555555", lw=0.9)
            ax.annotate("", xy=(x + 0.25, y1), xytext=(x + 0.12, y1),
                        arrowprops=dict(arrowstyle="-|>", color="#555555", lw=0.9))
        top = y - gap + 0.15
        up(mid, bottom - gap, bottom + 0.15)
        ax.add_patch(FancyBboxPatch((x, bottom), width, top - bottom, boxstyle="round,pad=0.02,rounding_size=0.1",
                                    facecolor="none", edgecolor="#555555", linewidth=1.1, linestyle="--"))
        side = x - 0.1 if name == "Encoder" else x + width + 0.1
        ax.text(side, (bottom + top) / 2, f"{name}\nN = {n}", ha="right" if name == "Encoder"
                else "left", va="center", fontsize=9.5, fontweight="bold", color="#111111")
        y = top
        if getattr(stack, "final_norm", None) is not None:
            up(mid, y, y + gap)
            y = box(x, y + gap, "Final LayerNorm (not in the paper)", "norm")
        ends[name] = y
    ex, dx = columns["Encoder"][0], columns["Decoder"][0]
    if cross_y is not None:
        ax.annotate("", xy=(dx + 0.25, cross_y), xytext=(ex + width, ends["Encoder"]),
                    arrowprops=dict(arrowstyle="-|>", color="#D55E00", lw=1.4, connectionstyle="arc3,rad=-0.2"))
        ax.text(ex + width / 2, ends["Encoder"] + 0.15, "memory: keys and values for\nevery decoder layer",
                ha="center", va="bottom", fontsize=8, color="#A34700")
    y = ends["Decoder"]
    up(dx + width / 2, y, y + gap)
    y = box(dx, y + gap, f"Linear: {d_model} -> {vocab} scores", "io")
    up(dx + width / 2, y, y + gap)
    y = box(dx, y + gap, "Softmax: next-token probabilities", "io")
    ax.set_xlim(-1.3, 11.0)
    ax.set_ylim(-0.2, y + 0.3)
    ax.set_title(title or "The Transformer, drawn from the model's modules")
    return fig


def error_slices(report, target: float = 0.99, title: str | None = None) -> Figure:
    """Exact match per input format, per day of the month and per month, from an
    error_analysis.ErrorReport: one bar per slice, the `target` as a dashed line. Bars below it are drawn
    in a second colour and hatched, so they stand out without colour."""
    if not all(callable(getattr(report, name, None)) for name in ("by", "cells")):
        raise ValueError(f"report must be an error_analysis.ErrorReport, got {type(report).__name__}")
    panels = [("format", "input format"), ("day", "day of the month"), ("month", "month")]
    fig = _new_figure(12.0, 3.6)
    axes = fig.subplots(1, 3, width_ratios=[1.2, 2.4, 1.1])
    for ax, (attribute, xlabel) in zip(axes, panels):
        slices = report.by(attribute)
        accuracy = np.array([s.accuracy for s in slices]) * 100
        low = accuracy < target * 100
        x = np.arange(len(slices))
        bars = ax.bar(x, accuracy, color=[OKABE_ITO[5] if b else OKABE_ITO[0] for b in low], width=0.75)
        for bar, b in zip(bars, low):
            bar.set_hatch("//" if b else "")
        ax.axhline(target * 100, color="black", linestyle="--", linewidth=1)
        labels = [str(i + 1) for i in range(len(slices))] if attribute == "format" else [str(s.value) for s in slices]
        ax.set_xticks(x, labels, fontsize=7 if attribute == "day" else 8)
        ax.set_xlabel(xlabel + (" (DATE_FORMATS order)" if attribute == "format" else ""))
        ax.set_ylim(max(0.0, min(accuracy.min(), target * 100) - 2), 100.5)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel(f"exact match (%), dashed: {target:.0%}")
    fig.suptitle(title or f"Exact match per slice ({len(report.examples):,} dates, "
                          f"{report.accuracy:.2%} overall)")
    return fig


def _runs_of(name: str, runs) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """The (steps,) and (finished runs, steps) arrays of one row's repeated runs, and how many runs diverged.
    A run is a list of (step, value) pairs, or None for a run that stopped on a non-finite loss."""
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not runs:
        raise ValueError(f"curves[{name!r}] must be a non-empty list of runs (lists of (step, value) pairs, or None "
                         f"for a diverged run), got {runs!r:.80}")
    finished = [as_array(run, f"a run of {name!r}", 2) for run in runs if run is not None]
    if any(run.shape[1:] != (2,) or run.shape[0] == 0 for run in finished):
        raise ValueError(f"each run of {name!r} must be a non-empty list of (step, value) pairs")
    if not finished:
        return None, None, len(runs)
    steps = finished[0][:, 0]
    if any(run.shape != finished[0].shape or not np.array_equal(run[:, 0], steps) for run in finished):
        raise ValueError(f"the runs of {name!r} must be evaluated at the same steps, to be averaged")
    return steps, np.stack([run[:, 1] for run in finished]), len(runs) - len(finished)


def _band(ax, steps, values, color, label, linestyle="-") -> None:
    """The mean over runs as a line, the range (lowest to highest run) as a shaded band around it."""
    ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.25, linewidth=0)
    ax.plot(steps, values.mean(axis=0), color=color, linestyle=linestyle, linewidth=1.6, label=label)


_LINE_COLOURS = [OKABE_ITO[k] for k in (0, 1, 2, 5, 3, 4)]  # no yellow: thin lines on white need contrast


def seed_curves(curves: Mapping[str, Sequence], baseline: str | None = None, title: str | None = None,
                ylim: tuple[float, float] | None = None, ncols: int = 4, xlabel: str = "training step",
                ylabel: str = "validation loss") -> Figure:
    """Curves repeated over seeds: for each row, the mean over its runs as a line and their range as a band.

    curves maps a row name to its runs, each a list of (step, value) pairs evaluated at the same steps (or None,
    a run that diverged: left out, and counted in the panel's title). Without `baseline`, every row is drawn on
    one panel. With `baseline` (one of the names), each other row gets a panel of its own, with the baseline
    drawn in grey on every panel: small multiples, so that each row is compared with the same reference.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves must be a non-empty dict of row name -> runs, got {type(curves).__name__}")
    if baseline is not None and baseline not in curves:
        raise ValueError(f"baseline {baseline!r} is not one of the rows: {list(curves)}")
    check_int("ncols", ncols)
    rows = {str(name): _runs_of(str(name), runs) for name, runs in curves.items()}
    others = [name for name in rows if name != baseline]
    if baseline is not None and not others:
        raise ValueError("with a baseline, curves needs at least one other row to compare with it")
    groups = [[name] for name in others] if baseline is not None else [list(rows)]
    ncols = min(ncols, len(groups))
    nrows = -(-len(groups) // ncols)
    fig = _new_figure(3.3 * ncols + 0.4, 2.7 * nrows + 0.7) if baseline is not None else _new_figure(6.5, 4.0)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, (ax, names) in enumerate(zip(axes.flat, groups)):
        notes = []
        if baseline is not None and rows[baseline][0] is not None:
            _band(ax, rows[baseline][0], rows[baseline][1], "#7f7f7f", baseline, linestyle="--")
        for j, name in enumerate(names):
            steps, values, diverged = rows[name]
            colour = OKABE_ITO[0] if baseline is not None else _LINE_COLOURS[j % len(_LINE_COLOURS)]
            if steps is not None:
                _band(ax, steps, values, colour, name)
            if diverged:
                notes.append(f"{name}: {diverged} of {len(curves[name])} runs diverged")
        if baseline is not None:
            ax.set_title(names[0], fontsize=10)
            _literal([ax.title])
        if notes:
            ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # nothing to label when every run diverged
            _literal(ax.legend(fontsize=7 if baseline is not None else 8, loc="upper right").get_texts())
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    if ylim is not None:
        axes[0, 0].set_ylim(*ylim)
    fig.suptitle(title or ("Mean over seeds (line) and range (band)"
                           + (f", against {baseline} (grey, dashed)" if baseline is not None else "")))
    return fig


def seed_ranges(values: Mapping[str, Sequence[float]], baseline: str | None = None, title: str | None = None,
                xlabel: str = "value") -> Figure:
    """One row per name: every seed's value as a dot, their range as a bar, their mean as a vertical tick.
    With `baseline` (one of the names), its range is shaded across the whole figure: a row whose bar lies
    outside the shaded band differs from the baseline by more than the seed-to-seed spread. NaN values (a run
    with no value, e.g. a diverged one) are left out; a row with none is labelled "no value"."""
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"values must be a non-empty dict of row name -> list of numbers, got "
                         f"{type(values).__name__}")
    if baseline is not None and baseline not in values:
        raise ValueError(f"baseline {baseline!r} is not one of the rows: {list(values)}")
    rows = {}
    for name, numbers in values.items():
        arr = as_array([np.nan if v is None else v for v in numbers], f"values[{name!r}]", 1)
        if arr.size == 0:
            raise ValueError(f"values[{name!r}] must hold at least one number")
        rows[str(name)] = arr[np.isfinite(arr)]
    fig = _new_figure(7.5, 0.42 * len(rows) + 1.3)
    ax = fig.add_subplot()
    if baseline is not None and rows[str(baseline)].size:
        ax.axvspan(rows[str(baseline)].min(), rows[str(baseline)].max(), color="#7f7f7f", alpha=0.2, linewidth=0,
                   label=f"range of {baseline}")
    for y, (name, arr) in enumerate(rows.items()):
        colour = _LINE_COLOURS[y % len(_LINE_COLOURS)]
        if arr.size == 0:
            ax.text(0.5, y, "no value", transform=ax.get_yaxis_transform(), va="center", ha="center", fontsize=8)
            continue
        ax.plot([arr.min(), arr.max()], [y, y], color=colour, linewidth=2.5, solid_capstyle="butt")
        ax.plot(arr, np.full(arr.size, y), linestyle="none", marker=MARKERS[y % len(MARKERS)], markersize=5,
                color=colour, markeredgecolor="black", markeredgewidth=0.5)
        ax.plot([arr.mean()], [y], linestyle="none", marker="|", markersize=14, markeredgewidth=2, color="black")
    ax.set_yticks(range(len(rows)), list(rows))
    _literal(ax.get_yticklabels())
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if baseline is not None:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Each seed (dots), their range (bar) and mean (black tick)")
    return fig
