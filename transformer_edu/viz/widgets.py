"""Live explorers for a running kernel: type a sentence or change a setting and Python recomputes the result.

Needs ipywidgets, so it is imported only on request: `from transformer_edu.viz import widgets`.
In the static book there is no kernel: each explorer shows the state it was saved with, under the visible
note LIVE_NOTE. (Views that must react in the static book compute in the browser: see the views package.)

    live_tokenizer({name: tokenizer}, text)        type text -> pieces and ids (a TokenExplorer)
    live_attention(model, tokenizer, text)         type a sentence -> encoder self-attention heatmap (plots.py)
    live_translation(model, src_tok, tgt_tok, text)  type a source -> greedy output and the encoder-decoder
                                                     attention behind each token it wrote (plots.py)
    live_temperature(next_logits, vocab, text)     type a prefix -> next-token distribution (a DistributionExplorer)

A "tokenizer" is a function text -> [(piece, id), ...], one of this package's tokenizers (`tokenize(text)` and
`encode(text)` give the pieces and their ids), or an object whose `encode(text)` returns something with
`.tokens` and `.ids` (a Hugging Face `tokenizers.Tokenizer`).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import ipywidgets as W
import torch

from ..checks import check_model
from ..decoding import greedy_decode, inference
from . import plots
from .views import DistributionExplorer, TokenExplorer, token_pairs

LIVE_NOTE = "Live in Jupyter: run the notebook to type your own text."
LIVE_CLASS = "te-live"  # on every explorer's outer box; the book's browser tests find them by it


def _note() -> W.HTML:
    # its own colours (dark text on light amber, contrast > 10:1), so it reads the same in light and dark themes
    style = "background:#fdf0cf;color:#2e2300;padding:4px 8px;border-radius:4px;margin:2px 0"
    return W.HTML(f'<p style="{style}"><strong>{LIVE_NOTE}</strong> In this page you see the saved result.</p>')


class LiveExplorer(W.VBox):
    """The outer box of every explorer here: the CSS class LIVE_CLASS marks it in the page (in the static book its
    controls cannot recompute), and its text form is one readable line about what it shows, not the internals of
    its child widgets, so the notebook's stored text output is stable."""

    def __init__(self, children: list, describe: Callable[[], str]):
        super().__init__(children, _dom_classes=(LIVE_CLASS,))
        self._describe = describe

    def __repr__(self) -> str:
        return f"{self._describe()}. {LIVE_NOTE}"


def tokenize_with(tokenizer, text: str) -> list[list]:
    """[(piece, id), ...] for `text`. With this package's tokenizers the piece is what the model sees: a piece
    outside the vocabulary is shown as <unk>."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if hasattr(tokenizer, "tokenize") and hasattr(tokenizer, "encode"):  # transformer_edu.tokenizer
        ids = tokenizer.encode(text)
        pairs = [(tokenizer.id_to_token(i), i) for i in ids]
    elif hasattr(tokenizer, "encode"):
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
    names = [str(name) for name in tokenizers]
    return LiveExplorer([_note(), box, view], lambda: f"live_tokenizer: {box.value!r} in {names}")


def _show(image: W.Image, fig, dpi: int = 96) -> None:
    """Put a Figure into an Image widget as PNG, at its natural size (not stretched to the page width)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")  # a title wider than the axes is kept whole
    png = buffer.getvalue()
    image.value = png
    image.width = str(int.from_bytes(png[16:20], "big"))  # the width field of the PNG header (IHDR)


def _head_picker(n_heads: int, head: int | str) -> W.Dropdown:
    """A head selector (each head, or the mean over heads) starting at `head`, which is checked."""
    if head != "mean" and not (isinstance(head, int) and 0 <= head < n_heads):
        raise ValueError(f"head must be in [0, {n_heads - 1}] or 'mean', got {head!r}")
    return W.Dropdown(options=[(f"head {h}", h) for h in range(n_heads)] + [("all heads averaged", "mean")],
                      value=head, description="Head:")


def _one_head(weights: torch.Tensor, head: int | str) -> tuple[torch.Tensor, str]:
    """(H, T, S) weights -> the chosen head's (T, S) matrix (or the mean over heads) and its name."""
    return (weights.mean(0), "mean of heads") if head == "mean" else (weights[head], f"head {head}")


def _source_ids(tokenizer, text: str) -> tuple[list[list], torch.Tensor]:
    """The (piece, id) pairs of `text` and its ids as a batch of one, (1, S); ValueError if there are none."""
    pairs = tokenize_with(tokenizer, text)
    if not pairs:
        raise ValueError("the text gave no tokens")
    return pairs, torch.tensor([[i for _, i in pairs]])


def live_attention(model, tokenizer, text: str = "The cat sat on the mat.", layer: int = 0,
                   head: int | str = "mean") -> W.VBox:
    """Type a sentence: the model's encoder self-attention for it, as a heatmap (plots.attention_heatmap).

    `model` has the Seq2SeqModel protocol (a transformer_edu Transformer, protocol.py); `tokenizer` maps text
    to (piece, id) pairs in the model's vocabulary.
    """
    check_model(model)
    attentions = model.attention_layers()["encoder_self"]
    n_layers, n_heads = len(attentions), attentions[0].n_heads
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    head_pick = _head_picker(n_heads, head)
    box = W.Text(value=text, description="Sentence:", continuous_update=False, layout=W.Layout(width="90%"))
    layer_pick = W.Dropdown(options=[(f"layer {i}", i) for i in range(n_layers)], value=layer, description="Layer:")
    image = W.Image(format="png")
    message = W.HTML()

    def redraw(_=None) -> None:
        try:
            pairs, ids = _source_ids(tokenizer, box.value)  # ids (1, S)
            with inference(model):
                _, weights = model.encode(ids, return_attention=True)
            w, name = _one_head(weights.encoder_self[layer_pick.value][0], head_pick.value)  # (H, S, S) -> (S, S)
            pieces = [p for p, _ in pairs]
            _show(image, plots.attention_heatmap(w, pieces, pieces,
                                                 title=f"Encoder self-attention, layer {layer_pick.value}, {name}"))
            message.value = ""
        except ValueError as err:  # shown under the controls instead of lost in the kernel log
            message.value = "<p>Could not compute: " + _escape(str(err)) + "</p>"

    for control in (box, layer_pick, head_pick):
        control.observe(redraw, names="value")
    redraw()
    return LiveExplorer([_note(), box, W.HBox([layer_pick, head_pick]), message, image],
                        lambda: f"live_attention: layer {layer_pick.value}, head {head_pick.value!r} on {box.value!r}")


def live_translation(model, src_tokenizer, tgt_tokenizer, text: str = "14 Mar 1986", layer: int | None = None,
                     head: int | str = "mean", max_len: int = 30) -> W.VBox:
    """Type a source: the model's greedy output, and the encoder-decoder attention behind it as a heatmap, one
    row per token the model wrote (labelled "-> token"), one column per source token.

    `model` has the Seq2SeqModel protocol (a transformer_edu Transformer); `src_tokenizer` gives (piece, id) pairs (see tokenize_with);
    `tgt_tokenizer` is one of this package's tokenizers (bos_id, eos_id, id_to_token, decode). `layer` is a
    decoder layer (default: the last), `head` a head index or "mean" (all heads averaged).
    """
    check_model(model)
    missing = [name for name in ("bos_id", "eos_id", "id_to_token", "decode") if not hasattr(tgt_tokenizer, name)]
    if missing:
        raise ValueError(f"tgt_tokenizer must be a transformer_edu tokenizer; {type(tgt_tokenizer).__name__} has no "
                         f"{', '.join(missing)}")
    attentions = model.attention_layers()["cross"]
    n_layers, n_heads = len(attentions), attentions[0].n_heads
    layer = n_layers - 1 if layer is None else layer
    if not (isinstance(layer, int) and 0 <= layer < n_layers):
        raise ValueError(f"layer must be a decoder layer in [0, {n_layers - 1}], got {layer!r}")
    head_pick = _head_picker(n_heads, head)
    box = W.Text(value=text, description="Source:", continuous_update=False, layout=W.Layout(width="90%"))
    layer_pick = W.Dropdown(options=[(f"decoder layer {i}", i) for i in range(n_layers)], value=layer,
                            description="Layer:")
    answer = W.HTML()
    image = W.Image(format="png")
    result = {"output": None}  # the last output, for the text form

    def redraw(_=None) -> None:
        try:
            pairs, src = _source_ids(src_tokenizer, box.value)  # src (1, S)
            out = greedy_decode(model, src, max_len=max_len, bos_id=tgt_tokenizer.bos_id,
                                eos_id=tgt_tokenizer.eos_id)  # (1, 1 + n): BOS, then what the model wrote
            with inference(model):
                _, weights = model(src, out[:, :-1], return_attention=True)  # position t chose out[0, t + 1]
        except ValueError as err:  # shown under the controls instead of lost in the kernel log
            answer.value = "<p>Could not compute: " + _escape(str(err)) + "</p>"
            result["output"] = None
            return
        w, name = _one_head(weights.cross[layer_pick.value][0], head_pick.value)  # (H, T, S) -> (T, S)
        written = ["\u2192 " + tgt_tokenizer.id_to_token(i) for i in out[0, 1:].tolist()]
        result["output"] = tgt_tokenizer.decode(out[0])
        answer.value = "<p>Model output: <code>" + _escape(result["output"]) + "</code></p>"
        _show(image, plots.attention_heatmap(w, written, [p for p, _ in pairs],
                                             title=f"Cross-attention, layer {layer_pick.value}, {name}"))

    for control in (box, layer_pick, head_pick):
        control.observe(redraw, names="value")
    redraw()
    return LiveExplorer([_note(), box, W.HBox([layer_pick, head_pick]), answer, image],
                        lambda: f"live_translation: {box.value!r} -> {result['output']!r}, cross-attention of decoder "
                                f"layer {layer_pick.value}, head {head_pick.value!r}")


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
    return LiveExplorer([_note(), box, message, view], lambda: f"live_temperature: prefix {box.value!r}")
