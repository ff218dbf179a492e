"""Keys and values kept between decoding steps (chapter 12; not in the paper, which gives no decoding code).

Generating token t needs the keys and values of positions 0 .. t - 1 in every attention. They do not change
once computed (a position attends only to its past), so a cache keeps them and each step projects only the
newest token. One AttentionCache per attention, in one of two modes:
    append  self-attention: each step adds the new position's keys and values to the ones kept;
    static  encoder-decoder attention: the keys and values come from the memory, computed at the first step.
A KVCache holds one AttentionCache per attention of a model, created on first use, so any stack of Blocks
(encoder-decoder, decoder-only) uses the same object. MultiHeadAttention.forward_cached reads and fills it.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class AttentionCache:
    """The keys and values (B, H, L, d_k) of one attention layer, kept between steps."""

    def __init__(self, static: bool = False):
        self.static = static  # False: append mode (self-attention); True: static mode (cross-attention)
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    @property
    def length(self) -> int:
        """How many positions are cached (0 before the first step)."""
        return 0 if self.k is None else self.k.shape[2]

    def add(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append (B, H, L_new, d_k) keys and values, or in static mode store them; return all kept ones."""
        if self.k is not None and not self.static:
            k = torch.cat([self.k, k], dim=2)  # (B, H, L_past + L_new, d_k)
            v = torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v

    def select(self, index: Tensor) -> None:
        """Keep batch rows `index` (in that order), e.g. the surviving hypotheses of a beam search."""
        if self.k is not None:
            self.k, self.v = self.k.index_select(0, index), self.v.index_select(0, index)


class KVCache:
    """One AttentionCache per attention module of a model, for one batch of sequences."""

    def __init__(self):
        self.caches: dict[nn.Module, AttentionCache] = {}

    def of(self, attention: nn.Module, static: bool = False) -> AttentionCache:
        """The cache of this attention module (a new, empty one the first time it is asked for)."""
        if attention not in self.caches:
            self.caches[attention] = AttentionCache(static)
        return self.caches[attention]

    @property
    def length(self) -> int:
        """How many target positions are cached already (read from any self-attention's cache)."""
        return next((c.length for c in self.caches.values() if not c.static), 0)

    @property
    def batch_size(self) -> int | None:
        """The batch the cached keys belong to (None while empty)."""
        return next((c.k.shape[0] for c in self.caches.values() if c.k is not None), None)

    @property
    def memory_length(self) -> int | None:
        """The memory length the static (cross-attention) caches hold (None if there is none)."""
        return next((c.length for c in self.caches.values() if c.static and c.k is not None), None)

    def select(self, index: Tensor) -> None:
        """Keep batch rows `index` in every cache (beam search)."""
        for cache in self.caches.values():
            cache.select(index)
