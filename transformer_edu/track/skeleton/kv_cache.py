"""Keys and values kept between decoding steps (chapter 12, "The key/value cache")."""
from __future__ import annotations

import torch  # noqa: F401 (for your code)
from torch import Tensor, nn

from transformer_edu.track import todo


class AttentionCache:
    """The keys and values (B, H, L, d_k) of one attention layer. Append mode (self-attention): each step adds
    the new positions' keys and values after the kept ones. Static mode (cross-attention): the memory's keys and
    values, stored once."""

    def __init__(self, static: bool = False):
        self.static = static
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def add(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append k and v (B, H, L_new, d_k) to the kept ones (append mode) or store them (static mode); keep
        the result in self.k, self.v and return it: every position kept so far, (B, H, L, d_k) each."""
        todo("kv-cache")

    def select(self, index: Tensor) -> None:
        """Given: keep batch rows `index` (beam search reorders its hypotheses)."""
        if self.k is not None:
            self.k, self.v = self.k.index_select(0, index), self.v.index_select(0, index)


class KVCache:
    """Given: one AttentionCache per attention module of a model, made the first time it is asked for."""

    def __init__(self):
        self.caches: dict[nn.Module, AttentionCache] = {}

    def of(self, attention: nn.Module, static: bool = False) -> AttentionCache:
        if attention not in self.caches:
            self.caches[attention] = AttentionCache(static)
        return self.caches[attention]

    @property
    def length(self) -> int:
        """Target positions cached so far (read from any self-attention's cache)."""
        return next((c.length for c in self.caches.values() if not c.static), 0)

    def select(self, index: Tensor) -> None:
        for cache in self.caches.values():
            cache.select(index)
