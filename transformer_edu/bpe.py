"""Byte-pair encoding learned from scratch (paper section 5.1; Sennrich, Haddow and Birch, 2016).

Training starts from single symbols and repeatedly merges the most frequent adjacent pair into a new symbol;
encoding replays the merges in the order they were learned. Later change: this BPE works on UTF-8 bytes, not
characters, and keeps a word's leading space (as GPT-2 did, Radford et al., 2019), so any text round-trips
exactly; Sennrich et al. merged characters and marked the end of each word with a special symbol.
The shared vocabulary machinery (specials, ids, save/load) is in tokenizer.py.
"""
from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from typing import Callable, Iterable

from .checks import check_corpus, check_int, check_text
from .tokenizer import N_SPECIAL, Tokenizer

# Pre-split: letters (with one leading space), digits, other symbols, whitespace. It covers every character,
# so joining the words gives the text back; merges never cross these word boundaries.
BPE_PATTERN = r" ?[^\W\d]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+"
_BPE_RE = re.compile(BPE_PATTERN)


def bytes_to_text(piece: bytes) -> str:
    """A readable, reversible name for a byte string: UTF-8 text where it decodes (b" the" -> " the"),
    \\xHH for a byte that is only part of a character, and a real backslash doubled."""
    return piece.replace(b"\\", b"\\\\").decode("utf-8", errors="backslashreplace")


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def text_to_bytes(text: str) -> bytes:
    """The inverse of bytes_to_text."""
    parts, start = [], 0
    for match in _ESCAPE.finditer(text):
        parts.append(text[start:match.start()].encode("utf-8"))
        parts.append(b"\\" if match.group(1) == "\\" else bytes([int(match.group(1)[1:], 16)]))
        start = match.end()
    return b"".join(parts) + text[start:].encode("utf-8")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text must be encodable as UTF-8, got the lone surrogate {text[exc.start]!r}") from None


def _merge_word(symbols: list[int], left: int, right: int, merged: int) -> list[int]:
    """Replace every (left, right) in `symbols`, scanning left to right, by `merged`."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding. Ids: 4 specials, then the 256 bytes, then one token per merge.

    `merges` is the ordered list of learned (left, right) pieces, `merge_counts` how often each pair occurred
    when it was merged. Pieces are shown as text (bytes_to_text), e.g. ("t", "h"), (" ", "th").
    """

    kind = "bpe"

    def __init__(self, merges: Iterable[tuple[str, str]] = (), merge_counts: Iterable[int] | None = None):
        self.merges = [tuple(pair) for pair in merges]
        self.merge_counts = list(merge_counts) if merge_counts is not None else []
        if merge_counts is not None and len(self.merge_counts) != len(self.merges):
            raise ValueError(f"merge_counts must have one count per merge ({len(self.merges)}), "
                             f"got {len(self.merge_counts)}")
        pieces = [bytes([b]) for b in range(256)]
        id_of = {piece: N_SPECIAL + b for b, piece in enumerate(pieces)}
        self._ranks = {}  # (left id, right id) -> (rank, merged id)
        for rank, pair in enumerate(self.merges):
            if len(pair) != 2 or not all(isinstance(p, str) for p in pair):
                raise ValueError(f"merge {rank} must be a pair of str pieces, got {pair!r}")
            left, right = text_to_bytes(pair[0]), text_to_bytes(pair[1])
            if left not in id_of or right not in id_of:
                raise ValueError(f"merge {rank} {pair!r} uses a piece that no byte or earlier merge makes")
            if left + right not in id_of:  # two merge orders can spell the same bytes: they share one id
                id_of[left + right] = N_SPECIAL + len(pieces)
                pieces.append(left + right)
            self._ranks.setdefault((id_of[left], id_of[right]), (rank, id_of[left + right]))  # first rank wins
        self._cache: dict[str, list[int]] = {}
        super().__init__(bytes_to_text(piece) for piece in pieces)

    @classmethod
    def train(cls, texts: str | Iterable[str], vocab_size: int, min_freq: int = 2,
              on_merge: Callable[[int, str, str, int], None] | None = None) -> BPETokenizer:
        """Learn merges until the vocabulary has `vocab_size` tokens (specials and bytes included) or no
        pair occurs min_freq times. Ties go to the pair whose pieces come first in byte order.
        on_merge(rank, left, right, count) is called after each merge, to watch training happen."""
        corpus = check_corpus(texts)
        check_int("vocab_size", vocab_size, N_SPECIAL + 256, why=f" ({N_SPECIAL} special tokens + 256 bytes)")
        check_int("min_freq", min_freq, 1)
        counts = Counter(word for text in corpus for word in _BPE_RE.findall(text))  # word -> frequency
        words = [[N_SPECIAL + b for b in _utf8(word)] for word in counts]  # each word as a list of symbol ids
        freqs = list(counts.values())
        pieces = [b""] * N_SPECIAL + [bytes([b]) for b in range(256)]  # id -> bytes
        id_of = {piece: i for i, piece in enumerate(pieces) if i >= N_SPECIAL}
        pair_counts, where = Counter(), defaultdict(set)  # pair -> occurrences; pair -> indices of its words
        for w, (symbols, freq) in enumerate(zip(words, freqs)):
            for pair in zip(symbols, symbols[1:]):
                pair_counts[pair] += freq
                where[pair].add(w)
        heap = [(-n, pieces[a], pieces[b], a, b) for (a, b), n in pair_counts.items()]  # max-count first
        heapq.heapify(heap)
        merges, merge_counts = [], []
        while heap and N_SPECIAL + len(id_of) < vocab_size:
            negative, _, _, a, b = heapq.heappop(heap)
            if -negative != pair_counts.get((a, b), 0):
                continue  # an outdated entry: this pair's count has changed since it was pushed
            if -negative < min_freq:
                break
            new = id_of.setdefault(pieces[a] + pieces[b], len(pieces))
            if new == len(pieces):
                pieces.append(pieces[a] + pieces[b])
            merges.append((bytes_to_text(pieces[a]), bytes_to_text(pieces[b])))
            merge_counts.append(-negative)
            changed = set()
            for w in where.pop((a, b)):  # only the words that contain the pair change
                old, words[w] = words[w], _merge_word(words[w], a, b, new)
                if len(words[w]) == len(old):
                    continue  # an outdated index: an earlier merge already took this pair apart
                for pair in zip(old, old[1:]):
                    pair_counts[pair] -= freqs[w]
                    changed.add(pair)
                for pair in zip(words[w], words[w][1:]):
                    pair_counts[pair] += freqs[w]
                    where[pair].add(w)
                    changed.add(pair)
            for pair in changed:
                if pair_counts[pair] > 0:
                    heapq.heappush(heap, (-pair_counts[pair], pieces[pair[0]], pieces[pair[1]], *pair))
                else:
                    del pair_counts[pair]
            if on_merge is not None:
                on_merge(len(merges) - 1, *merges[-1], merge_counts[-1])
        return cls(merges, merge_counts)

    @classmethod
    def _from_dict(cls, data: dict) -> BPETokenizer:
        return cls(data["merges"], data.get("merge_counts"))

    def _encode_word(self, word: str) -> list[int]:
        """Apply the merges to one word, lowest rank (earliest learned) first. Cached per word."""
        if word not in self._cache:
            symbols = [N_SPECIAL + b for b in _utf8(word)]
            while len(symbols) > 1:
                ranked = [self._ranks[p] + p for p in zip(symbols, symbols[1:]) if p in self._ranks]
                if not ranked:
                    break
                _, new, left, right = min(ranked)
                symbols = _merge_word(symbols, left, right, new)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[word] = symbols
        return self._cache[word]

    def _encode_ids(self, text: str) -> list[int]:
        return [i for word in _BPE_RE.findall(text) for i in self._encode_word(word)]

    def tokenize(self, text: str) -> list[str]:
        check_text(text)
        return [self._vocab[i] for i in self._encode_ids(text)]

    def _join(self, pieces: list[str]) -> str:
        return b"".join(text_to_bytes(p) for p in pieces).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"type": self.kind, "merges": [list(pair) for pair in self.merges],
                "merge_counts": self.merge_counts, "vocab": self.vocab}
