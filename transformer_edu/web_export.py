"""A trained model as one static file for the browser: config, tokenizers and weights (the book's live views).

The in-page engine (viz/views/engine.js) runs a checkpoint of this package in JavaScript: the encoder-decoder
Transformer or the decoder-only GPT ("model" in the asset says which). It reads what `browser_asset` returns:
plain JSON with every weight tensor as float32 bytes, little-endian, concatenated in the order of "tensors"
and written once as base64. A matrix shared by several names (the tied embedding and output matrix, section
3.4) is written once, its other names listed in "aliases".

The engine implements the 2017 paper's block and the later options listed in ENGINE_OPTIONS (pre-LN, a final
norm, GELU, learned positions, untied embeddings; and chapter 17's RMSNorm, SwiGLU, grouped-query and multi-query
attention, rotary positions, torch's fused kernel). A config with any other value, or with a field added after
this module was written that is not at its default (the paper's choice), is refused with a ValueError naming
the option, rather than run wrongly in the page.

The book ships one such file per model under book/_static/live/, as a script that registers the asset:

    python -m transformer_edu.web_export transformer_edu/checkpoints/dates.pt book/_static/live/dates.js

A classic <script> (not fetch, not an ES module import) is what a page opened from file:// may load.
`make book` regenerates the file; tests/test_web_export.py fails when the shipped file is stale.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import re
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .checks import check_model, check_text, check_tokenizer_pair

FORMAT, VERSION = "transformer_edu.web", 1
ENGINE_MODELS = ("Transformer", "GPT")  # the model classes engine.js runs
# The config fields engine.js reads, with the values it implements where a field has a choice (None: any valid
# value). A field not listed here (a later option) must keep its default, which is the paper's choice.
ENGINE_OPTIONS = {
    "d_model": None, "n_heads": None, "d_ff": None, "layer_norm_eps": None, "norm_first": None, "max_len": None,
    "dropout": None, "attention_dropout": None, "ffn_dropout": None,  # no dropout at inference
    "activation": ("relu", "gelu", "swiglu"), "positional": ("sinusoidal", "learned", "rope"),
    "norm": ("layer", "rms"), "n_kv_heads": None,
    "attention_kernel": ("ours", "sdpa"),  # the same function of the inputs: sdpa is only another kernel
    "share_embeddings": None, "final_norm": None, "pad_id": None, "bos_id": None, "eos_id": None,
    "src_vocab_size": None, "tgt_vocab_size": None, "n_encoder_layers": None, "n_decoder_layers": None,  # Transformer
    "vocab_size": None, "n_layers": None,  # GPT
}
_WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.isspace()
_CLASSES = {"d": r"\p{Nd}", "s": _WHITESPACE, "w": r"\p{L}\p{N}_"}  # Python's Unicode \d, \s, \w for str
_SYNTAX = set("^$\\.*+?()[]{}|/")  # the characters JavaScript's flag u lets a backslash escape


def js_pattern(pattern: str) -> str:
    r"""A Python regular expression as a JavaScript one (flag "u") that cuts text into the same pieces.

    Where the two languages read the same text differently, the translation writes out what Python means:
    - \d, \s and \w are Unicode classes in Python (any decimal digit, str.isspace(), letters digits and _);
      JavaScript's \d and \w are ASCII only and its \s differs (it has U+FEFF, lacks U+001C-U+001F, U+0085);
    - "." stops only at "
" in Python, also at "
", U+2028 and U+2029 in JavaScript: it becomes [^
];
    - "$" also matches before a final "
" in Python: it becomes (?=
?$);
    - an escaped punctuation mark, a "]" first in a class, a "{" that is no quantifier are literals in
      Python, errors under JavaScript's flag u: each is written as a literal JavaScript accepts.
    Other letter escapes and (?...) groups are refused with a ValueError.
    """
    check_text(pattern, "pattern")
    out, in_class, class_start, i = [], False, -1, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escape = pattern[i + 1]
            if escape in _CLASSES:
                out.append(_CLASSES[escape] if in_class else f"[{_CLASSES[escape]}]")
            elif escape.isalnum():
                raise ValueError(f"js_pattern translates the escapes \\d, \\s and \\w, got \\{escape} in {pattern!r}")
            elif escape in _SYNTAX or (in_class and escape == "-"):
                out.append("\\" + escape)
            else:
                out.append(escape)  # JavaScript's flag u refuses an escaped "," and the like: the mark itself
            i += 2
            continue
        if in_class:
            first = i == class_start  # "]" first in a class (after "[" or "[^") is a literal in Python
            out.append("\\]" if char == "]" and first else "\\[" if char == "[" else char)
            in_class = char != "]" or first
        elif char == "(" and pattern[i + 1:i + 2] == "?":
            raise ValueError(f"js_pattern does not translate groups with (? ... ), got {pattern!r}")
        elif char in "{}":
            quantifier = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:]) if char == "{" else None
            if quantifier and (quantifier[1] or quantifier[3]):  # {m}, {m,}, {,n}, {m,n}; JavaScript lacks {,n}
                out.append("{" + (quantifier[1] or "0") + quantifier[2] + quantifier[3] + "}")
                i += len(quantifier[0])
                continue
            out.append("\\" + char)  # a literal brace in Python
        else:
            in_class, class_start = char == "[", i + 1 + (pattern[i + 1:i + 2] == "^")
            out.append({".": r"[^\n]", "$": r"(?=\n?$)"}.get(char, char))
        i += 1
    return "".join(out)


def tokenizer_data(tokenizer) -> dict:
    """What the engine needs of a tokenizer: to_dict(), and for a word tokenizer its pattern in JavaScript and
    the test WordTokenizer._join applies before gluing a piece with the separator (a single punctuation mark)."""
    data = tokenizer.to_dict()
    if data["type"] not in ("char", "word"):
        raise ValueError(f"the browser engine reads char and word tokenizers, got a {data['type']!r} tokenizer")
    if data["type"] == "word":
        data["js_pattern"] = js_pattern(data["pattern"])
        data["js_punctuation"] = js_pattern(r"[^\w\s]")
    return data


def check_engine_config(config) -> None:
    """ValueError naming the first config option whose value engine.js does not implement (see ENGINE_OPTIONS)."""
    kind = type(config).__name__
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name not in ENGINE_OPTIONS:
            default = field.default_factory() if field.default is dataclasses.MISSING else field.default
            if value != default:
                raise ValueError(f"the browser engine does not implement the option {kind}.{field.name}="
                                 f"{value!r}: it runs {field.name}={default!r} (the paper's) only")
        elif ENGINE_OPTIONS[field.name] is not None and value not in ENGINE_OPTIONS[field.name]:
            raise ValueError(f"the browser engine does not implement {kind}.{field.name}={value!r}: it runs "
                             f"{field.name} in {ENGINE_OPTIONS[field.name]}")


def browser_asset(model, tokenizers, name: str) -> dict:
    """The JSON the engine loads: name, model class ("Transformer" or "GPT"), config, tokenizers (with
    "js_pattern" for a word tokenizer), tensor names and shapes, aliases, and the weights as base64 float32.
    A GPT reads and writes one vocabulary: its pair of tokenizers must be one tokenizer twice."""
    check_model(model, seq2seq=False)
    if type(model).__name__ not in ENGINE_MODELS:
        raise ValueError(f"the browser engine runs the models {ENGINE_MODELS}, got a {type(model).__name__}")
    check_engine_config(model.config)
    tokenizers = check_tokenizer_pair(tokenizers)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"name must be lower-case letters, digits, '-' or '_' (a file name), got {name!r}")
    if type(model).__name__ == "GPT" and tokenizers[0].to_dict() != tokenizers[1].to_dict():
        raise ValueError("a GPT reads and writes one vocabulary: its source and target tokenizers must be the same, "
                         "got two different ones")
    tensors, aliases, chunks, seen = [], [], [], {}
    for key, tensor in model.state_dict().items():
        pointer = tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape)
        if pointer in seen:
            aliases.append([key, seen[pointer]])
            continue
        seen[pointer] = key
        tensors.append([key, list(tensor.shape)])
        chunks.append(tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes())
    coders = {side: tokenizer_data(tokenizer) for side, tokenizer in zip(("src", "tgt"), tokenizers)}
    return {"format": FORMAT, "version": VERSION, "name": name, "model": type(model).__name__,
            "config": model.config.to_dict(), "tokenizers": coders, "tensors": tensors, "aliases": aliases,
            "weights": base64.b64encode(b"".join(chunks)).decode("ascii")}


def asset_script(asset: dict) -> str:
    """The asset as a script that adds it to window.TE_MODELS (what the book's pages load)."""
    body = json.dumps(asset, sort_keys=True, separators=(",", ":"))  # ASCII only: every "<" etc. stays JSON text
    return (f"// Generated by transformer_edu.web_export from the checkpoint {asset['name']!r}: do not edit.\n"
            f"(window.TE_MODELS = window.TE_MODELS || {{}})[{json.dumps(asset['name'])}] = {body};\n")


def write_asset(checkpoint: str | Path, out: str | Path) -> Path:
    """Read a checkpoint and write its browser asset to `out` (named after the checkpoint's file stem)."""
    model, tokenizers, _ = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(asset_script(browser_asset(model, tokenizers, Path(checkpoint).stem)), encoding="ascii")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a checkpoint as a static asset for the in-page engine.")
    parser.add_argument("checkpoint", help="a .pt file written by save_checkpoint")
    parser.add_argument("out", help="the .js file to write, e.g. book/_static/live/dates.js")
    args = parser.parse_args(argv)
    path = write_asset(args.checkpoint, args.out)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
