"""TokenExplorer: tokenizations computed in advance, as chips of pieces and ids.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .base import View, front_end

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


class TokenExplorer(View):
    """Pre-computed tokenizations as chips: each piece and its id. It cannot tokenize new text (it says so).

    tokenizations: {name: [(piece, id), ...]} (one selector, "Example"), or {text: {tokenizer: [(piece, id),
    ...]}} (an example selector and a tokenizer selector, with "all, one row each" to compare).
    Size: about 15 bytes per token.
    """

    _esm = front_end("view_tokens.js")

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
