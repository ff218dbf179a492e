"""An encoder-only masked language model (Part IV), built from the same Block as the 2017 paper's encoder.

The paper's encoder stack reads a whole sequence at once: every position attends to every other, left and
right. That is what makes it a poor language model in the usual sense (the word to predict is in its own
input, one attention step away) and a good reader. Devlin et al. (2019), BERT, "Pre-training of Deep
Bidirectional Transformers for Language Understanding", train it with a cloze task instead, the masked
language model (MLM): choose 15% of the tokens, hide them, and predict the originals from both sides.
Of the chosen tokens, 80% are replaced by [MASK], 10% by a random token and 10% are left as they were, so
that the model cannot assume that only [MASK] positions matter: fine-tuned inputs never contain [MASK].

What comes from where:
- the paper (2017): the Blocks (self-attention and feed-forward, post-LN), the token embedding x sqrt(D),
  sinusoidal or learned positions (Table 3 row E), the output layer tied to the token embedding (3.4);
- BERT (2018/2019): the MLM objective and the 80/10/10 rule (mask_tokens), and the options BERT itself uses,
  each a BERTConfig field named after it: learned positions, GELU, segment ("token type") embeddings, a
  LayerNorm on the sum of the embeddings, no sqrt(D) factor, LayerNorm epsilon 1e-12, and the head's
  transform (dense D -> D, activation, LayerNorm) and output bias (MaskedLMHead);
- later still, as for the GPT: rotary positions (Su et al. 2021, positional="rope") and every BlockConfig
  option of chapter 17 (RMSNorm, SwiGLU, grouped-query attention, torch's fused kernel), passed to the Blocks.
BERT's next-sentence objective and its pooler (a dense layer and tanh on [CLS]) are not built here.

An encoder has no step-by-step decoding and so no key/value cache: new_cache() raises (see its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .block import Block, Stack
from .checks import (check_bool, check_features, check_finite_output, check_int, check_number, check_positions,
                     check_real_tokens, check_token_ids, check_weights_computed, checked_by, trusted, weight_dtype)
from .config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, BlockConfig, check_one_stack_fields
from .decoding import inference
from .devices import check_same_device, model_device
from .embeddings import TokenEmbedding
from .masks import padding_mask
from .multi_head_attention import MultiHeadAttention
from .positional_encoding import PositionalEncoding

IGNORE_INDEX = -100  # label of a position with no prediction: F.cross_entropy's default, as Hugging Face uses
MASK_TOKEN = "<mask>"  # BERT's [MASK], for the book's tokenizers (whose own specials are <pad> <bos> <eos> <unk>)
SPECIAL_IDS = (PAD_ID, BOS_ID, EOS_ID, UNK_ID)  # never chosen for prediction, never drawn as a random token
HEAD_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}  # the head's transform applies one on its own (not SwiGLU)


@dataclass(frozen=True)
class BERTConfig(BlockConfig):
    """An encoder-only model: the block settings (BlockConfig, the 2017 base values) and these.
    Hugging Face's BertConfig name is given where it differs."""

    vocab_size: int = 37000  # the 2017 paper's BPE vocabulary; BERT's WordPiece vocabulary has 30,522
    n_layers: int = 6  # N, as in the paper's encoder (num_hidden_layers); BERT-base has 12
    max_len: int = 1024  # most positions the model reads (max_position_embeddings); BERT 512
    pad_id: int = PAD_ID  # fills a short sequence (pad_token_id): the padding mask hides it
    positional: str = "sinusoidal"  # the paper's; "learned": BERT's (position_embeddings); "rope": rotary.py
    share_embeddings: bool = True  # output layer = token embedding (paper 3.4; BERT too)
    final_norm: bool = False  # a LayerNorm after the last block: not in BERT; needed with pre-LN (norm_first)
    scale_embeddings: bool = True  # embeddings x sqrt(D) (paper 3.4); BERT has no such factor
    type_vocab_size: int = 0  # segment embeddings, BERT's sentence A/B (token_type_embeddings): 2; 0 = none
    embedding_norm: bool = False  # BERT's LayerNorm on the sum of the embeddings (embeddings.LayerNorm)
    head_transform: bool = False  # BERT's MLM head: dense D -> D, activation, LayerNorm before the output layer
    output_bias: bool = False  # BERT's per-token bias on the output layer (cls.predictions.bias)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_one_stack_fields(self, "BERTConfig")
        check_int("BERTConfig.type_vocab_size", self.type_vocab_size, 0, why=" (0: no segment embeddings)")
        for name in ("scale_embeddings", "embedding_norm", "head_transform", "output_bias"):
            check_bool(f"BERTConfig.{name}", getattr(self, name))
        if self.head_transform and self.activation not in HEAD_ACTIVATIONS:
            raise ValueError(f"the head's transform applies the activation on its own, so it must be one of "
                             f"{sorted(HEAD_ACTIVATIONS)}, got {self.activation!r}; or set head_transform=False")

    # checkpoint.py reads the encoder-decoder's two vocabulary sizes; a masked language model has one for both
    src_vocab_size = tgt_vocab_size = property(lambda self: self.vocab_size)

    @classmethod
    def small(cls, vocab_size: int = 64, **changes) -> "BERTConfig":
        """Chapter 16's model: 2 layers, 4 heads, d_model 64, d_ff 256, 32 positions, no dropout. Masked-LM
        training learns from 15% of the positions only, so in a one-minute budget a narrow, shallow model
        that takes many steps did better than GPTConfig.small's sizes (measured on character Shakespeare)."""
        values = dict(vocab_size=vocab_size, d_model=64, n_heads=4, d_ff=256, n_layers=2, max_len=32, dropout=0.0)
        return cls(**{**values, **changes})

    @classmethod
    def bert_base(cls, **changes) -> "BERTConfig":
        """BERT-base's sizes and choices (not its initialisation), with the MLM head: 109,514,298 parameters."""
        values = dict(vocab_size=30522, d_model=768, n_heads=12, d_ff=3072, n_layers=12, max_len=512,
                      activation="gelu", positional="learned", attention_dropout=0.1, layer_norm_eps=1e-12,
                      scale_embeddings=False, type_vocab_size=2, embedding_norm=True, head_transform=True,
                      output_bias=True)
        return cls(**{**values, **changes})


class MaskedLMHead(nn.Module):
    """Hidden states -> a score per vocabulary token. The paper's part is the output layer, a linear map whose
    weight the model ties to the token embedding (3.4). BERT's parts, each optional: a transform before it
    (dense D -> D, activation, LayerNorm) and a bias per token."""

    def __init__(self, d_model: int, vocab_size: int, activation: str = "gelu", layer_norm_eps: float = 1e-5,
                 transform: bool = True, bias: bool = True):
        super().__init__()
        check_int("d_model", d_model)
        check_int("vocab_size", vocab_size)
        if transform and activation not in HEAD_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(HEAD_ACTIVATIONS)}, got {activation!r}")
        self.d_model = d_model
        self.dense = nn.Linear(d_model, d_model) if transform else None
        self.activation = HEAD_ACTIVATIONS[activation]() if transform else None
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if transform else None
        self.output = nn.Linear(d_model, vocab_size, bias=bias)  # the pre-softmax linear layer

    @checked_by("check_inputs")
    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, S, D) -> logits (B, S, V)."""
        if self.dense is not None:
            x = self.norm(self.activation(self.dense(x)))  # (B, S, D): BERT's
        return self.output(x)  # (B, S, V)

    def check_inputs(self, x: Tensor) -> None:
        check_features(x, self.d_model, "head input", weight_dtype(self), hint=" (the encoder's hidden states)")


class BERT(nn.Module):
    """Token embedding + positions [+ segments] [-> LayerNorm] -> N Blocks (no mask but padding, no
    cross-attention) -> [LayerNorm] -> masked-LM head -> logits."""

    def __init__(self, config: BERTConfig):
        super().__init__()
        if not isinstance(config, BERTConfig):
            raise ValueError(f"BERT needs a BERTConfig, got {type(config).__name__}")
        c = self.config = config
        self.embed = TokenEmbedding(c.vocab_size, c.d_model, scale=c.scale_embeddings)
        rotary = c.positional == "rope"  # rotary positions act inside every self-attention, none are added
        self.position = None if rotary else PositionalEncoding(c.d_model, c.max_len, 0.0,
                                                               learned=c.positional == "learned")
        self.token_type = nn.Embedding(c.type_vocab_size, c.d_model) if c.type_vocab_size else None
        self.embedding_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.embedding_norm else None
        self.dropout = nn.Dropout(c.dropout)  # on the embedded input, as the paper's P_drop (section 5.4)
        self.encoder = Stack([Block(cross_attention=False, causal=False, rotary=rotary, **c.block_settings())
                              for _ in range(c.n_layers)], final_norm=c.final_norm)
        self.head = MaskedLMHead(c.d_model, c.vocab_size, c.activation, c.layer_norm_eps, c.head_transform,
                                 c.output_bias)
        for p in [*self.encoder.parameters(), *self.head.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)  # as Transformer (and nn.Transformer) initialise every weight matrix
        if self.head.output.bias is not None:
            nn.init.zeros_(self.head.output.bias)
        if c.share_embeddings:
            self.head.output.weight = self.embed.weight  # one (V, D) matrix for input and output
        else:
            nn.init.normal_(self.head.output.weight, std=c.d_model ** -0.5)

    @checked_by("check_forward")
    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None,
                return_attention: bool = False):
        """Shapes: ids (B, S) -> logits (B, S, V) [, AttentionWeights].
        The logits at position s score the token that belongs there."""
        hidden, weights = self.encode(ids, token_type_ids, return_attention=True)
        logits = self.head(hidden)  # (B, S, V)
        check_finite_output(self, logits, "logits (BERT.forward's output)")
        return (logits, weights) if return_attention else logits

    @checked_by("check_forward")
    def encode(self, ids: Tensor, token_type_ids: Tensor | None = None,
               return_attention: bool = False):
        """Shapes: ids (B, S), token_type_ids (B, S) or None -> hidden states
        (B, S, D) [, AttentionWeights: encoder_self N x (B, H, S, S)]: Hugging
        Face's last_hidden_state. No position may attend to padding."""
        x = self.embed(ids)  # (B, S, D): x sqrt(D) unless scale_embeddings=False
        if self.position is not None:  # rotary positions act in the attention
            x = self.position(x)  # (B, S, D): + positions 0 .. S - 1
        if self.token_type is not None:  # BERT's segments: sentence A, B
            types = token_type_ids
            if types is None:
                types = torch.zeros_like(ids)  # every token in sentence A
            x = x + self.token_type(types)  # (B, S, D)
        if self.embedding_norm is not None:  # BERT's LayerNorm of the sum
            x = self.embedding_norm(x)  # (B, S, D)
        x = self.dropout(x)
        mask = padding_mask(ids, self.config.pad_id)  # (B, 1, 1, S): not causal
        hidden, weights = self.encoder(x, mask, return_attention=True)
        check_finite_output(self, hidden, "hidden states (BERT.encode's output)")
        return (hidden, weights) if return_attention else hidden

    def new_cache(self):
        """Refused: an encoder has no key/value cache. A cache keeps the keys and values of earlier positions
        because in a causal stack they never change; in an encoder every position attends to every other,
        so a new token changes them all. The model reads its whole input in one call."""
        raise ValueError("BERT is an encoder: every position attends to every other, so there are no decoding "
                         "steps and nothing to cache; call the model on the whole sequence")

    def attention_layers(self) -> dict[str, list[MultiHeadAttention]]:
        """Every attention module by kind, as in AttentionWeights (a BERT has only "encoder_self")."""
        return {"encoder_self": [layer.self_attn for layer in self.encoder.layers]}

    def check_forward(self, ids, token_type_ids=None, return_attention=False) -> None:
        c = self.config
        check_weights_computed(c, return_attention)
        check_token_ids(ids, c.vocab_size, "ids")
        check_same_device(self, ids, "ids")
        check_real_tokens(ids, c.pad_id, "ids")
        check_positions(0, ids.shape[1], c.max_len)
        if token_type_ids is None:
            return
        if self.token_type is None:
            raise ValueError("token_type_ids given, but this model has no segment embeddings "
                             "(BERTConfig.type_vocab_size is 0)")
        check_token_ids(token_type_ids, c.type_vocab_size, "token_type_ids")
        if token_type_ids.shape != ids.shape:
            raise ValueError(f"token_type_ids must have the shape of ids {tuple(ids.shape)}, got "
                             f"{tuple(token_type_ids.shape)}")


def mask_tokens(ids: Tensor, mask_id: int, vocab_size: int,
                generator: torch.Generator, probability: float = 0.15,
                special_ids=SPECIAL_IDS) -> tuple[Tensor, Tensor]:
    """BERT's corruption of its input (Devlin et al. 2019, section 3.1).
    Shapes: ids (B, S) -> (inputs (B, S), labels (B, S)).

    Each row has n ordinary tokens (not in special_ids, not mask_id), and
    round(probability x n) of them are chosen (at least one if n > 0): a
    fixed number per row, as in BERT's data code, which counts [CLS] and
    [SEP] in n and caps it at 20 (Hugging Face's collator flips a coin for
    each token instead). A chosen token becomes mask_id with probability 0.8,
    a random ordinary token with 0.1 (it may draw itself), and stays as it
    was with 0.1. labels: the original id where chosen, IGNORE_INDEX (-100)
    elsewhere. BERT draws from the whole vocabulary; here specials are never
    drawn, so no token turns into padding. `generator` makes every draw.
    """
    special = _check_mask_arguments(ids, mask_id, vocab_size, generator,
                                    probability, special_ids)
    drawn_on = generator.device  # the draws are made where the generator is, then moved to ids' device
    ordinary = torch.ones(vocab_size, dtype=torch.bool, device=drawn_on)  # (V,)
    ordinary[special] = False
    candidate = ordinary.to(ids.device)[ids]  # (B, S): may be chosen
    n = candidate.sum(dim=1)  # (B,)
    k = (probability * n + 0.5).floor().long().clamp(min=1)  # (B,) to choose
    k = torch.where(n > 0, k, 0)
    keys = torch.rand(ids.shape, generator=generator, device=drawn_on).to(ids.device)  # (B, S)
    keys = keys.masked_fill(~candidate, 2.0)  # above every candidate's key
    rank = keys.argsort(dim=1).argsort(dim=1)  # (B, S): 0 = smallest key
    chosen = rank < k[:, None]  # (B, S): the k candidates with smallest keys
    u = torch.rand(ids.shape, generator=generator, device=drawn_on).to(ids.device)  # (B, S)
    pool = ordinary.nonzero()[:, 0]  # (n_ordinary,) ids a draw may give
    draw = torch.randint(len(pool), ids.shape, generator=generator, device=drawn_on)  # (B, S)
    drawn = pool[draw].to(ids.device)  # (B, S)
    inputs = torch.where(chosen & (u < 0.8), mask_id, ids)  # 80%: [MASK]
    replace = chosen & (u >= 0.8) & (u < 0.9)  # 10%: a random token
    inputs = torch.where(replace, drawn, inputs)  # the last 10%: unchanged
    labels = torch.where(chosen, ids, IGNORE_INDEX)  # (B, S)
    return inputs, labels


def _check_mask_arguments(ids, mask_id, vocab_size, generator, probability, special_ids) -> list[int]:
    check_int("vocab_size", vocab_size)
    check_token_ids(ids, vocab_size, "ids")
    check_int("mask_id", mask_id, 0, vocab_size - 1, " (an id of the vocabulary)")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
                         f"got {type(generator).__name__}")
    check_number("probability", probability, 0, 1, low_open=True)
    if isinstance(special_ids, (str, bytes)) or not hasattr(special_ids, "__iter__"):
        raise ValueError(f"special_ids must be a collection of int token ids, got {special_ids!r:.80}")
    for i in special_ids:
        check_int("each of special_ids", i, 0, vocab_size - 1, " (an id of the vocabulary)")
    special = sorted(set(special_ids) | {mask_id})
    if len(special) == vocab_size:
        raise ValueError(f"every id of the vocabulary of {vocab_size} is special: no token can be chosen or drawn")
    return special


def masked_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over the chosen positions (labels != IGNORE_INDEX), in nats per predicted token.
    Shapes: logits (B, S, V), labels (B, S) -> a scalar. Unchosen positions give no loss: their input
    showed the answer."""
    if not isinstance(logits, Tensor) or logits.dim() != 3 or not logits.dtype.is_floating_point:
        got = (f"shape {tuple(logits.shape)}, dtype {logits.dtype}" if isinstance(logits, Tensor)
               else type(logits).__name__)
        raise ValueError(f"logits must be a float tensor of shape (batch, length, vocabulary), got {got}")
    if not isinstance(labels, Tensor) or labels.shape != logits.shape[:2] or labels.dtype != torch.long:
        got = (f"shape {tuple(labels.shape)}, dtype {labels.dtype}" if isinstance(labels, Tensor)
               else type(labels).__name__)
        raise ValueError(f"labels must be a torch.long tensor of shape {tuple(logits.shape[:2])} (mask_tokens' "
                         f"labels), got {got}")
    chosen = labels != IGNORE_INDEX
    if not bool(chosen.any()):
        raise ValueError(f"no position has a label (every label is {IGNORE_INDEX}): nothing to predict")
    if bool(((labels < 0) & chosen).any()) or bool((labels >= logits.shape[-1]).any()):
        raise ValueError(f"labels must be token ids in [0, {logits.shape[-1] - 1}] or {IGNORE_INDEX}")
    return F.cross_entropy(logits[chosen], labels[chosen])  # (M, V) and (M,): only the chosen positions


class FilledMasks(NamedTuple):
    """fill_mask's answer, one row per [MASK] in reading order (batch row, then position)."""

    positions: Tensor  # (M, 2): batch row and position of each [MASK]
    logits: Tensor  # (M, V): the model's scores for each blank
    top_ids: Tensor  # (M, k): the k most probable tokens, most probable first
    top_probabilities: Tensor  # (M, k): their probabilities


def fill_mask(model: BERT, ids: Tensor, mask_id: int, top_k: int = 5,
              token_type_ids: Tensor | None = None) -> FilledMasks:
    """The model's top_k guesses for every position of `ids` (B, S) that holds mask_id, in evaluation mode
    and without gradients. Each blank is predicted on its own: with two [MASK]s, neither sees the other's
    answer (BERT predicts the chosen tokens independently)."""
    if not isinstance(model, BERT):
        raise ValueError(f"model must be a BERT, got {type(model).__name__}")
    if isinstance(ids, Tensor):  # ids from a tokenizer are on the CPU
        ids = ids.to(model_device(model))
        token_type_ids = token_type_ids.to(ids.device) if isinstance(token_type_ids, Tensor) else token_type_ids
    model.check_forward(ids, token_type_ids)
    check_int("mask_id", mask_id, 0, model.config.vocab_size - 1, " (an id of the vocabulary)")
    check_int("top_k", top_k, 1, model.config.vocab_size, " (at most the vocabulary size)")
    blanks = ids == mask_id  # (B, S)
    if not bool(blanks.any()):
        raise ValueError(f"ids hold no mask_id ({mask_id}): put it where a token should be guessed")
    with inference(model), trusted():  # checked above
        logits = model(ids, token_type_ids)[blanks]  # (M, V)
    logits = logits.clone()  # an ordinary tensor, not an inference-mode one
    top = logits.softmax(dim=-1).topk(top_k, dim=-1)  # values and indices (M, k)
    return FilledMasks(blanks.nonzero(), logits, top.indices, top.values)


__all__ = ["BERT", "BERTConfig", "FilledMasks", "IGNORE_INDEX", "MASK_TOKEN", "MaskedLMHead", "SPECIAL_IDS",
           "fill_mask", "mask_tokens", "masked_lm_loss"]
