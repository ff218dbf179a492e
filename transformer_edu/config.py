"""One frozen configuration for the whole model (paper section 3 and Table 3, row "base").

Shape legend used across the package:
    B batch, S source length, T target length, D d_model, H heads (n_heads),
    d_k = D / H per-head width, F d_ff, V vocabulary size.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from .checks import is_number

POSITIONAL_KINDS = ("sinusoidal", "learned")
ACTIVATIONS = ("relu", "gelu")


@dataclass(frozen=True)
class TransformerConfig:
    src_vocab_size: int = 37000  # the paper's shared English-German BPE vocabulary (section 5.1)
    tgt_vocab_size: int = 37000  # equal to src_vocab_size when embeddings are shared
    d_model: int = 512  # width of every sub-layer output and embedding (section 3.1)
    n_heads: int = 8  # h, parallel attention heads (section 3.2.2)
    d_ff: int = 2048  # inner width of the position-wise feed-forward network (section 3.3)
    n_encoder_layers: int = 6  # N for the encoder stack (section 3.1)
    n_decoder_layers: int = 6  # N for the decoder stack (section 3.1)
    dropout: float = 0.1  # P_drop: residual dropout and on embeddings + positions (section 5.4)
    attention_dropout: float = 0.0  # not in the paper; nn.Transformer drops attention weights with `dropout`
    max_len: int = 1024  # longest sequence the position table covers; the paper fixes none
    pad_id: int = 0  # token id used for padding; masks are built from it
    positional: str = "sinusoidal"  # the paper's choice; "learned" is its Table 3 row (E) alternative
    activation: str = "relu"  # the paper's FFN uses ReLU; "gelu" is later practice (BERT, GPT)
    share_embeddings: bool = True  # one matrix for source, target embeddings and output layer (section 3.4)
    norm_first: bool = False  # False: post-LN as in the paper; True: pre-LN, a later change
    final_norm: bool = False  # a LayerNorm after each stack: not in the paper, needed with pre-LN, always in nn.Transformer
    layer_norm_eps: float = 1e-5  # epsilon inside LayerNorm (torch's default)

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff",
                     "n_encoder_layers", "n_decoder_layers", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TransformerConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}): "
                             f"each head gets d_k = d_model / n_heads dimensions")
        if self.positional == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions pair sin and cos dimensions, so d_model must be even, got {self.d_model}")
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if not is_number(value) or not 0.0 <= value < 1.0:
                raise ValueError(f"TransformerConfig.{name} must be a number in [0, 1), got {value!r}")
        if not is_number(self.layer_norm_eps) or not self.layer_norm_eps > 0:
            raise ValueError(f"TransformerConfig.layer_norm_eps must be a number > 0, got {self.layer_norm_eps!r}")
        for name in ("share_embeddings", "norm_first", "final_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TransformerConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if (isinstance(self.pad_id, bool) or not isinstance(self.pad_id, int)
                or not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size)):
            raise ValueError(f"pad_id must be an int id valid in both vocabularies, got {self.pad_id!r}")
        if self.positional not in POSITIONAL_KINDS:
            raise ValueError(f"positional must be one of {POSITIONAL_KINDS}, got {self.positional!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(f"share_embeddings=True needs one vocabulary, got src_vocab_size={self.src_vocab_size} "
                             f"and tgt_vocab_size={self.tgt_vocab_size}")

    @property
    def d_k(self) -> int:
        """Per-head width of queries, keys and values: d_k = d_v = d_model / h (section 3.2.2)."""
        return self.d_model // self.n_heads

    @classmethod
    def base(cls, vocab_size: int = 37000, **changes) -> "TransformerConfig":
        """The paper's base model (Table 3): d_model 512, 8 heads, d_ff 2048, 6 + 6 layers, dropout 0.1."""
        return cls(src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, **changes)

    @classmethod
    def small(cls, vocab_size: int = 64, **changes) -> "TransformerConfig":
        """A preset that trains in seconds on a laptop CPU, for the chapters."""
        values = dict(src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, d_model=64, n_heads=4,
                      d_ff=256, n_encoder_layers=2, n_decoder_layers=2, max_len=256)
        values.update(changes)
        return cls(**values)

    @classmethod
    def from_dict(cls, values: dict) -> "TransformerConfig":
        """Build a config from a plain dict (as saved in checkpoints); unknown keys are an error."""
        if not isinstance(values, dict):
            raise ValueError(f"from_dict needs a dict of field values, got {type(values).__name__}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "TransformerConfig":
        """A copy with some fields changed (the config itself is frozen)."""
        return dataclasses.replace(self, **changes)


FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(TransformerConfig))
_generated_init = TransformerConfig.__init__


@functools.wraps(_generated_init)
def _checked_init(self, *args, **kwargs):
    unknown = sorted(set(kwargs) - FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown TransformerConfig field(s) {unknown}; known fields: {sorted(FIELD_NAMES)}")
    _generated_init(self, *args, **kwargs)


TransformerConfig.__init__ = _checked_init  # a misspelt field names itself instead of a bare TypeError
