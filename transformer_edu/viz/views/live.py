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
the model's max_len give a message in the view (as text, never as HTML). LiveGeneration runs a decoder-only
model (a GPT checkpoint); the other views run the encoder-decoder Transformer.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch

from ...block import KINDS
from ...checkpoint import load_checkpoint
from ...checks import check_int, check_number, check_text
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

    _css = View._css + (Path(__file__).parent / "views_live.css").read_text(encoding="utf-8")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_msg(self._send_asset)

    @staticmethod
    def settings(asset: str, text: str, title: str | None) -> dict:
        """The data every live view holds, checked: the model asset's name, the starting text, the title."""
        check_live(asset, text)
        if title is not None:
            check_text(title, "title")
        return {"asset": asset, "text": text, "title": title, "max_chars": MAX_CHARS, "label": "Source:"}

    def _summary(self) -> str:
        return f"asset={self.data['asset']!r}, text={self.data['text']!r}"

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
        return cls.settings(asset, text, title)


def ablation_measurements(scores: dict, baseline: float, more=()) -> list[dict]:
    """Exact-match figures for LiveAttention: `baseline` with every head on, then each single head's from
    ablation.head_ablation_scores ({kind: (N, h) tensor}), then `more`: (heads, exact match) pairs for other
    sets the chapter measured."""
    found = [{"heads": [], "exact_match": float(baseline)}]
    for kind, grid in scores.items():
        for (layer, head), value in np.ndenumerate(np.asarray(grid, dtype=np.float64)):
            found.append({"heads": [[kind, layer, head]], "exact_match": float(value)})
    for heads, value in more:  # (sorted: a set of heads gives the same list, so the same stored notebook, every run)
        found.append({"heads": sorted([k, int(l), int(h)] for k, l, h in heads), "exact_match": float(value)})
    for item in found:
        if not 0 <= item["exact_match"] <= 1 or any(k not in KINDS for k, _, _ in item["heads"]):
            raise ValueError(f"each measurement needs kinds from {KINDS} and an exact match in [0, 1], got {item}")
    return found


class LiveAttention(LiveView):
    """Attention on typed text, from the model running in the page, and head ablation (chapter 13).

    Controls choose the kind, layer and head (or the mean of the heads) of the heatmap; a checkbox per head
    switches it off as ablation.ablate_heads does. The view shows the output with all heads on and with the
    ticked heads off, and, step by step, the probability of each output token in both. `measured`
    (ablation_measurements) gives the held-out exact match the chapter measured for single heads and other
    sets, shown when the ticked set is one of them; `measured_on` says on what.
    """

    _esm = front_end("engine.js", "view_live.js", "view_live_attention.js")

    @classmethod
    def data_for(cls, text: str = "Wed 25 Nov 2026", asset: str = "dates", *, kind: str = "cross", layer: int = 0,
                 head: int | str = "mean", measured: list | None = None, measured_on: str = "the held-out dates",
                 title: str | None = None):
        settings = cls.settings(asset, text, title)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        check_int("layer", layer, 0)
        if head != "mean":
            check_int("head", head, 0, why=' (or "mean")')
        check_text(measured_on, "measured_on")
        measured = [] if measured is None else ablation_measurements({}, 1.0, [(m["heads"], m["exact_match"])
                                                                             for m in measured])[1:]
        return {**settings, "kind": kind, "layer": layer, "head": head, "measured": measured,
                "measured_on": measured_on}

    def _summary(self) -> str:
        return f"{super()._summary()}, measured={len(self.data['measured'])}"


class LiveDecoding(LiveView):
    """Type a date, see it decoded three ways side by side, then step by step (chapter 12).

    The model (asset) runs in the page: greedy decoding, sampling and beam search with their outputs (each
    with log P and log P / lp, the GNMT length penalty lp = ((5 + |Y|) / 6) ** length_penalty); a slider walks
    through greedy decoding's steps (the prefix so far and the model's own five most probable next tokens,
    as decode_step_by_step gives them) and another through beam search's (the live hypotheses with log P,
    those finished at that step with log P / lp). Greedy decoding and beam search give the outputs of
    decoding.greedy_decode and beam.beam_search; sampling draws with JavaScript's own seeded generator, so a
    seed gives other samples than a torch.Generator would. temperature (> 0), top_k (None = the whole
    vocabulary), seed (a 32-bit int) and beam_size (1 to 8) are the controls' starting values; length_penalty
    is alpha (the paper's 0.6).
    """

    _esm = front_end("engine.js", "view_live.js", "view_live_decoding.js")

    @classmethod
    def data_for(cls, text: str = "Wed 25 Nov 2026", asset: str = "dates", *, temperature: float = 1.0,
                 top_k: int | None = None, seed: int = 0, beam_size: int = 4, length_penalty: float = 0.6,
                 title: str | None = None):
        settings = cls.settings(asset, text, title)
        check_number("temperature", temperature, 0, low_open=True)
        if top_k is not None:
            check_int("top_k", top_k, 1, _target_vocab_size(asset), " (None keeps the whole vocabulary)")
        check_int("seed", seed, 0, SEED_MAX, " (the page's generator takes 32-bit seeds)")
        check_int("beam_size", beam_size, 1, BEAM_SIZE_MAX, f" (the view's menu offers 1 to {BEAM_SIZE_MAX})")
        check_number("length_penalty (alpha; the paper uses 0.6)", length_penalty, 0)
        return {**settings, "temperature": float(temperature), "top_k": top_k, "seed": seed, "beam_size": beam_size,
                "length_penalty": float(length_penalty)}

    def _summary(self) -> str:
        d = self.data
        return (f"{super()._summary()}, temperature={d['temperature']}, top_k={d['top_k']}, seed={d['seed']}, "
                f"beam_size={d['beam_size']}, length_penalty={d['length_penalty']}")


SEED_MAX = 2 ** 32 - 1  # view_live_decoding.js: mulberry32 takes a 32-bit seed
BEAM_SIZE_MAX = 8  # the beam-size menu's largest width


def _target_vocab_size(asset: str) -> int | None:
    """The checkpoint's target vocabulary size, from the record written beside it (None when it has none)."""
    record = CHECKPOINTS / f"{asset}.json"
    if not record.exists():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("config", {}).get("tgt_vocab_size")


class TokenJourney(LiveView):
    """Follow one token through the model: its vector after every sub-layer, with the real numbers.

    Choose a side (a source token through the encoder, or a target position through the decoder, on <bos> +
    the greedy output) and a position, then step with Prev/Next, the slider or the arrow keys: the token id
    and its embedding row, x sqrt(d_model), + the positional encoding, then per layer each sub-layer's output
    and Add & Norm (with the mean, std and norm at each stage), the attention weights of this position per
    head, and for the target side the output layer's logits and top-5 next tokens. asset: a checkpoint name.
    """

    _esm = front_end("engine.js", "view_live.js", "view_live_journey.js")

    @classmethod
    def data_for(cls, text: str = "Wed 25 Nov 2026", asset: str = "dates", *, title: str | None = None):
        return cls.settings(asset, text, title)


GENERATION_MAX = 300  # view_live_generation.js: the most new tokens one run may ask for


@functools.lru_cache(maxsize=8)
def _saved_model(path: Path, _mtime_ns: int) -> tuple[str, dict]:
    """(model class name, config dict) of a checkpoint file, read once per version of the file."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return payload.get("model", "Transformer"), payload.get("config", {})


class LiveGeneration(LiveView):
    """A decoder-only model (a GPT checkpoint) continues a prompt in the page, with each step's probabilities
    (chapter 15).

    The model (asset) runs in the page as gpt.generate does: the key/value cache while the text fits the
    context (config.max_len tokens), then the last max_len tokens recomputed at every step (nanoGPT's crop;
    about 0.1 s a token in the page, against about 2 ms with the cache: benchmarks/engine_browser.py).
    Generate (or Ctrl+Enter in the prompt) runs it; the text appears as it is written. A slider walks through
    the steps: the context the model saw, its five most probable next tokens with their probabilities (the
    model's own, and those of the distribution drawn from: decoding.next_token_probabilities with the
    temperature, top-k and top-p), and the token chosen. temperature None decodes greedily (top_k and top_p
    then do nothing); top_k and top_p None keep the whole vocabulary; max_new_tokens is the number of tokens
    written. Greedy generation gives gpt.generate's tokens; sampling draws with the page's own seeded
    generator (mulberry32), so a seed (a 32-bit int) gives other text than a torch.Generator would.
    """

    _esm = front_end("engine.js", "view_live.js", "view_live_generation.js")

    @classmethod
    def data_for(cls, text: str = "**ROMEO**  \n", asset: str = "shakespeare", *, temperature: float | None = 0.8,
                 top_k: int | None = None, top_p: float | None = None, seed: int = 0, max_new_tokens: int = 120,
                 title: str | None = None):
        settings = cls.settings(asset, text, title)
        kind, config = _saved_model(CHECKPOINTS / f"{asset}.pt", (CHECKPOINTS / f"{asset}.pt").stat().st_mtime_ns)
        if kind != "GPT":
            raise ValueError(f"LiveGeneration runs a decoder-only language model (a GPT checkpoint); {asset!r} "
                             f"holds a {kind}")
        if temperature is not None:
            check_number("temperature (None decodes greedily)", temperature, 0, low_open=True)
        if top_k is not None:
            check_int("top_k", top_k, 1, config["vocab_size"], " (None keeps the whole vocabulary)")
        if top_p is not None:
            check_number("top_p (None keeps the whole vocabulary)", top_p, 0, 1, low_open=True)
        check_int("seed", seed, 0, SEED_MAX, " (the page's generator takes 32-bit seeds)")
        check_int("max_new_tokens", max_new_tokens, 1, GENERATION_MAX, " (the view's limit)")
        return {**settings, "label": "Prompt:", "temperature": None if temperature is None else float(temperature),
                "top_k": top_k, "top_p": None if top_p is None else float(top_p), "seed": seed,
                "max_new_tokens": max_new_tokens, "generation_max": GENERATION_MAX}

    def _summary(self) -> str:
        d = self.data
        return (f"{super()._summary()}, temperature={d['temperature']}, top_k={d['top_k']}, top_p={d['top_p']}, "
                f"seed={d['seed']}, max_new_tokens={d['max_new_tokens']}")
