"""The frozen configurations (paper section 3 and Table 3, row "base"), and the special token ids.

Two levels, so that every model built from the same block shares one set of block settings:
    BlockConfig        what every layer of every stack needs: widths, heads, dropout, activation, LN order
    TransformerConfig  a BlockConfig plus what only the encoder-decoder model has: two vocabularies, two
                       stack depths, positions, special ids, weight sharing
A decoder-only or encoder-only model would add its own fields to BlockConfig the same way.

Shape legend used across the package:
    B batch, S source length, T target length, D d_model, H heads (n_heads),
    d_k = D / H per-head width, F d_ff, V vocabulary size.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .attention_variants import KERNELS
from .checks import check_bool, check_int, check_number
from .feed_forward import ACTIVATIONS
from .normalization import NORMS

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")  # the first ids of every tokenizer's vocabulary
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3  # the one place these ids are written down
POSITIONAL_KINDS = ("sinusoidal", "learned")


@dataclass(frozen=True)
class BlockConfig:
    """The settings every layer of a stack takes (Block in block.py); the paper's base values."""

    d_model: int = 512  # width of every sub-layer output and embedding (section 3.1)
    n_heads: int = 8  # h, parallel attention heads (section 3.2.2)
    d_ff: int = 2048  # inner width of the position-wise feed-forward network (section 3.3)
    dropout: float = 0.1  # P_drop: residual dropout and on embeddings + positions (section 5.4)
    attention_dropout: float = 0.0  # not in the paper; nn.Transformer drops attention weights with `dropout`
    ffn_dropout: float = 0.0  # not in the paper; tensor2tensor and nn.Transformer drop the FFN's inner activations
    activation: str = "relu"  # the paper's FFN uses ReLU; "gelu" is later practice (BERT, GPT)
    norm_first: bool = False  # False: post-LN as in the paper; True: pre-LN, a later change
    layer_norm_eps: float = 1e-5  # epsilon inside LayerNorm (torch's default)
    # Changes made since 2017 (chapter 17); the defaults are the paper's.
    norm: str = "layer"  # "layer": LayerNorm; "rms": RMSNorm (Zhang and Sennrich 2019)
    n_kv_heads: int | None = None  # key/value heads; None: n_heads as in the paper; 1: multi-query attention
    #                                (Shazeer 2019); in between: grouped-query attention (Ainslie et al. 2023)
    attention_kernel: str = "ours"  # "ours": equation 1 as written in attention.py; "sdpa": torch's fused
    #                                 F.scaled_dot_product_attention (the same result, no attention weights)

    def __new__(cls, *args, **kwargs):
        # A misspelt field names itself and the known ones, instead of dataclass's bare TypeError.
        unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known fields: "
                             f"{sorted(f.name for f in dataclasses.fields(cls))}")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for name in ("d_model", "n_heads", "d_ff"):
            check_int(f"{type(self).__name__}.{name}", getattr(self, name))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}): "
                             f"each head gets d_k = d_model / n_heads dimensions")
        for name in ("dropout", "attention_dropout", "ffn_dropout"):
            check_number(f"{type(self).__name__}.{name}", getattr(self, name), 0.0, 1.0, high_open=True)
        check_number(f"{type(self).__name__}.layer_norm_eps", self.layer_norm_eps, 0.0, low_open=True)
        check_bool(f"{type(self).__name__}.norm_first", self.norm_first)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.attention_kernel not in KERNELS:
            raise ValueError(f"attention_kernel must be one of {KERNELS}, got {self.attention_kernel!r}")
        if self.n_kv_heads is not None:
            check_int(f"{type(self).__name__}.n_kv_heads", self.n_kv_heads, 1, self.n_heads,
                      " (None: one key/value head per query head, as in the paper)")
            if self.n_heads % self.n_kv_heads:
                raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads}): "
                                 f"each key/value head serves the same number of query heads")

    @property
    def d_k(self) -> int:
        """Per-head width of queries, keys and values: d_k = d_v = d_model / h (section 3.2.2)."""
        return self.d_model // self.n_heads

    def block_settings(self) -> dict:
        """The BlockConfig fields as keyword arguments, for Block, EncoderLayer, DecoderLayer and the stacks."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(BlockConfig)}

    @classmethod
    def from_dict(cls, values: dict):
        """Build a config from a plain dict (as saved in checkpoints); unknown keys are an error."""
        if not isinstance(values, dict):
            raise ValueError(f"from_dict needs a dict of field values, got {type(values).__name__}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with some fields changed (the config itself is frozen)."""
        return dataclasses.replace(self, **changes)



def check_one_stack_fields(config, name: str) -> None:
    """The checks a one-stack model's config (GPTConfig, BERTConfig) shares: one vocabulary, N layers, a context
    of max_len positions and how they are encoded, the padding id, tying and the final norm."""
    for field in ("vocab_size", "n_layers", "max_len"):
        check_int(f"{name}.{field}", getattr(config, field))
    check_int(f"{name}.pad_id", config.pad_id, 0, config.vocab_size - 1, " (an id of the vocabulary)")
    if config.positional not in POSITIONAL_KINDS + ("rope",):
        raise ValueError(f"positional must be one of {POSITIONAL_KINDS + ('rope',)}, got {config.positional!r}")
    if config.positional == "rope" and config.d_k % 2:
        raise ValueError(f"rotary positions rotate pairs of features, so d_k = d_model / n_heads must be even, "
                         f"got {config.d_k}")
    if config.positional == "sinusoidal" and config.d_model % 2:
        raise ValueError(f"sinusoidal positions pair sin and cos dimensions, so d_model must be even, got "
                         f"{config.d_model}")
    for field in ("share_embeddings", "final_norm"):
        check_bool(f"{name}.{field}", getattr(config, field))

@dataclass(frozen=True)
class TransformerConfig(BlockConfig):
    """The encoder-decoder model of the paper: the block settings above and these."""

    src_vocab_size: int = 37000  # the paper's shared English-German BPE vocabulary (section 5.1)
    tgt_vocab_size: int = 37000  # equal to src_vocab_size when embeddings are shared
    n_encoder_layers: int = 6  # N for the encoder stack (section 3.1)
    n_decoder_layers: int = 6  # N for the decoder stack (section 3.1)
    max_len: int = 1024  # longest sequence the position table covers; the paper fixes none
    pad_id: int = PAD_ID  # fills a short sequence; masks are built from it
    bos_id: int = BOS_ID  # starts every target; decoding feeds it first
    eos_id: int = EOS_ID  # ends every target; decoding stops at it
    positional: str = "sinusoidal"  # the paper's choice; "learned" is its Table 3 row (E) alternative
    share_embeddings: bool = True  # one matrix for source, target embeddings and output layer (section 3.4)
    final_norm: bool = False  # a LayerNorm after each stack: not in the paper, needed with pre-LN, always in nn.Transformer

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("src_vocab_size", "tgt_vocab_size", "n_encoder_layers", "n_decoder_layers", "max_len"):
            check_int(f"TransformerConfig.{name}", getattr(self, name))
        if self.positional == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions pair sin and cos dimensions, so d_model must be even, got {self.d_model}")
        for name in ("share_embeddings", "final_norm"):
            check_bool(f"TransformerConfig.{name}", getattr(self, name))
        for name in ("pad_id", "bos_id", "eos_id"):
            check_int(name, getattr(self, name), 0, min(self.src_vocab_size, self.tgt_vocab_size) - 1,
                      " (an id valid in both vocabularies)")
        if self.positional not in POSITIONAL_KINDS:
            raise ValueError(f"positional must be one of {POSITIONAL_KINDS}, got {self.positional!r}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(f"share_embeddings=True needs one vocabulary, got src_vocab_size={self.src_vocab_size} "
                             f"and tgt_vocab_size={self.tgt_vocab_size}")

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
