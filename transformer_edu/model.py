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

The three entry points (forward, encode, decode) check their inputs once (ids, masks, lengths, the cache)
and the layers inside trust them (checks.py); the model's outputs are checked for NaN and inf.
"""
from __future__ import annotations

from torch import Tensor, nn

from .block import AttentionWeights, check_cache
from .checks import (check_features, check_finite_output, check_mask, check_positions, check_real_tokens,
                     check_token_ids, check_weights_computed, checked_by, weight_dtype)
from .config import TransformerConfig
from .decoder import Decoder
from .devices import check_same_device
from .embeddings import TokenEmbedding
from .encoder import Encoder
from .kv_cache import KVCache
from .masks import causal_mask, padding_mask, target_mask
from .multi_head_attention import MultiHeadAttention
from .positional_encoding import PositionalEncoding


def count_parameters(module: nn.Module) -> int:
    """Number of trainable numbers; a matrix shared by several layers counts once."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"count_parameters needs an nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def init_weights(stacks: list[nn.Module], embedding: TokenEmbedding, share_embeddings: bool) -> nn.Linear:
    """Glorot (Xavier) uniform initialisation for every weight matrix of `stacks`, in order, as nn.Transformer
    does; then the pre-softmax linear layer, returned: with share_embeddings it uses the embedding's (V, D)
    matrix (section 3.4), otherwise a matrix of its own drawn with std d_model^-0.5. The paper does not say how
    it initialised; Transformer and gpt.GPT share this, and draw their random numbers in this order."""
    for p in [p for stack in stacks for p in stack.parameters()]:
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    vocab_size, d_model = embedding.weight.shape
    output = nn.Linear(d_model, vocab_size, bias=False)  # the pre-softmax linear layer
    if share_embeddings:
        output.weight = embedding.weight  # one matrix for the embedding(s) and the output
    else:
        nn.init.normal_(output.weight, std=d_model ** -0.5)
    return output


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise ValueError(f"Transformer needs a TransformerConfig, got {type(config).__name__}")
        c = self.config = config
        self.src_embed = TokenEmbedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = self.src_embed if c.share_embeddings else TokenEmbedding(c.tgt_vocab_size, c.d_model)
        learned = c.positional == "learned"  # Table 3 row (E); the paper's model uses sinusoids
        self.src_position = PositionalEncoding(c.d_model, c.max_len, c.dropout, learned)
        self.tgt_position = PositionalEncoding(c.d_model, c.max_len, c.dropout, learned)
        self.encoder = Encoder(c.n_encoder_layers, final_norm=c.final_norm, **c.block_settings())
        self.decoder = Decoder(c.n_decoder_layers, final_norm=c.final_norm, **c.block_settings())
        self.output = init_weights([self.encoder, self.decoder], self.tgt_embed, c.share_embeddings)

    @checked_by("check_forward")
    def forward(self, src_ids: Tensor, tgt_ids: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: src_ids (B, S), tgt_ids (B, T) -> logits (B, T, V) [, AttentionWeights].

        Masks default to those built from config.pad_id: src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T).
        The logits are unnormalized; softmax over the last axis gives next-token probabilities.
        """
        if src_mask is None:
            src_mask = padding_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        if not return_attention:
            memory = self.encode(src_ids, src_mask)  # (B, S, D)
            return self.decode(tgt_ids, memory, src_mask, tgt_mask)  # (B, T, V)
        memory, enc_w = self.encode(src_ids, src_mask, return_attention=True)
        logits, dec_w = self.decode(tgt_ids, memory, src_mask, tgt_mask,
                                    return_attention=True)
        return logits, AttentionWeights.concat([enc_w, dec_w])

    @checked_by("check_encode")
    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None, return_attention: bool = False):
        """Shapes: src_ids (B, S) -> memory (B, S, D) [, AttentionWeights: encoder_self N x (B, H, S, S)].
        src_mask defaults to the padding mask built from config.pad_id. Every source needs a real token: a
        row of padding only has nothing to attend to (ValueError)."""
        if src_mask is None:
            src_mask = padding_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        x = self.src_position(self.src_embed(src_ids))  # (B, S, D)
        memory, weights = self.encoder(x, src_mask, return_attention=True)  # (B, S, D)
        check_finite_output(self, memory, "memory (Transformer.encode's output)")
        return (memory, weights) if return_attention else memory

    @checked_by("check_decode")
    def decode(self, tgt_ids: Tensor, memory: Tensor, src_mask: Tensor | None = None,
               tgt_mask: Tensor | None = None, cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: tgt_ids (B, T), memory (B, S, D), src_mask (B, 1, 1, S) -> logits (B, T, V)
        [, AttentionWeights: decoder_self N x (B, H, T, T), cross N x (B, H, T, S)].

        src_mask None lets every memory position be attended (pass the encoder's padding mask).
        tgt_mask None builds padding + causal masks from tgt_ids. With a `cache` (from `new_cache()`),
        tgt_ids holds only the new tokens, which take positions after the cached ones.
        """
        start = 0 if cache is None else cache.length
        if tgt_mask is None:
            tgt_mask = self.default_tgt_mask(tgt_ids, start)
        y = self.tgt_position(self.tgt_embed(tgt_ids), start=start)  # (B, T, D)
        y, weights = self.decoder(y, memory, src_mask, tgt_mask, cache, return_attention=True)  # (B, T, D)
        logits = self.output(y)  # (B, T, V)
        check_finite_output(self, logits, "logits (Transformer.decode's output)")
        return (logits, weights) if return_attention else logits

    def default_tgt_mask(self, tgt_ids: Tensor, start: int = 0) -> Tensor | None:
        """Padding + causal (B, 1, T, T) without a cache; with `start` positions cached, causal over the new
        ones (1, 1, T, start + T), or None for one new token: its past is everything cached."""
        if start == 0:
            return target_mask(tgt_ids, self.config.pad_id)  # (B, 1, T, T)
        if tgt_ids.shape[1] == 1:
            return None
        return causal_mask(start + tgt_ids.shape[1], tgt_ids.device)[:, :, start:]  # (1, 1, T, start + T)

    def new_cache(self) -> KVCache:
        """An empty key/value cache for step-by-step decoding (see decoding.py)."""
        return KVCache()

    def attention_layers(self) -> dict[str, list[MultiHeadAttention]]:
        """Every attention module by kind, as in AttentionWeights (for ablation and the views)."""
        return {"encoder_self": [layer.self_attn for layer in self.encoder.layers],
                "decoder_self": [layer.self_attn for layer in self.decoder.layers],
                "cross": [layer.cross_attn for layer in self.decoder.layers]}

    # --- input checks, once per entry point (checks.py) -----------------------------------------------------
    def check_forward(self, src_ids, tgt_ids, src_mask=None, tgt_mask=None, return_attention=False) -> None:
        self.check_encode(src_ids, src_mask, return_attention)
        check_token_ids(tgt_ids, self.config.tgt_vocab_size, "tgt_ids")
        if src_ids.shape[0] != tgt_ids.shape[0]:
            raise ValueError(f"src_ids and tgt_ids must have the same batch size, got {src_ids.shape[0]} "
                             f"and {tgt_ids.shape[0]}")
        self.check_target(tgt_ids, src_ids.shape[1], src_mask, tgt_mask, start=0)

    def check_encode(self, src_ids, src_mask=None, return_attention=False) -> None:
        check_weights_computed(self.config, return_attention)
        check_token_ids(src_ids, self.config.src_vocab_size, "src_ids")
        check_same_device(self, src_ids, "src_ids")
        check_real_tokens(src_ids, self.config.pad_id, "src_ids")
        check_positions(0, src_ids.shape[1], self.config.max_len)
        if src_mask is not None:
            check_mask(src_mask, (src_ids.shape[0], self.config.n_heads, src_ids.shape[1], src_ids.shape[1]),
                       "src_mask")

    def check_decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        check_weights_computed(self.config, return_attention)
        check_token_ids(tgt_ids, self.config.tgt_vocab_size, "tgt_ids")
        check_same_device(self, tgt_ids, "tgt_ids")
        check_features(memory, self.config.d_model, "memory", weight_dtype(self), finite=True,
                       hint=" (the output of Transformer.encode)")
        if memory.shape[0] != tgt_ids.shape[0]:
            raise ValueError(f"tgt_ids and memory must share the batch size, got {tgt_ids.shape[0]} and "
                             f"{memory.shape[0]}")
        if cache is not None:
            check_cache(cache, tgt_ids.shape[0], memory.shape[1])
        self.check_target(tgt_ids, memory.shape[1], src_mask, tgt_mask, 0 if cache is None else cache.length)

    def check_target(self, tgt_ids, src_length, src_mask, tgt_mask, start) -> None:
        b, t, h = tgt_ids.shape[0], tgt_ids.shape[1], self.config.n_heads
        check_positions(start, t, self.config.max_len)
        if src_mask is not None:
            check_mask(src_mask, (b, h, t, src_length), "src_mask")
        if tgt_mask is not None:
            check_mask(tgt_mask, (b, h, t, start + t), "tgt_mask")
