"""The whole encoder-decoder Transformer (chapter 10; paper section 3, Figure 1)."""
from __future__ import annotations

from torch import Tensor, nn

from transformer_edu.config import TransformerConfig
from transformer_edu.embeddings import TokenEmbedding
from transformer_edu.model import init_weights
from transformer_edu.track import todo

from .decoder import Decoder
from .encoder import Encoder
from .kv_cache import KVCache
from .masks import causal_mask, padding_mask, target_mask
from .positional_encoding import PositionalEncoding


class Transformer(nn.Module):
    """source ids -> embedding (x sqrt(d_model)) + positions -> encoder -> memory;
    target ids -> embedding + positions -> decoder (reads memory) -> linear -> logits."""

    def __init__(self, config: TransformerConfig):
        """Given: the parts, with one embedding matrix shared by source, target and output (section 3.4)."""
        super().__init__()
        c = self.config = config
        self.src_embed = TokenEmbedding(c.src_vocab_size, c.d_model)  # multiplies by sqrt(d_model)
        self.tgt_embed = self.src_embed if c.share_embeddings else TokenEmbedding(c.tgt_vocab_size, c.d_model)
        self.src_position = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.tgt_position = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        settings = dict(d_model=c.d_model, n_heads=c.n_heads, d_ff=c.d_ff, dropout=c.dropout, norm_first=c.norm_first)
        self.encoder = Encoder(c.n_encoder_layers, **settings)
        self.decoder = Decoder(c.n_decoder_layers, **settings)
        self.output = init_weights([self.encoder, self.decoder], self.tgt_embed, c.share_embeddings)

    def encode(self, src_ids: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """Shapes: src_ids (B, S) -> memory (B, S, D). src_mask None: padding_mask(src_ids, config.pad_id)."""
        todo("model")

    def decode(self, tgt_ids: Tensor, memory: Tensor, src_mask: Tensor | None = None,
               tgt_mask: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """Shapes: tgt_ids (B, T), memory (B, S, D) -> logits (B, T, V). tgt_mask None: target_mask(tgt_ids,
        config.pad_id). With a cache (chapter 12) tgt_ids holds the new tokens only, at positions
        cache.length onwards, and tgt_mask None means: no mask for one new token, else the causal rows
        causal_mask(start + T)[:, :, start:]."""
        todo("model")

    def forward(self, src_ids: Tensor, tgt_ids: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None) -> Tensor:
        """Shapes: src_ids (B, S), tgt_ids (B, T) -> logits (B, T, V): encode, then decode."""
        todo("model")

    def new_cache(self) -> KVCache:
        """Given: an empty cache for step-by-step decoding."""
        return KVCache()

    def attention_layers(self) -> dict[str, list[nn.Module]]:
        """Given: every attention module by kind (the book's model protocol)."""
        return {"encoder_self": [layer.self_attn for layer in self.encoder.layers],
                "decoder_self": [layer.self_attn for layer in self.decoder.layers],
                "cross": [layer.cross_attn for layer in self.decoder.layers]}
