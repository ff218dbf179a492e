"""Interactive views that work in the static HTML book (no kernel, no network) and in live JupyterLab.

Each view is an `anywidget.AnyWidget`: Python checks the inputs and computes the numbers (rounded, plain
lists, in the synced `data` trait); hand-written JavaScript (view_common.js + view_<name>.js in this folder,
no imports, no URLs) draws SVG and reacts to the controls in the browser. With nbclient's
`store_widget_state=True` the data is saved in the notebook, so the book's pages react with no kernel. The
only "http" string in the JavaScript is the SVG namespace name `http://www.w3.org/2000/svg`, which is an
identifier and is never fetched. Tokens are set with `textContent`, never parsed as HTML, so a token
`<img src=x onerror=alert(1)>` shows as that literal text. Control state (chosen layer, head ...) lives in
the browser only: nothing is sent back to the kernel.

Every view's root element has `data-te-view="<kind>"`; every control has `data-te-control="<name>"`.
Controls are native <select>, <input type=range> and checkboxes; tokens and points are focusable with Tab
(focus highlights like hover). Colours: viridis for weights, RdBu reversed for signed values, Okabe-Ito plus
marker shapes for groups; light and dark themes (the book's, JupyterLab's) via CSS variables.

One scripted interaction per view, and what changes (for the browser tests):

- AttentionExplorer, data-te-view="attention":
  select[data-te-control=head]: set value to "1" (enabled when the kind has 2+ heads), dispatch "change";
  the fill attributes of the heatmap cells (svg g[data-te-role=cells] > rect) change.
  With one head: focus the first g[data-te-control=query] (dispatch "focus"): its row outline
  g[data-te-role=highlight] becomes visibility="visible" and p.te-readout names the keys it attends to.
  Also select[data-te-control=kind] and select[data-te-control=layer] (enabled when there are several).
- MaskedAttentionExplorer, data-te-view="masked-attention":
  input[data-te-control=causal-mask]: click it (checked -> true; it dispatches "change"); the cells above
  the diagonal get class="te-masked", their text becomes "0.00", and the other fills in those rows change.
  Also input[data-te-control=padding-mask] (enabled when there are padding positions) and
  select[data-te-control=show] ("weights" / "scores").
- PositionalEncodingExplorer, data-te-view="positional-encoding":
  input[data-te-control=dimension]: set value to "5", dispatch "input"; the `points` attribute of
  polyline[data-te-role=curve] changes. input[data-te-control=position]: set value to "3", dispatch "input";
  the `height` attributes of g[data-te-role=bars] > rect change.
- EmbeddingExplorer, data-te-view="embedding":
  select[data-te-control=point]: set value to "0", dispatch "change"; g[data-te-role=neighbour-lines] gets
  one <line> per neighbour (k of them) and p.te-readout names the neighbours. (Hovering, clicking or
  focusing a g[data-te-control=point-marker] does the same.)
- TokenExplorer, data-te-view="tokens":
  select[data-te-control=text]: set value to "1" (enabled when there are 2+ examples), dispatch "change";
  the text of the chips (span[data-te-role=chip] > span.te-piece) changes. select[data-te-control=tokenizer]
  picks one tokenizer or "all". A note says that this view cannot tokenize new text.
- DistributionExplorer, data-te-view="distribution":
  input[data-te-control=temperature]: set value to "0" (the lowest temperature), dispatch "input"; the
  `width` attributes of rect[data-te-role=bar] change (the top bar grows, unless it was already at 1).
  select[data-te-control=position] exists only when the logits are 2-D (several positions).
- LayerStatisticsExplorer, data-te-view="layer-statistics":
  select[data-te-control=metric]: set value to "1" (enabled when there are 2+ metrics), dispatch "change";
  the `d` attribute of every path[data-te-role=curve] changes (one path per series, data-te-series=<index>).
  input[data-te-control=series] (one checkbox per series, in the legend, data-te-index=<index>): click it;
  its curve and markers get visibility="hidden" and the y axis refits the ticked series.
  input[data-te-control=log-scale]: click it; the curves and the y ticks (g[data-te-role=y-ticks]) change.
  input[data-te-control=layer]: set value to "3", dispatch "input"; line[data-te-role=guide] moves and
  p.te-readout gives every ticked series' value at that layer (hovering over the chart does the same).

Size: the data is about 6-8 bytes per number once rounded; each view also carries its JavaScript and CSS
(measured: 18-23 KB per view, 30 KB for LayerStatisticsExplorer; `view.data_size` gives the data's bytes).
Guidance per view is in its docstring; inputs beyond a view's `max_numbers` raise ValueError instead of
silently making a page of megabytes.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets

from .plots import as_array, pca_2d, token_list

_HERE = Path(__file__).parent


def _esm(name: str) -> str:
    """One ES module: the shared helpers, then the view's code, then its default export."""
    common = (_HERE / "view_common.js").read_text(encoding="utf-8")
    own = (_HERE / name).read_text(encoding="utf-8")
    return f"{common}\n{own}\nexport default {{ render }};\n"


def rounded(values, decimals: int) -> list:
    """Numbers as nested lists rounded to `decimals` places; NaN and infinities become None (JSON null)."""
    arr = np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    out = arr.astype(object)
    out[~np.isfinite(arr)] = None
    return out.tolist()


def _check_size(n: int, max_numbers: int, what: str) -> None:
    if n > max_numbers:
        raise ValueError(f"{what} holds {n:,} numbers, more than max_numbers={max_numbers:,}; the page would be "
                         f"large. Use fewer tokens, layers or heads (or raise max_numbers deliberately)")


class _View(anywidget.AnyWidget):
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


def _kind_to_array(weights, name: str) -> np.ndarray:
    """One kind's weights as (L, H, T, S): accepts (T, S), (H, T, S), (L, H, T, S), (L, 1, H, T, S) or a list
    of per-layer (H, T, S) / (1, H, T, S) tensors."""
    if isinstance(weights, (list, tuple)) and weights and not np.isscalar(weights[0]) and hasattr(weights[0], "shape"):
        weights = [as_array(w, f"{name}[{i}]") for i, w in enumerate(weights)]
        shapes = {w.shape for w in weights}
        if len(shapes) > 1:
            raise ValueError(f"{name}: every layer must have the same shape, got {sorted(shapes)}")
    arr = as_array(weights, name, (2, 3, 4, 5))
    if arr.ndim == 5:
        if arr.shape[1] != 1:
            raise ValueError(f"{name} has a batch axis of size {arr.shape[1]} (shape {arr.shape}); pick one example "
                             f"(AttentionExplorer.from_model_attention(..., example=i))")
        arr = arr[:, 0]
    while arr.ndim < 4:
        arr = arr[None]
    if 0 in arr.shape:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
        raise ValueError(f"{name}: attention weights must lie in [0, 1] (softmax outputs), got values from "
                         f"{finite.min():.3g} to {finite.max():.3g}; for raw scores use MaskedAttentionExplorer")
    return arr


class AttentionExplorer(_View):
    """Attention weights of every layer and head: a heatmap and a lines view, for one or several kinds.

    weights: one (T, S) matrix (early chapters), (H, T, S), (L, H, T, S), a list of per-layer (H, T, S)
    tensors, or a dict kind name -> any of those (e.g. "encoder self-attention", "decoder self-attention",
    "encoder-decoder attention"). query_tokens / key_tokens: lists of strings, or dicts kind -> list when
    kinds differ (key_tokens defaults to query_tokens). Controls: kind, layer, head (plus "all heads
    averaged"); hovering or focusing a query token outlines its row and shows only its lines.
    Size: about 6 bytes per weight; 2 layers x 4 heads x 10 x 10 tokens is about 5 KB.
    """

    _esm = _esm("view_attention.js")

    @classmethod
    def data_for(cls, weights, query_tokens=None, key_tokens=None, *, title: str | None = None, layer: int = 0,
                 head: int | str = 0, decimals: int = 3, max_numbers: int = 100_000):
        items = weights.items() if isinstance(weights, Mapping) else [("attention", weights)]
        kinds, total = [], 0
        for name, w in items:
            arr = _kind_to_array(w, f"weights[{name!r}]" if isinstance(weights, Mapping) else "weights")
            q = query_tokens.get(name) if isinstance(query_tokens, Mapping) else query_tokens
            k = key_tokens.get(name) if isinstance(key_tokens, Mapping) else key_tokens
            k = q if k is None else k
            if q is None:
                raise ValueError(f"query_tokens are needed for kind {name!r}")
            shape = f"weights of {name!r} (shape {arr.shape}, layers x heads x queries x keys)"
            kinds.append({"name": str(name),
                          "query_tokens": token_list(q, "query_tokens", arr.shape[2], shape + " query axis"),
                          "key_tokens": token_list(k, "key_tokens", arr.shape[3], shape + " key axis"),
                          "layers": rounded(arr, decimals)})
            total += arr.size
        if not kinds:
            raise ValueError("weights is an empty dict; pass at least one kind of attention")
        _check_size(total, max_numbers, "weights")
        n_layers, n_heads = len(kinds[0]["layers"]), len(kinds[0]["layers"][0])
        if not 0 <= layer < n_layers:
            raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
        if not (head == "mean" and n_heads > 1) and not (isinstance(head, int) and 0 <= head < n_heads):
            raise ValueError(f"head must be in [0, {n_heads - 1}] or 'mean' (with 2+ heads), got {head!r}")
        return {"title": title, "kinds": kinds, "layer": layer, "head": head}

    @classmethod
    def from_model_attention(cls, attn, src_tokens, tgt_tokens, example: int = 0, **kwargs) -> "AttentionExplorer":
        """All three kinds from a model's `AttentionWeights` (model(src, tgt, return_attention=True)[1]).

        Encoder self-attention is (S x S) over src_tokens, decoder self-attention (T x T) over tgt_tokens,
        encoder-decoder attention (T x S): target queries, source keys. `example` picks the batch item.
        """
        if not all(hasattr(attn, a) for a in ("encoder_self", "decoder_self", "cross")):
            raise ValueError(f"attn must be an AttentionWeights (encoder_self, decoder_self, cross), got "
                             f"{type(attn).__name__}")
        src, tgt = list(src_tokens), list(tgt_tokens)
        kinds = {"encoder self-attention": (attn.encoder_self, src, src),
                 "decoder self-attention (masked)": (attn.decoder_self, tgt, tgt),
                 "encoder-decoder attention": (attn.cross, tgt, src)}
        weights, queries, keys = {}, {}, {}
        for name, (layers, q, k) in kinds.items():
            if not layers:
                continue
            batch = layers[0].shape[0]
            if not 0 <= example < batch:
                raise ValueError(f"example must be in [0, {batch - 1}], got {example}")
            weights[name] = [w[example] for w in layers]  # per layer (H, L_q, L_k)
            queries[name], keys[name] = q, k
        return cls(weights, queries, keys, **kwargs)

    def _summary(self) -> str:
        k = self.data["kinds"]
        return (f"kinds={[x['name'] for x in k]}, layers={len(k[0]['layers'])}, heads={len(k[0]['layers'][0])}, "
                f"queries={len(k[0]['query_tokens'])}, keys={len(k[0]['key_tokens'])}")


class MaskedAttentionExplorer(_View):
    """One matrix of attention scores; "padding mask" and "causal mask" checkboxes recompute softmax in the
    browser (masked scores become -inf, so their weights are exactly 0).

    scores (T, S) (the scaled dot products, before softmax); tokens: the T query tokens; key_tokens: the S
    keys (default: tokens); pad_positions: key indices that are padding. The causal mask needs T == S.
    A row with every key masked gets zero weights, as the package's `scaled_dot_product_attention` returns.
    Size: keep T, S <= 12 (the cells show their values).
    """

    _esm = _esm("view_masked.js")

    @classmethod
    def data_for(cls, scores, tokens, pad_positions=(), *, key_tokens=None, padding: bool = False,
                 causal: bool = False, title: str | None = None, decimals: int = 4):
        s = as_array(scores, "scores", 2)
        if 0 in s.shape or not np.isfinite(s).all():
            raise ValueError(f"scores must be a non-empty (T, S) matrix of finite numbers (masks are applied in the "
                             f"view), got shape {s.shape}")
        T, S = s.shape
        queries = token_list(tokens, "tokens", T, f"scores' query axis (shape {s.shape})")
        keys = token_list(queries if key_tokens is None else key_tokens, "key_tokens", S,
                          f"scores' key axis (shape {s.shape})")
        pads = sorted({int(p) for p in pad_positions})
        if any(not 0 <= p < S for p in pads):
            raise ValueError(f"pad_positions must be key indices in [0, {S - 1}], got {list(pad_positions)}")
        if causal and T != S:
            raise ValueError(f"a causal mask needs as many queries as keys, got scores of shape {s.shape}")
        return {"title": title, "scores": rounded(s, decimals), "query_tokens": queries,
                "key_tokens": keys, "pad_positions": pads, "causal_possible": T == S,
                "padding": bool(padding), "causal": bool(causal)}

    def _summary(self) -> str:
        d = self.data
        return f"queries={len(d['query_tokens'])}, keys={len(d['key_tokens'])}, pad_positions={d['pad_positions']}"


class PositionalEncodingExplorer(_View):
    """A (positions, d_model) position table: heatmap, one dimension as a curve, one position as bars.

    Pass `table` (e.g. `sinusoidal_table(50, 64)` or a learned table), or `d_model` and `max_len` to use the
    paper's sinusoidal table (section 3.5). For a sinusoidal table the view also gives each dimension's
    wavelength, 2*pi*10000^(2i/d_model) positions. Size: 50 x 64 (3,200 numbers) is about 20 KB.
    """

    _esm = _esm("view_positional.js")

    @classmethod
    def data_for(cls, table=None, *, d_model: int | None = None, max_len: int | None = None, title: str | None = None,
                 dimension: int = 0, position: int = 0, decimals: int = 3, max_numbers: int = 20_000):
        from ..positional_encoding import sinusoidal_table  # viz may use the model code, never the reverse

        if (table is None) == (d_model is None or max_len is None):
            raise ValueError(f"pass either a table or both d_model and max_len, got table="
                             f"{'given' if table is not None else None}, d_model={d_model}, max_len={max_len}")
        pe = as_array(sinusoidal_table(max_len, d_model) if table is None else table, "table", 2)
        P, D = pe.shape
        if P < 2 or D < 1:
            raise ValueError(f"table must have at least 2 positions and 1 dimension, got shape {pe.shape}")
        _check_size(pe.size, max_numbers, "table")
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


def nearest_neighbours(vectors, k: int = 5, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other vectors of each of N vectors (N, D): (indices (N, k), scores (N, k)), best first.

    metric "cosine": highest cosine similarity; "euclidean": smallest distance (scores are distances).
    """
    x = as_array(vectors, "vectors", 2)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} vectors, got {k}")
    if metric == "cosine":
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        score = unit @ unit.T  # (N, N)
        np.fill_diagonal(score, -np.inf)
        idx = np.argsort(-score, axis=1, kind="stable")[:, :k]
    elif metric == "euclidean":
        score = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)  # (N, N)
        np.fill_diagonal(score, np.inf)
        idx = np.argsort(score, axis=1, kind="stable")[:, :k]
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    return idx, np.take_along_axis(score, idx, axis=1)


class EmbeddingExplorer(_View):
    """A 2-D scatter of labelled points in groups; choosing a point highlights its nearest neighbours.

    points2d (N, 2); labels N strings; groups N group names (optional); neighbours: per point a list of
    indices of its nearest neighbours computed in the ORIGINAL space (optional), with `neighbour_scores` of
    the same shape and `metric` naming them. `EmbeddingExplorer.from_vectors(vectors, labels, groups, k)`
    does the PCA and the neighbour search. Size: 100 points with 5 neighbours is about 8 KB.
    """

    _esm = _esm("view_embedding.js")

    @classmethod
    def data_for(cls, points2d, labels, groups=None, neighbours=None, neighbour_scores=None, *,
                 metric: str | None = None, axis_labels=None, title: str | None = None, decimals: int = 3):
        pts = as_array(points2d, "points2d", 2)
        if pts.shape[1] != 2 or pts.shape[0] < 1 or not np.isfinite(pts).all():
            raise ValueError(f"points2d must be a finite (N, 2) array, got shape {pts.shape}")
        n = pts.shape[0]
        names = token_list(labels, "labels", n, f"points2d (shape {pts.shape})")
        grp = ["all"] * n if groups is None else token_list(groups, "groups", n, f"points2d (shape {pts.shape})")
        group_names = list(dict.fromkeys(grp))
        near = scores = None
        if neighbours is not None:
            near_arr = np.asarray(neighbours)
            if near_arr.ndim != 2 or near_arr.shape[0] != n or not np.issubdtype(near_arr.dtype, np.integer):
                raise ValueError(f"neighbours must be an (N={n}, k) array of point indices, got shape {near_arr.shape} "
                                 f"and dtype {near_arr.dtype}")
            if near_arr.size and (near_arr.min() < 0 or near_arr.max() >= n):
                raise ValueError(f"neighbours must be indices in [0, {n - 1}], got {near_arr.min()}..{near_arr.max()}")
            near = near_arr.tolist()
            if neighbour_scores is not None:
                sc = as_array(neighbour_scores, "neighbour_scores", 2)
                if sc.shape != near_arr.shape:
                    raise ValueError(f"neighbour_scores must have the shape of neighbours {near_arr.shape}, "
                                     f"got {sc.shape}")
                scores = rounded(sc, decimals)
        elif neighbour_scores is not None:
            raise ValueError("neighbour_scores given without neighbours")
        if axis_labels is not None and len(axis_labels) != 2:
            raise ValueError(f"axis_labels must be two strings (x, y), got {axis_labels!r}")
        return {"title": title, "points": rounded(pts, decimals), "labels": names,
                "groups": [group_names.index(g) for g in grp], "group_names": group_names,
                "neighbours": near, "scores": scores, "metric": metric,
                "axis_labels": list(axis_labels) if axis_labels is not None else None}

    @classmethod
    def from_vectors(cls, vectors, labels, groups=None, k: int = 5, metric: str = "cosine",
                     title: str | None = None) -> "EmbeddingExplorer":
        """PCA to 2-D for the picture; neighbours by `metric` in the original D dimensions."""
        x = as_array(vectors, "vectors", 2)
        points, ratio = pca_2d(x)
        idx, score = nearest_neighbours(x, k, metric)
        what = "cosine similarity" if metric == "cosine" else "Euclidean distance"
        return cls(points, labels, groups, idx, score, metric=f"{what} in the original {x.shape[1]} dimensions",
                   axis_labels=[f"principal component 1 ({ratio[0]:.0%} of variance)",
                                f"principal component 2 ({ratio[1]:.0%} of variance)"], title=title)

    def _summary(self) -> str:
        d = self.data
        k = len(d["neighbours"][0]) if d["neighbours"] else 0
        return f"points={len(d['labels'])}, groups={len(d['group_names'])}, neighbours={k}"


STATIC_TOKENS_NOTE = ("These tokenizations were computed in advance: this view cannot tokenize new text. "
                      "To try your own, run the notebook and use transformer_edu.viz.widgets.live_tokenizer.")


def token_pairs(value, where: str) -> list:
    """A list of (piece: str, id: int >= 0) pairs, checked, as [[piece, id], ...]; `where` names it in errors."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{where} must be a list of (piece, id) pairs, got {type(value).__name__}")
    out = []
    for i, pair in enumerate(value):
        if (not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2
                or not isinstance(pair[0], str) or isinstance(pair[1], bool)
                or not isinstance(pair[1], (int, np.integer)) or pair[1] < 0):
            raise ValueError(f"{where}[{i}] must be a (piece: str, id: int >= 0) pair, got {pair!r}")
        out.append([pair[0], int(pair[1])])
    return out


class TokenExplorer(_View):
    """Pre-computed tokenizations as chips: each piece and its id. It cannot tokenize new text (it says so).

    tokenizations: {name: [(piece, id), ...]} (one selector, "Example"), or {text: {tokenizer: [(piece, id),
    ...]}} (an example selector and a tokenizer selector, with "all, one row each" to compare).
    Size: about 15 bytes per token.
    """

    _esm = _esm("view_tokens.js")

    @classmethod
    def data_for(cls, tokenizations: Mapping, *, title: str | None = None, note: str = STATIC_TOKENS_NOTE):
        if not isinstance(tokenizations, Mapping) or not tokenizations:
            raise ValueError(f"tokenizations must be a non-empty dict, got {type(tokenizations).__name__}")
        texts = [str(t) for t in tokenizations]
        if all(isinstance(v, Mapping) for v in tokenizations.values()):
            tokenizers = list(dict.fromkeys(str(k) for v in tokenizations.values() for k in v))
            table = [[token_pairs(v[k], f"tokenizations[{t!r}][{k!r}]") if k in v else None for k in tokenizers]
                     for t, v in tokenizations.items()]
        else:
            tokenizers = [""]
            table = [[token_pairs(v, f"tokenizations[{t!r}]")] for t, v in tokenizations.items()]
        return {"title": title, "texts": texts, "tokenizers": tokenizers, "table": table,
                "note": str(note)}

    def _summary(self) -> str:
        return f"texts={len(self.data['texts'])}, tokenizers={len(self.data['tokenizers'])}"


class DistributionExplorer(_View):
    """Next-token probabilities softmax(logits / temperature), recomputed in the browser as the temperature
    slider moves; bars for the top_k tokens and one for all the others.

    logits (V,) or (T, V) (one row per position, with a position selector); vocab: V token strings;
    temperatures: the slider's values (all > 0), starting at `temperature`; top_k bars (default min(10, V)).
    Size: about 8 bytes per logit per position; T x V is limited by max_numbers, so pass a small
    vocabulary's logits.
    """

    _esm = _esm("view_distribution.js")

    @classmethod
    def data_for(cls, logits, vocab, temperatures=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0), *,
                 temperature: float = 1.0, top_k: int | None = None, position_labels=None, title: str | None = None,
                 decimals: int = 4, max_numbers: int = 50_000):
        z = as_array(logits, "logits", (1, 2))
        z = z[None] if z.ndim == 1 else z  # (T, V)
        if 0 in z.shape or not np.isfinite(z).all():
            raise ValueError(f"logits must be non-empty and finite, got shape {z.shape}")
        T, V = z.shape
        _check_size(z.size, max_numbers, "logits")
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


def significant(values, digits: int) -> list:
    """Numbers as nested lists kept to `digits` significant figures (for values that span many decades, where
    a fixed number of decimals would turn 1e-13 into 0); NaN and infinities become None (JSON null)."""
    arr = np.asarray(values, dtype=np.float64)
    out = np.empty(arr.shape, dtype=object)
    for index, v in np.ndenumerate(arr):
        out[index] = float(f"{v:.{digits}g}") + 0.0 if np.isfinite(v) else None  # + 0.0: no -0.0
    return out.tolist()


SERIES_LIMIT = 8  # Okabe-Ito colours and marker shapes that stay distinguishable (as plots.MARKERS)


class LayerStatisticsExplorer(_View):
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

    _esm = _esm("view_layer_statistics.js")

    @classmethod
    def data_for(cls, values: Mapping, x=None, *, x_label: str = "layer", log_scale="auto", metric: int | str = 0,
                 hidden=(), layer: int = 0, title: str | None = None, note: str | None = None, digits: int = 4,
                 max_numbers: int = 20_000):
        if not isinstance(values, Mapping) or not values:
            raise ValueError(f"values must be a non-empty dict {{metric: {{series: one number per layer}}}}, "
                             f"got {type(values).__name__}{' (empty)' if isinstance(values, Mapping) else ''}")
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
            raise ValueError(f"digits (significant figures) must be an int in [1, 15], got {digits!r}")
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
        _check_size(total, max_numbers, "values")

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


__all__ = ["AttentionExplorer", "DistributionExplorer", "EmbeddingExplorer", "LayerStatisticsExplorer",
           "MaskedAttentionExplorer", "PositionalEncodingExplorer", "TokenExplorer", "nearest_neighbours", "rounded",
           "significant"]
