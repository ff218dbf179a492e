"""Live views: the trained model runs in the reader's page (engine.js), in the static book as in JupyterLab.

A live view stores only its settings: the model asset's name, the starting text and numbers measured in
Python (such as chapter 13's accuracy without each head). The model comes from one shared asset, written by
web_export.py from transformer_edu/checkpoints/<name>.pt:

- in the book's pages: the script _static/live/<name>.js, which the first live view of a page adds (a
  classic <script>, so the page also works opened from file://, and relative to the site root, so it also
  works under a sub-path); other pages never load it;
- in JupyterLab: the kernel sends the same asset when the view asks (a custom widget message, so the 1.3 MB
  of weights are never stored in the notebook).

Typed text is tokenized in the page; text the tokenizer cannot read, an empty box or a source longer than
the model's max_len give a message in the view (as text, never as HTML).
"""
from __future__ import annotations

from pathlib import Path

from ...checkpoint import load_checkpoint
from ...checks import check_text
from ...web_export import browser_asset
from .base import View, front_end

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
MAX_CHARS = 200  # the text box's limit: a date needs about 30 characters


def check_live(asset: str, text: str) -> None:
    """ValueError unless `asset` names a shipped checkpoint and `text` is a str the box can hold."""
    names = sorted(path.stem for path in CHECKPOINTS.glob("*.pt"))
    if asset not in names:
        raise ValueError(f"asset must name a checkpoint in {CHECKPOINTS.name}/, one of {names}, got {asset!r}")
    check_text(text)
    if len(text) > MAX_CHARS:
        raise ValueError(f"text must have at most {MAX_CHARS} characters (the text box's limit), got {len(text)}")


class LiveView(View):
    """Base of the live views: answers the page's request for the model asset (JupyterLab only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_msg(self._send_asset)

    def _send_asset(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("request") != "asset":
            return
        name = self.data["asset"]
        try:
            model, tokenizers, _ = load_checkpoint(CHECKPOINTS / f"{name}.pt")
            self.send({"asset_for": name, "asset": browser_asset(model, tokenizers, name)})
        except ValueError as exc:
            self.send({"asset_for": name, "error": str(exc)})


class LiveTranslator(LiveView):
    """Type a source, see the model's output and the shape of every tensor on the way (chapter 10).

    The model (asset) runs in the page: tokens and ids, then each step of Transformer.encode and .decode with
    its shape, for the output the model decodes greedily (the decoder is shown on that whole output at once,
    which by causality recomputes every step of the greedy loop). asset: a checkpoint name ("dates").
    """

    _esm = front_end("engine.js", "view_live.js", "view_live_translator.js")

    @classmethod
    def data_for(cls, text: str = "Wed 25 Nov 2026", asset: str = "dates", *, title: str | None = None):
        check_live(asset, text)
        return {"asset": asset, "text": text, "title": title, "max_chars": MAX_CHARS, "label": "Source:"}

    def _summary(self) -> str:
        return f"asset={self.data['asset']!r}, text={self.data['text']!r}"
