"""Tokenizers: text -> pieces -> integer ids and back (paper section 5.1).

Section 5.1, English-German: "Sentences were encoded using byte-pair encoding [3], which has a shared
source-target vocabulary of about 37000 tokens", where [3] is Britz et al. (2017); English-French used a
32,000 word-piece vocabulary. Byte-pair encoding (BPE) is Sennrich, Haddow and Birch (2016): start from
single symbols and repeatedly merge the most frequent adjacent pair into a new symbol. Three tokenizers:

- CharTokenizer: one token per character seen in training; unseen characters become <unk>.
- WordTokenizer: pieces cut by a regular expression (words, punctuation marks, or whatever the pattern says).
- BPETokenizer (in bpe.py): BPE learned from scratch, on UTF-8 bytes (a later change).

Every vocabulary starts with the same special tokens: <pad>=0, <bos>=1 (begin), <eos>=2 (end), <unk>=3.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from .checks import check_corpus, check_int, check_text
from .config import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID  # noqa: F401 (re-exported for the chapters)

N_SPECIAL = len(SPECIAL_TOKENS)
DEFAULT_PATTERN = r"\w+|[^\w\s]"  # WordTokenizer: a run of letters/digits/_ or one punctuation mark


class Tokenizer:
    """The shared part: a vocabulary (list of token strings, index = id) that starts with SPECIAL_TOKENS.

    Subclasses say how text becomes pieces (`tokenize`) and pieces become text (`_join`).
    """

    kind = "base"  # the "type" field of a saved file
    types: dict[str, type] = {}  # kind -> subclass, filled as each subclass is defined (bpe.py adds "bpe")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Tokenizer.types[cls.kind] = cls

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
        check_text(text)
        return [BOS_ID] * bool(add_bos) + self._encode_ids(text) + [EOS_ID] * bool(add_eos)

    def decode(self, ids, skip_special: bool = True) -> str:
        """Ids (a list of ints or a 1-D tensor) -> text. skip_special drops <pad>, <bos> and <eos>;
        <unk> stays visible, since it stands for input that was lost."""
        if getattr(ids, "ndim", 1) != 1:
            raise ValueError(f"ids must be one sequence (a list of ints or a 1-D tensor), got shape {tuple(ids.shape)}; "
                             f"decode each row of a batch on its own")
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        if not isinstance(ids, (list, tuple)):
            raise ValueError(f"ids must be a list of ints or a 1-D tensor, got {type(ids).__name__}")
        for i in ids:
            self._check_id(i)
        return self._join([self._vocab[i] for i in ids if not (skip_special and i in (PAD_ID, BOS_ID, EOS_ID))])

    def _check_id(self, i) -> None:
        check_int("token id", i, 0, len(self._vocab) - 1, f" for this vocabulary of {len(self._vocab)}")

    def token_to_id(self, token: str) -> int:
        """The id of a token string; <unk>'s id for a string not in the vocabulary."""
        check_text(token, "token")
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
        if not isinstance(data, dict) or data.get("type") not in Tokenizer.types:
            got = data.get("type") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"expected a dict whose 'type' is one of {sorted(Tokenizer.types)}, got {got!r}")
        try:
            tokenizer = Tokenizer.types[data["type"]]._from_dict(data)
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
        return cls(sorted(set("".join(check_corpus(texts)))))

    @classmethod
    def _from_dict(cls, data: dict) -> CharTokenizer:
        return cls(data["vocab"][N_SPECIAL:])

    def tokenize(self, text: str) -> list[str]:
        check_text(text)
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
        check_text(pattern, "pattern")
        check_text(separator, "separator")
        try:
            self._regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern must be a valid regular expression, got {pattern!r} ({exc})") from None
        self.pattern, self.separator = pattern, separator
        super().__init__(tokens)

    @classmethod
    def train(cls, texts: str | Iterable[str], min_freq: int = 1, pattern: str = DEFAULT_PATTERN,
              separator: str = " ") -> WordTokenizer:
        check_int("min_freq", min_freq, 1)
        cutter = cls([], pattern, separator)  # only the specials so far: used to cut the corpus into pieces
        counts = Counter(piece for text in check_corpus(texts) for piece in cutter._pieces(text))
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
        check_text(text)
        return self._pieces(text)

    def _join(self, pieces: list[str]) -> str:
        if not self.separator:
            return "".join(pieces)
        glue = [self.separator if i and not re.fullmatch(r"[^\w\s]", p) else "" for i, p in enumerate(pieces)]
        return "".join(g + p for g, p in zip(glue, pieces))

    def to_dict(self) -> dict:
        return {"type": self.kind, "pattern": self.pattern, "separator": self.separator, "vocab": self.vocab}
