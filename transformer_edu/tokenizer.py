"""Tokenizers: text -> pieces -> integer ids and back (paper section 5.1).

Section 5.1, English-German: "Sentences were encoded using byte-pair encoding [3], which has a shared
source-target vocabulary of about 37000 tokens", where [3] is Britz et al. (2017); English-French used a
32,000 word-piece vocabulary. Byte-pair encoding (BPE) is Sennrich, Haddow and Birch (2016): start from
single symbols and repeatedly merge the most frequent adjacent pair into a new symbol. Three tokenizers:

- CharTokenizer: one token per character seen in training; unseen characters become <unk>.
- WordTokenizer: pieces cut by a regular expression (words, punctuation marks, or whatever the pattern says).
- BPETokenizer: BPE learned here from scratch. Later change: it works on UTF-8 bytes, not characters, and
  keeps a word's leading space (as GPT-2 did, Radford et al., 2019), so any text round-trips exactly.
  Sennrich et al. merged characters and marked the end of each word with a special symbol.

Every vocabulary starts with the same special tokens: <pad>=0, <bos>=1 (begin), <eos>=2 (end), <unk>=3.
"""
from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
N_SPECIAL = len(SPECIAL_TOKENS)
DEFAULT_PATTERN = r"\w+|[^\w\s]"  # WordTokenizer: a run of letters/digits/_ or one punctuation mark
# BPE pre-split: letters (with one leading space), digits, other symbols, whitespace. It covers every character,
# so joining the words gives the text back; merges never cross these word boundaries.
BPE_PATTERN = r" ?[^\W\d]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+"
_BPE_RE = re.compile(BPE_PATTERN)


def _check_text(text, name: str = "text") -> None:
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a str, got {type(text).__name__}")


def _check_corpus(texts) -> list[str]:
    """A training corpus: one str or an iterable of str, with at least one character in total."""
    texts = [texts] if isinstance(texts, str) else texts
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(f"texts must be a str or an iterable of str, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        _check_text(text, f"texts[{i}]")
    if not any(texts):
        raise ValueError(f"the training corpus is empty: expected at least one non-empty text, got {len(texts)} "
                         "text(s) with no characters")
    return texts


def _check_int(name: str, value, low: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}{why}, got {value!r}")


class Tokenizer:
    """The shared part: a vocabulary (list of token strings, index = id) that starts with SPECIAL_TOKENS.

    Subclasses say how text becomes pieces (`tokenize`) and pieces become text (`_join`).
    """

    kind = "base"  # the "type" field of a saved file

    def __init__(self, tokens: Iterable[str]):
        vocab = list(SPECIAL_TOKENS) + list(tokens)
        for i, token in enumerate(vocab):
            if not isinstance(token, str) or not token:
                raise ValueError(f"token {i} must be a non-empty str, got {token!r}")
        if len(set(vocab)) != len(vocab):
            repeated = sorted(t for t, n in Counter(vocab).items() if n > 1)
            raise ValueError(f"vocabulary entries must be distinct (the specials included), got repeats {repeated}")
        self._vocab = vocab
        self._ids = {token: i for i, token in enumerate(vocab)}

    vocab_size = property(lambda self: len(self._vocab))
    vocab = property(lambda self: list(self._vocab), doc="token strings; the index of each is its id")
    pad_id = property(lambda self: PAD_ID)
    bos_id = property(lambda self: BOS_ID)
    eos_id = property(lambda self: EOS_ID)
    unk_id = property(lambda self: UNK_ID)

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def _join(self, pieces: list[str]) -> str:
        raise NotImplementedError

    def _encode_ids(self, text: str) -> list[int]:
        return [self._ids.get(piece, UNK_ID) for piece in self.tokenize(text)]

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Text -> ids, optionally wrapped in <bos> ... <eos>. Pieces not in the vocabulary become <unk>."""
        _check_text(text)
        return [BOS_ID] * bool(add_bos) + self._encode_ids(text) + [EOS_ID] * bool(add_eos)

    def decode(self, ids, skip_special: bool = True) -> str:
        """Ids (a list of ints or a 1-D tensor) -> text. skip_special drops <pad>, <bos> and <eos>;
        <unk> stays visible, since it stands for input that was lost."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        if not isinstance(ids, (list, tuple)):
            raise ValueError(f"ids must be a list of ints or a 1-D tensor, got {type(ids).__name__}")
        for i in ids:
            self._check_id(i)
        return self._join([self._vocab[i] for i in ids if not (skip_special and i in (PAD_ID, BOS_ID, EOS_ID))])

    def _check_id(self, i) -> None:
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError(f"token ids must be ints, got {i!r} of type {type(i).__name__}")
        if not 0 <= i < len(self._vocab):
            raise ValueError(f"token id {i} is out of range: expected 0 to {len(self._vocab) - 1} for this "
                             f"vocabulary of {len(self._vocab)}")

    def token_to_id(self, token: str) -> int:
        """The id of a token string; <unk>'s id for a string not in the vocabulary."""
        _check_text(token, "token")
        return self._ids.get(token, UNK_ID)

    def id_to_token(self, i: int) -> str:
        self._check_id(i)
        return self._vocab[i]

    def to_dict(self) -> dict:
        return {"type": self.kind, "vocab": self.vocab}

    def save(self, path: str | Path) -> None:
        """Write the tokenizer as human-readable UTF-8 JSON."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @staticmethod
    def from_dict(data: dict) -> Tokenizer:
        """Rebuild a tokenizer from `to_dict()`'s output, choosing the class by data["type"]."""
        if not isinstance(data, dict) or data.get("type") not in TOKENIZER_TYPES:
            got = data.get("type") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"expected a dict whose 'type' is one of {sorted(TOKENIZER_TYPES)}, got {got!r}")
        try:
            tokenizer = TOKENIZER_TYPES[data["type"]]._from_dict(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed {data['type']!r} tokenizer data: {exc!r}") from None
        if "vocab" in data and data["vocab"] != tokenizer.vocab:
            raise ValueError("malformed tokenizer data: its 'vocab' does not match the one its fields rebuild")
        return tokenizer

    @staticmethod
    def load(path: str | Path) -> Tokenizer:
        """Read a file written by `save`; returns a CharTokenizer, WordTokenizer or BPETokenizer."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"could not read a tokenizer JSON file from {str(path)!r}: {exc}") from None
        return Tokenizer.from_dict(data)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


class CharTokenizer(Tokenizer):
    """One token per Unicode character; decode concatenates, so seen text round-trips exactly."""

    kind = "char"

    @classmethod
    def train(cls, texts: str | Iterable[str]) -> CharTokenizer:
        """Every distinct character of the corpus, sorted (so the ids do not depend on the order of texts)."""
        return cls(sorted(set("".join(_check_corpus(texts)))))

    @classmethod
    def _from_dict(cls, data: dict) -> CharTokenizer:
        return cls(data["vocab"][N_SPECIAL:])

    def tokenize(self, text: str) -> list[str]:
        _check_text(text)
        return list(text)

    def _join(self, pieces: list[str]) -> str:
        return "".join(pieces)


class WordTokenizer(Tokenizer):
    """Pieces are the matches of a regular expression; the vocabulary is every piece seen min_freq times.

    The text between matches (usually whitespace) is thrown away, so decode cannot always restore it: it
    joins pieces with `separator`, except that no separator goes before a single punctuation mark
    ("Hello , world !" -> "Hello, world!", but "( a )" -> "( a)"). With separator="" it concatenates.
    """

    kind = "word"

    def __init__(self, tokens: Iterable[str], pattern: str = DEFAULT_PATTERN, separator: str = " "):
        _check_text(pattern, "pattern")
        _check_text(separator, "separator")
        try:
            self._regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern must be a valid regular expression, got {pattern!r} ({exc})") from None
        self.pattern, self.separator = pattern, separator
        super().__init__(tokens)

    @classmethod
    def train(cls, texts: str | Iterable[str], min_freq: int = 1, pattern: str = DEFAULT_PATTERN,
              separator: str = " ") -> WordTokenizer:
        _check_int("min_freq", min_freq, 1)
        cutter = cls([], pattern, separator)  # only the specials so far: used to cut the corpus into pieces
        counts = Counter(piece for text in _check_corpus(texts) for piece in cutter._pieces(text))
        tokens = sorted(p for p, n in counts.items() if n >= min_freq and p not in SPECIAL_TOKENS)
        if not tokens:
            raise ValueError(f"no piece occurs at least min_freq={min_freq} times with pattern {pattern!r}: "
                             f"the vocabulary would hold only the special tokens")
        return cls(tokens, pattern, separator)

    @classmethod
    def _from_dict(cls, data: dict) -> WordTokenizer:
        return cls(data["vocab"][N_SPECIAL:], data["pattern"], data["separator"])

    def _pieces(self, text: str) -> list[str]:
        return [m.group(0) for m in self._regex.finditer(text) if m.group(0)]

    def tokenize(self, text: str) -> list[str]:
        _check_text(text)
        return self._pieces(text)

    def _join(self, pieces: list[str]) -> str:
        if not self.separator:
            return "".join(pieces)
        glue = [self.separator if i and not re.fullmatch(r"[^\w\s]", p) else "" for i, p in enumerate(pieces)]
        return "".join(g + p for g, p in zip(glue, pieces))

    def to_dict(self) -> dict:
        return {"type": self.kind, "pattern": self.pattern, "separator": self.separator, "vocab": self.vocab}


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
        corpus = _check_corpus(texts)
        _check_int("vocab_size", vocab_size, N_SPECIAL + 256, f" ({N_SPECIAL} special tokens + 256 bytes)")
        _check_int("min_freq", min_freq, 1)
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
        _check_text(text)
        return [self._vocab[i] for i in self._encode_ids(text)]

    def _join(self, pieces: list[str]) -> str:
        return b"".join(text_to_bytes(p) for p in pieces).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"type": self.kind, "merges": [list(pair) for pair in self.merges],
                "merge_counts": self.merge_counts, "vocab": self.vocab}


TOKENIZER_TYPES = {cls.kind: cls for cls in (CharTokenizer, WordTokenizer, BPETokenizer)}
