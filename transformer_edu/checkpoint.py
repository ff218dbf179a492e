"""Saving a trained model with everything needed to use it again, and loading it back.

A checkpoint file holds only tensors and plain containers (dict, list, str, int, float, bool, None), so
torch.load(path, weights_only=True) reads it without running any pickled code:

    {"format": "transformer_edu.checkpoint", "version": 2,
     "model": "Transformer",                            # which class to rebuild (MODELS below)
     "config": TransformerConfig.to_dict(),             # the sizes, to rebuild the same model
     "state_dict": model.state_dict(),                  # the learned weights
     "tokenizers": {"src": ..., "tgt": ...},           # Tokenizer.to_dict() of each (a GPT's one, twice)
     "extra": {...}}                                    # anything else: training step, seed, accuracy ...

Shared weights (section 3.4): the state_dict lists the one embedding/output matrix under each of its names;
torch.save writes its data once, and loading into a fresh Transformer(config), which ties the matrix
again, puts the values back into the single shared Parameter.

Version 1 files (written before the layers became Blocks, December 2026) name the LayerNorms after the old
AddNorm wrappers (`encoder.layers.0.add_norm_attn.norm.weight`); they load through OLD_NAMES below.

Every weight must be finite: one NaN in a weight makes the model's outputs NaN, so saving and loading both
refuse a model that holds any (NonFiniteError, a ValueError, naming the tensor).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from .bert import BERT, BERTConfig
from .checks import NonFiniteError, check_model, check_tokenizer_pair, describe_non_finite, non_finite_tensors
from .config import TransformerConfig
from .gpt import GPT, GPTConfig
from .model import Transformer
from .tokenizer import Tokenizer

FORMAT, VERSION = "transformer_edu.checkpoint", 2
MODELS = {"Transformer": (Transformer, TransformerConfig),  # class name -> (model class, its config class)
          "GPT": (GPT, GPTConfig), "BERT": (BERT, BERTConfig)}
TIED_NAMES = {"Transformer": ("src_embed.table.weight", "tgt_embed.table.weight", "output.weight"),  # one matrix
              "GPT": ("embed.table.weight", "output.weight")}  # when shared: the names it is stored under
OLD_NAMES = {".add_norm_attn.norm.": ".self_attn_norm.", ".add_norm_self.norm.": ".self_attn_norm.",
             ".add_norm_cross.norm.": ".cross_attn_norm.", ".add_norm_ff.norm.": ".ff_norm."}  # version 1 -> 2


def upgrade_names(state: dict) -> dict:
    """A version-1 state_dict with its LayerNorms under their version-2 names (other names unchanged)."""
    renamed = {}
    for name, tensor in state.items():
        for old, new in OLD_NAMES.items():
            name = name.replace(old, new)
        renamed[name] = tensor
    return renamed


def _check_plain(value, where: str = "extra") -> None:
    """Raise ValueError unless `value` is made of tensors and plain containers only."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} keys must be str, got {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not (value is None or type(value) in (str, int, float, bool) or isinstance(value, Tensor)):
        # exact types: a subclass such as torch.__version__ (a TorchVersion, not a str) is pickled by class name
        raise ValueError(f"{where} may hold only tensors, str, int, float, bool, None, lists and dicts "
                         f"(so that torch.load(weights_only=True) can read it), got {type(value).__name__}")


def _check_finite_weights(state: dict, where: str) -> None:
    """NonFiniteError naming the first tensors of a state_dict that hold NaN or inf (a shared matrix once)."""
    broken = non_finite_tensors(state)  # the tied embedding/output matrix appears under three names: once here
    if broken:
        raise NonFiniteError(f"{where}: weight {broken[0]!r} holds {describe_non_finite(state[broken[0]])}"
                             f"{f' (and {len(broken) - 1} more tensors: {broken[1:4]})' if len(broken) > 1 else ''}. "
                             f"Usual causes: a training run that diverged (a learning rate too high, no warm-up, a "
                             f"float16 overflow) before it was saved, or a file edited by hand")


def save_checkpoint(path: str | Path, model, config: TransformerConfig | None = None,
                    tokenizers: tuple[Tokenizer, Tokenizer] | None = None, extra: dict | None = None) -> None:
    """Write model weights, config, (source, target) tokenizers and `extra` to `path`.

    config defaults to model.config (and must equal it). The file is written next to `path`, then moved
    into place, so an interrupted save never leaves half a checkpoint.
    """
    check_model(model, seq2seq=False)
    if type(model).__name__ not in MODELS:
        raise ValueError(f"save_checkpoint can rebuild the models {sorted(MODELS)}, got {type(model).__name__}")
    config = model.config if config is None else config
    if config != model.config:
        raise ValueError(f"config does not match the model's own: got {config}, the model has {model.config}")
    tokenizers = check_tokenizer_pair(tokenizers)
    for name, tokenizer, size in (("source", tokenizers[0], config.src_vocab_size),
                                  ("target", tokenizers[1], config.tgt_vocab_size)):
        if tokenizer.vocab_size != size:
            raise ValueError(f"the {name} tokenizer has {tokenizer.vocab_size} tokens, the model's vocabulary "
                             f"{size}")
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise ValueError(f"extra must be a dict or None, got {type(extra).__name__}")
    _check_plain(extra)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _check_finite_weights(state, "not saving a model that load_checkpoint would refuse")
    payload = {"format": FORMAT, "version": VERSION, "model": type(model).__name__, "config": config.to_dict(),
               "state_dict": state,
               "tokenizers": {"src": tokenizers[0].to_dict(), "tgt": tokenizers[1].to_dict()}, "extra": extra}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint(path: str | Path) -> tuple[Transformer, tuple[Tokenizer, Tokenizer], dict]:
    """(model in eval mode, (source tokenizer, target tokenizer), extra) from a file save_checkpoint wrote.

    Raises ValueError for a missing, corrupted or inconsistent file (weights that do not fit the config,
    shared weights that differ, non-finite weights, an unknown format).
    """
    if not isinstance(path, (str, Path)):
        raise ValueError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    if not Path(path).is_file():
        raise ValueError(f"no checkpoint file at {str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated zip, a pickle that is not ours, ...: all mean "not a checkpoint"
        raise ValueError(f"could not read a checkpoint from {str(path)!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a transformer_edu checkpoint (expected format {FORMAT!r})")
    if payload.get("version") not in (1, VERSION):
        raise ValueError(f"checkpoint version {payload.get('version')!r} is not supported (expected 1 or {VERSION})")
    model_name = payload.get("model", "Transformer")  # version 1 files have no "model": they hold a Transformer
    if model_name not in MODELS:
        raise ValueError(f"checkpoint {str(path)!r} holds a {model_name!r}; this package rebuilds {sorted(MODELS)}")
    model_class, config_class = MODELS[model_name]
    missing = {"config", "state_dict", "tokenizers", "extra"} - set(payload)
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks {sorted(missing)}")
    try:
        config = config_class.from_dict(payload["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {str(path)!r} has an invalid config: {exc}") from None
    state = payload["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(path)!r}: 'state_dict' must be a dict, got {type(state).__name__}")
    if payload["version"] == 1:
        state = upgrade_names(state)
    _check_finite_weights(state, f"checkpoint {str(path)!r}")  # first: NaN != NaN, also in the shared matrix
    tied = TIED_NAMES.get(model_name, ())
    if config.share_embeddings and tied and all(name in state for name in tied):
        if not all(torch.equal(state[tied[0]], state[name]) for name in tied[1:]):
            raise ValueError(f"checkpoint {str(path)!r}: the config shares one embedding/output matrix, but the "
                             f"file holds different values under {tied}")
    model = model_class(config)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ValueError(f"checkpoint {str(path)!r}: the weights do not fit its config: {exc}") from None
    tokenizers = payload["tokenizers"]
    if not isinstance(tokenizers, dict) or set(tokenizers) != {"src", "tgt"}:
        raise ValueError(f"checkpoint {str(path)!r}: 'tokenizers' must hold 'src' and 'tgt'")
    src, tgt = Tokenizer.from_dict(tokenizers["src"]), Tokenizer.from_dict(tokenizers["tgt"])
    if (src.vocab_size, tgt.vocab_size) != (config.src_vocab_size, config.tgt_vocab_size):
        raise ValueError(f"checkpoint {str(path)!r}: tokenizers of {src.vocab_size} and {tgt.vocab_size} tokens "
                         f"do not match the config's vocabularies ({config.src_vocab_size}, {config.tgt_vocab_size})")
    return model.eval(), (src, tgt), payload["extra"]
