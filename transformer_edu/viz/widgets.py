"""Live explorers for a running kernel: type a sentence or change a setting and Python recomputes the result.

Needs ipywidgets, so it is imported only on request: `from transformer_edu.viz import widgets`.
In the static book there is no kernel: each explorer shows the state it was saved with, under the visible
note LIVE_NOTE. (Views that must react in the static book compute in the browser: see views.py.)

    live_tokenizer({name: tokenizer}, text)        type text -> pieces and ids (a TokenExplorer)
    live_attention(model, tokenizer, text)         type a sentence -> encoder self-attention heatmap (plots.py)
    live_temperature(next_logits, vocab, text)     type a prefix -> next-token distribution (a DistributionExplorer)

A "tokenizer" is a function text -> [(piece, id), ...], or an object whose `encode(text)` returns something
with `.tokens` and `.ids` (a Hugging Face `tokenizers.Tokenizer`).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import ipywidgets as W
import torch

from . import plots
from .views import DistributionExplorer, TokenExplorer, token_pairs

LIVE_NOTE = "Live in Jupyter: run the notebook to type your own text."


def _note() -> W.HTML:
    # its own colours (dark text on light amber, contrast > 10:1), so it reads the same in light and dark themes
    style = "background:#fdf0cf;color:#2e2300;padding:4px 8px;border-radius:4px;margin:2px 0"
    return W.HTML(f'<p style="{style}"><strong>{LIVE_NOTE}</strong> In this page you see the saved result.</p>')


def tokenize_with(tokenizer, text: str) -> list[list]:
    """[(piece, id), ...] for `text` from a function or an object with `encode(text).tokens/.ids`."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if hasattr(tokenizer, "encode"):
        encoding = tokenizer.encode(text)
        if not (hasattr(encoding, "tokens") and hasattr(encoding, "ids")):
            raise ValueError(f"{type(tokenizer).__name__}.encode(text) must return an object with .tokens and .ids; "
                             f"otherwise pass a function text -> [(piece, id), ...]")
        pairs = list(zip(encoding.tokens, encoding.ids))
    elif callable(tokenizer):
        pairs = tokenizer(text)
    else:
        raise ValueError(f"a tokenizer must be a function text -> [(piece, id), ...] or have .encode, "
                         f"got {type(tokenizer).__name__}")
    return token_pairs(pairs, "tokenizer output")


def live_tokenizer(tokenizers: Mapping, text: str = "The cat sat on the mat.") -> W.VBox:
    """A text box; every tokenizer's pieces and ids for the typed text, one row each."""
    if not isinstance(tokenizers, Mapping) or not tokenizers:
        raise ValueError(f"tokenizers must be a non-empty dict name -> tokenizer, got {type(tokenizers).__name__}")

    def table(value: str) -> dict:
        return {value or " ": {str(name): tokenize_with(tok, value) for name, tok in tokenizers.items()}}

    box = W.Text(value=text, description="Text:", continuous_update=True, layout=W.Layout(width="90%"))
    view = TokenExplorer(table(text), title="Your text, tokenized",
                         note="Type in the box above: the pieces are recomputed in Python (needs a running kernel).")
    box.observe(lambda change: view.update(table(change["new"]), title=view.data["title"], note=view.data["note"]),
                names="value")
    return W.VBox([_note(), box, view])


def _show(image: W.Image, fig, dpi: int = 96) -> None:
    """Put a Figure into an Image widget as PNG, at its natural size (not stretched to the page width)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image.value = buffer.getvalue()
    image.width = str(round(fig.get_figwidth() * dpi))


def live_attention(model, tokenizer, text: str = "The cat sat on the mat.", layer: int = 0,
                   head: int | str = "mean") -> W.VBox:
    """Type a sentence: the model's encoder self-attention for it, as a heatmap (plots.attention_heatmap).

    `model` needs `encode(src_ids, return_attention=True) -> (memory, [weights (1, H, S, S) per layer])`
    (a transformer_edu Transformer); `tokenizer` maps text to (piece, id) pairs in the model's vocabulary.
    """
    if not callable(getattr(model, "encode", None)):
        raise ValueError(f"model must have encode(src_ids, return_attention=True), got {type(model).__name__}")
    n_layers = len(model.encoder.layers)
    n_heads = model.encoder.layers[0].self_attn.n_heads
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    if head != "mean" and not (isinstance(head, int) and 0 <= head < n_heads):
        raise ValueError(f"head must be in [0, {n_heads - 1}] or 'mean', got {head!r}")
    box = W.Text(value=text, description="Sentence:", continuous_update=False, layout=W.Layout(width="90%"))
    layer_pick = W.Dropdown(options=[(f"layer {i}", i) for i in range(n_layers)], value=layer, description="Layer:")
    head_pick = W.Dropdown(options=[(f"head {h}", h) for h in range(n_heads)] + [("all heads averaged", "mean")],
                           value=head, description="Head:")
    image = W.Image(format="png")
    message = W.HTML()

    def redraw(_=None) -> None:
        try:
            pairs = tokenize_with(tokenizer, box.value)
            if not pairs:
                raise ValueError("the text gave no tokens")
            ids = torch.tensor([[i for _, i in pairs]])  # (1, S)
            was_training = model.training
            model.eval()
            with torch.no_grad():
                _, weights = model.encode(ids, return_attention=True)
            model.train(was_training)
            w = weights[layer_pick.value][0]  # (H, S, S)
            w = w.mean(0) if head_pick.value == "mean" else w[head_pick.value]  # (S, S)
            pieces = [p for p, _ in pairs]
            name = "mean of heads" if head_pick.value == "mean" else f"head {head_pick.value}"
            _show(image, plots.attention_heatmap(w, pieces, pieces,
                                                 title=f"Encoder self-attention, layer {layer_pick.value}, {name}"))
            message.value = ""
        except ValueError as err:  # shown under the controls instead of lost in the kernel log
            message.value = "<p>Could not compute: " + _escape(str(err)) + "</p>"

    for control in (box, layer_pick, head_pick):
        control.observe(redraw, names="value")
    redraw()
    return W.VBox([_note(), box, W.HBox([layer_pick, head_pick]), message, image])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def live_temperature(next_logits: Callable, vocab, text: str = "", **view_options) -> W.VBox:
    """Type a prefix: `next_logits(text)` gives logits (V,) or (T, V); the temperature slider (in the browser)
    rescales them. `view_options` go to DistributionExplorer (temperatures, top_k, position_labels ...)."""
    if not callable(next_logits):
        raise ValueError(f"next_logits must be a function text -> logits, got {type(next_logits).__name__}")
    vocab = list(vocab)
    box = W.Text(value=text, description="Prefix:", continuous_update=False, layout=W.Layout(width="90%"))
    view = DistributionExplorer(next_logits(text), vocab, **view_options)
    message = W.HTML()

    def redraw(change) -> None:
        try:
            view.update(next_logits(change["new"]), vocab, **view_options)
            message.value = ""
        except ValueError as err:
            message.value = "<p>Could not compute: " + _escape(str(err)) + "</p>"

    box.observe(redraw, names="value")
    return W.VBox([_note(), box, message, view])
