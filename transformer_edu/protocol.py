"""What a model must offer for the package's tools to use it (no paper section: the book's own interface).

Decoding, beam search, evaluation, ablation, checkpoints and the views take any model with these few
attributes, not one concrete class. Transformer (model.py) is the encoder-decoder of the paper; a model built
from the same Block in another arrangement (decoder-only, encoder-only) answers the same questions.

    config              its frozen configuration (a BlockConfig; here a TransformerConfig: vocabularies,
                        max_len and the special ids pad_id, bos_id, eos_id)
    new_cache()         an empty KVCache for step-by-step decoding (kv_cache.py); an encoder-only BERT has no
                        steps, and its new_cache raises ValueError (bert.py)
    attention_layers()  {kind: [MultiHeadAttention per layer]} with the kinds of AttentionWeights
                        ("encoder_self", "decoder_self", "cross"), for ablation and the views
    encode, decode      source ids -> memory; target ids and memory -> logits (Seq2SeqModel only)

Model is the first three: what checkpoints and head ablation need, which a decoder-only GPT (gpt.py) and an
encoder-only BERT (bert.py) have too. Seq2SeqModel adds encode and decode: what decoding, beam search and
evaluation need.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


MODEL_NAMES = ("config", "new_cache", "attention_layers")
SEQ2SEQ_NAMES = MODEL_NAMES + ("encode", "decode")


@runtime_checkable
class Model(Protocol):
    """Any model of the package: transformer_edu.Transformer, gpt.GPT, or a module with the same attributes."""

    config: object

    def new_cache(self): ...

    def attention_layers(self) -> dict: ...


@runtime_checkable
class Seq2SeqModel(Model, Protocol):
    """An encoder-decoder model: transformer_edu.Transformer, or any module with the same attributes."""

    def encode(self, src_ids, src_mask=None, return_attention=False): ...

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False): ...
