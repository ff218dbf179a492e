"""AttentionExplorer and MaskedAttentionExplorer: attention weights per layer and head, and masks toggled on
raw scores (paper sections 3.2.1-3.2.3).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..plots import as_array, token_list
from .base import View, check_size, front_end, rounded


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


class AttentionExplorer(View):
    """Attention weights of every layer and head: a heatmap and a lines view, for one or several kinds.

    weights: one (T, S) matrix (early chapters), (H, T, S), (L, H, T, S), a list of per-layer (H, T, S)
    tensors, or a dict kind name -> any of those (e.g. "encoder self-attention", "decoder self-attention",
    "encoder-decoder attention"). query_tokens / key_tokens: lists of strings, or dicts kind -> list when
    kinds differ (key_tokens defaults to query_tokens). Controls: kind, layer, head (plus "all heads
    averaged"); hovering or focusing a query token outlines its row and shows only its lines.
    Size: about 6 bytes per weight; 2 layers x 4 heads x 10 x 10 tokens is about 5 KB.
    """

    _esm = front_end("view_attention.js")

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
        check_size(total, max_numbers, "weights")
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


class MaskedAttentionExplorer(View):
    """One matrix of attention scores; "padding mask" and "causal mask" checkboxes recompute softmax in the
    browser (masked scores become -inf, so their weights are exactly 0).

    scores (T, S) (the scaled dot products, before softmax); tokens: the T query tokens; key_tokens: the S
    keys (default: tokens); pad_positions: key indices that are padding. The causal mask needs T == S.
    A row with every key masked gets zero weights, as the package's `scaled_dot_product_attention` returns.
    Size: keep T, S <= 12 (the cells show their values).
    """

    _esm = front_end("view_masked.js")

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
