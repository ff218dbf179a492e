"""A decoder-only language model (Part IV), built from the same Block as the 2017 paper's decoder.

The paper's decoder layer without its encoder-decoder attention is a language model on its own: masked
self-attention lets position t see positions 0 .. t only, so the logits at t score the token that follows
u_0 .. u_t, and one pass over a text trains every next-token prediction in it at once. All of this is later
than 2017:
- Liu et al. (2018), "Generating Wikipedia by Summarizing Long Sequences": a Transformer decoder with no
  encoder, which GPT-1 cites for its architecture.
- Radford et al. (2018), GPT-1, "Improving Language Understanding by Generative Pre-Training": 12 such layers
  (d_model 768, 12 heads, d_ff 3072), learned position embeddings instead of sinusoids, GELU instead of ReLU,
  post-LN as in the 2017 paper, a 512-token context, the output layer tied to the token embedding.
- Radford et al. (2019), GPT-2, "Language Models are Unsupervised Multitask Learners": LayerNorm moved to the
  input of each sub-block (pre-LN) and one added after the last block (final_norm), residual weights scaled
  by 1/sqrt(N) at initialisation (not done here), a 1024-token context, 50,257 tokens.
Unlike GPT-1 and GPT-2, the model keeps the package's choices (embeddings x sqrt(D) as in section 3.4, Xavier
initialisation as Transformer does) and its GELU is the exact erf form (their code used a tanh approximation).
A right-padded batch needs only the causal mask (a real token never sees a later pad); a training loss should
ignore the targets equal to pad_id.

generate() samples a continuation (temperature, top-k: Fan et al. 2018, top-p: Holtzman et al. 2020).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .block import Block, Stack, check_cache
from .checks import (check_bool, check_finite_output, check_int, check_number, check_positions, check_token_ids,
                     check_weights_computed, checked_by, trusted)
from .config import PAD_ID, BlockConfig, check_one_stack_fields
from .decoding import draw, inference, next_token_probabilities
from .devices import model_device
from .devices import check_same_device
from .embeddings import TokenEmbedding
from .kv_cache import KVCache
from .masks import causal_mask
from .model import init_weights
from .multi_head_attention import MultiHeadAttention
from .positional_encoding import PositionalEncoding


@dataclass(frozen=True)
class GPTConfig(BlockConfig):
    """A decoder-only model: the block settings (BlockConfig, the 2017 base values) and these."""

    vocab_size: int = 37000  # the 2017 paper's BPE vocabulary; GPT-1 had 40,478 tokens, GPT-2 50,257
    n_layers: int = 6  # N, as in the paper's decoder; GPT-1 and GPT-2 small have 12
    max_len: int = 1024  # the context: the most tokens the model sees at once (GPT-1 512, GPT-2 1024)
    pad_id: int = PAD_ID  # fills a short sequence in a batch; the loss ignores it
    positional: str = "sinusoidal"  # the 2017 paper's; "learned" is GPT-1's and GPT-2's; "rope": rotary.py
    share_embeddings: bool = True  # output layer = token embedding, as in the paper (3.4) and GPT-1, GPT-2
    final_norm: bool = False  # a LayerNorm after the last block: GPT-2's, needed with pre-LN (norm_first)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_one_stack_fields(self, "GPTConfig")

    # checkpoint.py reads the encoder-decoder's two vocabulary sizes; a language model has one for both
    src_vocab_size = tgt_vocab_size = property(lambda self: self.vocab_size)

    @classmethod
    def small(cls, vocab_size: int = 64, **changes) -> "GPTConfig":
        """nanoGPT's CPU recipe (4 layers, 4 heads, d_model 128, context 64, no dropout), for the chapters."""
        values = dict(vocab_size=vocab_size, d_model=128, n_heads=4, d_ff=512, n_layers=4, max_len=64, dropout=0.0)
        return cls(**{**values, **changes})

    @classmethod
    def gpt1(cls, **changes) -> "GPTConfig":
        """GPT-1's sizes and choices (not its initialisation): 116,534,784 parameters."""
        values = dict(vocab_size=40478, d_model=768, n_heads=12, d_ff=3072, n_layers=12, max_len=512,
                      activation="gelu", positional="learned", attention_dropout=0.1)
        return cls(**{**values, **changes})


class GPT(nn.Module):
    """Token embedding + positions -> N causal Blocks (no cross-attention) -> [LayerNorm] -> linear -> logits."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        c = self.config = config
        self.embed = TokenEmbedding(c.vocab_size, c.d_model)
        rotary = c.positional == "rope"  # rotary positions act inside every self-attention, none are added
        self.position = None if rotary else PositionalEncoding(c.d_model, c.max_len, c.dropout,
                                                               learned=c.positional == "learned")
        self.embed_dropout = nn.Dropout(c.dropout) if rotary else None  # what PositionalEncoding drops otherwise
        self.decoder = Stack([Block(cross_attention=False, causal=True, rotary=rotary, **c.block_settings())
                              for _ in range(c.n_layers)], final_norm=c.final_norm)
        self.output = init_weights([self.decoder], self.embed, c.share_embeddings)  # as Transformer does

    @checked_by("check_forward")
    def forward(self, ids: Tensor, cache: KVCache | None = None, return_attention: bool = False):
        """Shapes: ids (B, T) -> logits (B, T, V) [, AttentionWeights: decoder_self N x (B, H, T, start + T)].

        Logits at position t score the token after ids[:, t]. With a `cache` (from new_cache()), ids are the new
        tokens only, at positions start = cache.length onwards, and attend to the cached ones too.
        """
        start = 0 if cache is None else cache.length
        if self.position is not None:
            x = self.position(self.embed(ids), start=start)  # (B, T, D)
        else:  # rotary positions: added inside the attention
            x = self.embed_dropout(self.embed(ids))  # (B, T, D)
        mask = causal_mask(start + ids.shape[1], ids.device)[:, :, start:]  # (1, 1, T, start + T)
        x, weights = self.decoder(x, mask, cache=cache, return_attention=True)  # (B, T, D)
        logits = self.output(x)  # (B, T, V)
        check_finite_output(self, logits, "logits (GPT.forward's output)")
        return (logits, weights) if return_attention else logits

    def new_cache(self) -> KVCache:
        """An empty key/value cache for generation step by step."""
        return KVCache()

    def attention_layers(self) -> dict[str, list[MultiHeadAttention]]:
        """Every attention module by kind, as in AttentionWeights (a GPT has only "decoder_self")."""
        return {"decoder_self": [layer.self_attn for layer in self.decoder.layers]}

    def check_forward(self, ids, cache=None, return_attention=False) -> None:
        check_weights_computed(self.config, return_attention)
        check_token_ids(ids, self.config.vocab_size, "ids")
        check_same_device(self, ids, "ids")
        if cache is not None:
            check_cache(cache, ids.shape[0], None)
        check_positions(0 if cache is None else cache.length, ids.shape[1], self.config.max_len)


def generate(model: nn.Module, prompt_ids: Tensor, max_new_tokens: int, temperature: float | None = 1.0,
             top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True) -> Tensor:
    """Continue each prompt by max_new_tokens tokens. Shapes: prompt_ids (B, T) -> ids (B, T + max_new_tokens).

    temperature None decodes greedily (the most probable token, the lowest id among exact ties: the limit of
    temperature -> 0); otherwise each token is drawn from next_token_probabilities (pass a torch.Generator to
    repeat the draws). No token is special: generation never stops early and may produce any id.
    The context is at most config.max_len tokens: the model sees the last max_len tokens only (nanoGPT's crop),
    with positions 0 .. max_len - 1. Once the sequence is longer, every step shifts every token's position, so
    the cache no longer applies: each step then recomputes the whole window, with or without use_cache.
    """
    if not (isinstance(model, nn.Module) and isinstance(getattr(model, "config", None), GPTConfig)
            and hasattr(model, "new_cache")):
        raise ValueError(f"model must be a decoder-only language model (a GPT: an nn.Module with a GPTConfig "
                         f"`config` and new_cache()), got {type(model).__name__}")
    vocab_size, max_len = model.config.vocab_size, model.config.max_len
    check_token_ids(prompt_ids, vocab_size, "prompt_ids")
    check_int("max_new_tokens", max_new_tokens, 0)
    if temperature is not None:
        check_number("temperature (None decodes greedily)", temperature, 0, low_open=True)
    if top_k is not None:
        check_int("top_k", top_k, 1, vocab_size, " (None keeps the whole vocabulary)")
    if top_p is not None:
        check_number("top_p (None keeps the whole vocabulary)", top_p, 0, 1, low_open=True)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    check_bool("use_cache", use_cache)
    ids = prompt_ids.to(model_device(model))  # ids from a tokenizer are on the CPU
    with inference(model), trusted():  # checked above; every new id comes from the vocabulary
        cache = model.new_cache() if use_cache else None
        for _ in range(max_new_tokens):
            if cache is not None and ids.shape[1] <= max_len:  # feed what the cache has not seen
                logits = model(ids[:, cache.length:], cache=cache)[:, -1]  # (B, V)
            else:  # the last max_len tokens, from position 0
                logits = model(ids[:, -max_len:])[:, -1]  # (B, V)
            if temperature is None:
                token = logits.argmax(dim=-1)  # (B,)
            else:
                probs = next_token_probabilities(logits, temperature, top_k, top_p)  # (B, V)
                token = draw(probs, generator)  # (B,), with the generator on its own device
            ids = torch.cat([ids, token[:, None]], dim=1)  # (B, t + 1)
    return ids.clone()
