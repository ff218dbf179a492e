"""Checks of the track's layers, stacks, full model and key/value cache (see checks_parts.py for the pattern)."""
from __future__ import annotations

import torch

from .. import decoder, encoder, masks, multi_head_attention
from ..config import TransformerConfig
from ..exercises._check import Feedback, compare_tensors, correct, not_yet
from ..model import Transformer
from .checks_parts import copy_weights, same, seeded

D, H, F = 16, 4, 32
SRC = torch.tensor([[5, 6, 7, 8, 0, 0, 0], [5, 6, 7, 8, 9, 10, 11]])  # (2, 7), padded
TGT = torch.tensor([[1, 5, 6, 0, 0], [1, 7, 8, 9, 10]])  # (2, 5), padded


def _layers(mine_class, our_class, norm_first: bool):
    ours = our_class(D, H, F, dropout=0.0, norm_first=norm_first).double().eval()
    theirs = mine_class(D, H, F, 0.0, norm_first)
    return ours, theirs, copy_weights(theirs, ours)


def _compare_orders(what, call, mine_class, our_class) -> Feedback | None:
    """Both Add & Norm orders; recognises post-LN and pre-LN swapped."""
    for norm_first in (False, True):
        ours, theirs, problem = _layers(mine_class, our_class, norm_first)
        if problem is not None:
            return problem
        got, expected = call(theirs), call(ours)
        if same(got, expected, 1e-8):
            continue
        other = our_class(D, H, F, dropout=0.0, norm_first=not norm_first).double().eval()
        other.load_state_dict(ours.state_dict())  # the same weights in the other order
        name = "pre-LN" if norm_first else "post-LN"
        if same(got, call(other), 1e-8):
            return not_yet(f"{what} with norm_first={norm_first} computes {'post-LN' if norm_first else 'pre-LN'}: "
                           f"post-LN and pre-LN are swapped. The paper's post-LN is x = LayerNorm(x + "
                           f"Dropout(Sublayer(x))); pre-LN is x = x + Dropout(Sublayer(LayerNorm(x)))")
        return compare_tensors(f"{what} ({name})", got, expected, 1e-8) or not_yet(
            f"{what} ({name}) differs from the book's layer with the same weights")
    return None


def _uses_dropout(layer, call) -> bool:
    """In training mode with dropout 0.5, two calls differ (the layer applies its dropout)."""
    layer.train()
    for module in layer.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.5
    torch.manual_seed(0)
    first = call(layer)
    return not same(first, call(layer), 1e-12)


def check_encoder_layer(mine) -> Feedback:
    x, mask = seeded(2, 7, D), masks.padding_mask(SRC, 0)
    problem = _compare_orders("EncoderLayer", lambda layer: layer(x, mask), mine.encoder.EncoderLayer,
                              encoder.EncoderLayer)
    if problem is not None:
        return problem
    _, theirs, _ = _layers(mine.encoder.EncoderLayer, encoder.EncoderLayer, False)
    if not _uses_dropout(theirs, lambda layer: layer(x, mask)):
        return not_yet("in training mode the layer gives the same output twice with dropout 0.5: apply "
                       "self.dropout to each sub-layer's output before adding it (section 5.4)")
    return correct("self-attention and feed-forward, each in Add & Norm, in both orders, with dropout.")


def check_encoder(mine) -> Feedback:
    ours = encoder.Encoder(2, D, H, F, dropout=0.0).double().eval()
    theirs = mine.encoder.Encoder(2, D, H, F, 0.0)
    problem = copy_weights(theirs, ours)
    if problem is not None:
        return problem
    x, mask = seeded(2, 7, D), masks.padding_mask(SRC, 0)
    got = theirs(x, mask)
    if same(got, ours.layers[0](x, mask), 1e-8):
        return not_yet("only the first layer's output came back: feed each layer's output to the next")
    if same(got, ours.layers[1](x, mask), 1e-8):
        return not_yet("each layer read the stack's input: feed each layer's output to the next")
    return compare_tensors("Encoder(2 layers)'s output", got, ours(x, mask), 1e-8) or correct(
        "N layers in turn, each with its own weights.")


def check_decoder_layer(mine) -> Feedback:
    y, memory = seeded(2, 5, D), seeded(2, 7, D, seed=1)
    tgt_mask, src_mask = masks.target_mask(TGT, 0), masks.padding_mask(SRC, 0)
    problem = _compare_orders("DecoderLayer", lambda layer: layer(y, tgt_mask, memory, src_mask),
                              mine.decoder.DecoderLayer, decoder.DecoderLayer)
    if problem is None:
        return correct("masked self-attention, encoder-decoder attention on the memory, feed-forward.")
    ours, theirs, _ = _layers(mine.decoder.DecoderLayer, decoder.DecoderLayer, False)
    got = theirs(y, tgt_mask, memory, src_mask)
    h = ours.self_attn_norm(y + ours.self_attn(y, y, y, tgt_mask))
    h2 = ours.cross_attn_norm(h + ours.cross_attn(h, h, h, None))  # keys and values from the decoder
    if same(got, ours.ff_norm(h2 + ours.feed_forward(h2)), 1e-8):
        return not_yet("DecoderLayer: the encoder-decoder attention took its keys and values from the decoder; "
                       "they come from the memory (the encoder's output): cross_attn(h, memory, memory, src_mask)")
    return problem


def check_decoder(mine) -> Feedback:
    ours = decoder.Decoder(2, D, H, F, dropout=0.0).double().eval()
    theirs = mine.decoder.Decoder(2, D, H, F, 0.0)
    problem = copy_weights(theirs, ours)
    if problem is not None:
        return problem
    y, memory = seeded(2, 5, D), seeded(2, 7, D, seed=1)
    args = (y, memory, masks.padding_mask(SRC, 0), masks.target_mask(TGT, 0))
    return compare_tensors("Decoder(2 layers)'s output", theirs(*args), ours(*args), 1e-8,
                           hint="Every layer reads the same memory, the encoder's output.") or correct(
        "N decoder layers in turn, all reading the same memory.")


def small_config(**changes) -> TransformerConfig:
    settings = dict(src_vocab_size=13, tgt_vocab_size=13, d_model=D, n_heads=H, d_ff=F, n_encoder_layers=2,
                    n_decoder_layers=2, dropout=0.0, max_len=16)
    return TransformerConfig(**{**settings, **changes})


def model_pair(mine, seed: int = 0):
    torch.manual_seed(seed)
    ours = Transformer(small_config()).double().eval()
    theirs = mine.model.Transformer(small_config())
    return ours, theirs, copy_weights(theirs, ours)


def check_model(mine) -> Feedback:
    ours, theirs, problem = model_pair(mine)
    if problem is not None:
        return problem
    memory = theirs.encode(SRC)
    expected_memory = ours.encode(SRC)
    if same(memory, ours.encoder(ours.src_embed(SRC), masks.padding_mask(SRC, 0)), 1e-8):
        return not_yet("encode: the positions were not added; embed, then src_position, then the encoder")
    problem = compare_tensors("encode(src_ids)'s memory", memory, expected_memory, 1e-8,
                              hint="embed (the given src_embed scales by sqrt(d_model)), add positions, encode "
                                   "with the padding mask")
    if problem is not None:
        return problem
    problem = compare_tensors("decode(tgt_ids, memory, src_mask)'s logits",
                              theirs.decode(TGT, expected_memory, masks.padding_mask(SRC, 0)),
                              ours.decode(TGT, expected_memory, masks.padding_mask(SRC, 0)), 1e-8,
                              hint="embed and add positions, decode with target_mask(tgt_ids, pad_id) when tgt_mask "
                                   "is None, then the output layer")
    if problem is not None:
        return problem
    return compare_tensors("forward(src_ids, tgt_ids)'s logits", theirs(SRC, TGT), ours(SRC, TGT), 1e-8) or correct(
        "embeddings x sqrt(d_model) + positions, encoder, decoder, tied output layer: equal to the book's model.")


def check_kv_cache(mine) -> Feedback:
    cache = mine.kv_cache.AttentionCache()
    k1, k2 = seeded(1, 2, 3, 4), seeded(1, 2, 1, 4, seed=1)
    got = cache.add(k1, k1.clone())
    got = cache.add(k2, k2.clone())
    if not isinstance(got, tuple) or len(got) != 2:
        return not_yet("AttentionCache.add should return the pair (keys, values) kept so far")
    if isinstance(got[0], torch.Tensor) and got[0].shape[2] == 5:
        return not_yet("after adding 3 positions and then 1 the cache holds 5: the keys were appended twice (add "
                       "them once, and keep the result in self.k and self.v)")
    problem = compare_tensors("the keys after adding 3 positions, then 1", got[0], torch.cat([k1, k2], dim=2))
    if problem is not None:
        return problem
    static = mine.kv_cache.AttentionCache(static=True)
    static.add(k1, k1)
    if static.add(k1, k1)[0].shape[2] != 3:
        return not_yet("a static cache (cross-attention) stores the memory's keys once; adding again replaces them")
    ours = multi_head_attention.MultiHeadAttention(D, H).double().eval()
    theirs = mine.multi_head_attention.MultiHeadAttention(D, H)
    copy_weights(theirs, ours)
    x = seeded(2, 5, D)
    full = ours(x, x, x, masks.causal_mask(5))
    step_cache, steps = mine.kv_cache.AttentionCache(), []
    for t in range(5):
        steps.append(theirs.forward_cached(x[:, t:t + 1], x[:, t:t + 1], x[:, t:t + 1], cache=step_cache))
    problem = compare_tensors("forward_cached one position at a time (self-attention)", torch.cat(steps, dim=1),
                              full, 1e-8, hint="each step should attend to every position kept so far")
    if problem is not None:
        return problem
    ours_model, theirs_model, _ = model_pair(mine)
    memory = ours_model.encode(SRC[1:])
    expected = ours_model.decode(TGT[1:], memory)
    cache, logits = theirs_model.new_cache(), []
    for t in range(TGT.shape[1]):
        logits.append(theirs_model.decode(TGT[1:, t:t + 1], memory, cache=cache))
    return compare_tensors("the model's decode one token at a time with a cache", torch.cat(logits, dim=1), expected,
                           1e-8, hint="the decoder layers pass cache.of(self.self_attn) and cache.of(self.cross_attn, "
                                      "static=True) to forward_cached; the new token's position is cache.length") or \
        correct("cached decoding gives the logits of full decoding, one token at a time.")

