"""EmbeddingExplorer and nearest_neighbours: embeddings projected to 2-D, with neighbours measured in the
full space (paper section 3.4).
"""
from __future__ import annotations

import numpy as np

from ..plots import as_array, pca_2d, token_list
from .base import View, front_end, rounded


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


class EmbeddingExplorer(View):
    """A 2-D scatter of labelled points in groups; choosing a point highlights its nearest neighbours.

    points2d (N, 2); labels N strings; groups N group names (optional); neighbours: per point a list of
    indices of its nearest neighbours computed in the ORIGINAL space (optional), with `neighbour_scores` of
    the same shape and `metric` naming them. `EmbeddingExplorer.from_vectors(vectors, labels, groups, k)`
    does the PCA and the neighbour search. Size: 100 points with 5 neighbours is about 8 KB.
    """

    _esm = front_end("view_embedding.js")

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
