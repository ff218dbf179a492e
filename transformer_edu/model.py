"""The full encoder-decoder Transformer (paper section 3, Figure 1).

    source ids -> embedding x sqrt(d_model) + positions -> encoder (N layers) -> memory
    target ids -> embedding x sqrt(d_model) + positions -> decoder (N layers, attends to memory)
               -> linear -> softmax over the target vocabulary

Parameter count of the base model (TransformerConfig.base(), one shared 37,000-token vocabulary, embeddings
and output layer sharing one matrix as in section 3.4) is exactly 63,082,496:
    shared embedding / output       37,000 x 512                           = 18,944,000
    6 encoder layers x 3,152,384    (attention 1,050,624 + FFN 2,099,712 + 2 LayerNorms 2,048) = 18,914,304
    6 decoder layers x 4,204,032    (2 attentions 2,101,248 + FFN 2,099,712 + 3 LayerNorms 3,072) = 25,224,192
The paper's Table 3 reports "65 x 10^6" for the base model (and 213 x 10^6 for the big one, where the same
count gives 214,245,376) without its arithmetic, and describes the vocabulary only as "about 37000 tokens".
The two gaps go in opposite directions, so we do not claim to reproduce the paper's figures exactly.
Untying the output layer would add 18.9M.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .checks import check_finite_output, check_real_tokens
from .config import TransformerConfig
from .decoder import Decoder, KVCache
from .embeddings import TokenEmbedding
from .encoder import Encoder
from .masks import causal_mask, check_token_ids, padding_mask, target_mask
from .positional_encoding import LearnedPositionalEncoding, PositionalEncoding


@dataclass
class AttentionWeights:
    """Every layer's per-head attention weights from one forward pass.

    encoder_self: N tensors (B, H, S, S); decoder_self: N tensors (B, H, T, T); cross: N tensors (B, H, T, S).
    """

    encoder_self: list[Tensor]
    decoder_self: list[Tensor]
    cross: list[Tensor]

    def example(self, i: int) -> "AttentionWeights":
        """Batch item i as a batch of one: the per-layer (1, H, L, L) tensors bertviz takes."""
        batch = self.encoder_self[0].shape[0] if self.encoder_self else self.decoder_self[0].shape[0]
        if not 0 <= i < batch:
            raise ValueError(f"example index must be in [0, {batch - 1}], got {i}")
        pick = lambda ws: [w[i:i + 1].detach() for w in ws]  # noqa: E731
        return AttentionWeights(pick(self.encoder_self), pick(self.decoder_self), pick(self.cross))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable numbers; a matrix shared by several layers counts once."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"count_parameters needs an nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise ValueError(f"Transformer needs a TransformerConfig, got {type(config).__name__}")
        c = self.config = config
        self.src_embed = TokenEmbedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = self.src_embed if c.share_embeddings else TokenEmbedding(c.tgt_vocab_size, c.d_model)
        positions = PositionalEncoding if c.positional == "sinusoidal" else LearnedPositionalEncoding
        self.src_position = positions(c.d_model, c.max_len, c.dropout)
        self.tgt_position = positions(c.d_model, c.max_len, c.dropout)
        stack = dict(d_model=c.d_model, n_heads=c.n_heads, d_ff=c.d_ff, dropout=c.dropout, norm_first=c.norm_first,
                     final_norm=c.final_norm, activation=c.activation, attention_dropout=c.attention_dropout,
                     layer_norm_eps=c.layer_norm_eps)
        self.encoder = Encoder(c.n_encoder_layers, **stack)
        self.decoder = Decoder(c.n_decoder_layers, **stack)
        for p in [*self.encoder.parameters(), *self.decoder.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)  # Glorot init for every weight matrix, as nn.Transformer does
        self.output = nn.Linear(c.d_model, c.tgt_vocab_size, bias=False)  # the pre-softmax linear layer
        if c.share_embeddings:
            self.output.weight = self.tgt_embed.weight  # section 3.4: one matrix for both embeddings and output
        else:
            nn.init.normal_(self.output.weight, std=c.d_model ** -0.5)

    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: src_ids (B, S) -> memory (B, S, D) [, N encoder weights (B, H, S, S)].
        src_mask defaults to the padding mask built from config.pad_id. Every source needs a real token: a
        row of padding only has nothing to attend to (ValueError)."""
        check_token_ids(src_ids, self.config.src_vocab_size, "src_ids")
        check_real_tokens(src_ids, self.config.pad_id, "src_ids")
        if src_mask is None:
            src_mask = padding_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        x = self.src_position(self.src_embed(src_ids))  # (B, S, D)
        result = self.encoder(x, src_mask, return_attention=return_attention)
        check_finite_output(self, result[0] if return_attention else result, "memory (Transformer.encode's output)")
        return result

    def decode(self, tgt_ids: Tensor, memory: Tensor, src_mask: Tensor | None = None,
               tgt_mask: Tensor | None = None, cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: tgt_ids (B, T), memory (B, S, D), src_mask (B, 1, 1, S) -> logits (B, T, V)
        [, decoder self weights, cross weights].

        src_mask None lets every memory position be attended (pass the encoder's padding mask).
        tgt_mask None builds padding + causal masks from tgt_ids. With a `cache` (from `new_cache()`),
        tgt_ids holds only the new tokens, which take positions after the cached ones.
        """
        check_token_ids(tgt_ids, self.config.tgt_vocab_size, "tgt_ids")
        start = 0 if cache is None else cache.length
        if tgt_mask is None:
            if cache is None:
                tgt_mask = target_mask(tgt_ids, self.config.pad_id)  # (B, 1, T, T)
            elif tgt_ids.shape[1] > 1:
                tgt_mask = causal_mask(start + tgt_ids.shape[1], tgt_ids.device)[:, :, start:]  # (1, 1, T, start+T)
            # one new token with a cache: every cached position is in its past, so no mask is needed
        y = self.tgt_position(self.tgt_embed(tgt_ids), start=start)  # (B, T, D)
        result = self.decoder(y, memory, src_mask, tgt_mask, return_attention=return_attention, cache=cache)
        logits = self.output(result[0] if return_attention else result)  # (B, T, V)
        check_finite_output(self, logits, "logits (Transformer.decode's output)")
        return (logits, *result[1:]) if return_attention else logits

    def new_cache(self) -> KVCache:
        """An empty key/value cache for step-by-step decoding (see decoding.py)."""
        return self.decoder.new_cache()

    def forward(self, src_ids: Tensor, tgt_ids: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: src_ids (B, S), tgt_ids (B, T) -> logits (B, T, V) [, AttentionWeights].

        Masks default to those built from config.pad_id: src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T).
        The logits are unnormalized; softmax over the last axis gives next-token probabilities.
        """
        check_token_ids(src_ids, self.config.src_vocab_size, "src_ids")
        check_token_ids(tgt_ids, self.config.tgt_vocab_size, "tgt_ids")
        if src_ids.shape[0] != tgt_ids.shape[0]:
            raise ValueError(f"src_ids and tgt_ids must have the same batch size, got {src_ids.shape[0]} "
                             f"and {tgt_ids.shape[0]}")
        if src_mask is None:
            src_mask = padding_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        if not return_attention:
            return self.decode(tgt_ids, self.encode(src_ids, src_mask), src_mask, tgt_mask)
        memory, enc_weights = self.encode(src_ids, src_mask, return_attention=True)
        logits, self_weights, cross_weights = self.decode(tgt_ids, memory, src_mask, tgt_mask, return_attention=True)
        return logits, AttentionWeights(enc_weights, self_weights, cross_weights)
