"""Copy weights between our modules and PyTorch's nn.MultiheadAttention / nn.Transformer.

Used to prove that our from-scratch stacks compute exactly what torch's do. The correspondence:
    ours MultiHeadAttention w_q, w_k, w_v  <->  torch in_proj_weight / in_proj_bias (the three stacked)
    ours w_o                               <->  torch out_proj
    EncoderLayer self_attn, feed_forward.w_1/w_2, self_attn_norm, ff_norm
        <->  TransformerEncoderLayer self_attn, linear1/linear2, norm1, norm2
    DecoderLayer self_attn, cross_attn, feed_forward, self_attn_norm, cross_attn_norm, ff_norm
        <->  TransformerDecoderLayer self_attn, multihead_attn, linear1/linear2, norm1, norm2, norm3
    Encoder/Decoder final_norm             <->  nn.Transformer encoder.norm / decoder.norm
nn.Transformer always ends each stack with a LayerNorm, so our stacks need final_norm=True to match it.
Its boolean masks mean True = blocked, the opposite of ours (see masks.py).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import TransformerConfig
from .decoder import Decoder
from .encoder import Encoder
from .multi_head_attention import MultiHeadAttention

Pair = tuple[list[Tensor], Tensor]  # our tensors (stacked along dim 0) <-> one torch tensor


def _attention_pairs(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> list[Pair]:
    if ours.d_model != theirs.embed_dim or ours.n_heads != theirs.num_heads:
        raise ValueError(f"attention shapes differ: ours d_model={ours.d_model}, n_heads={ours.n_heads}; "
                         f"torch embed_dim={theirs.embed_dim}, num_heads={theirs.num_heads}")
    if theirs.in_proj_weight is None or theirs.in_proj_bias is None or ours.w_q.bias is None:
        raise ValueError("only attention with equal q/k/v sizes and biases (torch's default) can be copied")
    return [([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight], theirs.in_proj_weight),
            ([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias], theirs.in_proj_bias),
            ([ours.w_o.weight], theirs.out_proj.weight),
            ([ours.w_o.bias], theirs.out_proj.bias)]


def _module_pairs(ours: nn.Module, theirs: nn.Module) -> list[Pair]:
    return [([ours.weight], theirs.weight), ([ours.bias], theirs.bias)]


def _check_same_computation(ours: nn.Module, theirs: nn.Module) -> None:
    """Equal weights give equal outputs only if both layers also order LayerNorm, activation and eps alike."""
    ours_norm = ours.ff_norm
    ours_act = type(ours.feed_forward.activation).__name__.lower()  # "relu" or "gelu"
    theirs_act = getattr(theirs.activation, "__name__", type(theirs.activation).__name__).lower()  # F.relu or a module
    settings = {"norm_first": (ours.norm_first, theirs.norm_first),
                "activation": (ours_act, theirs_act),
                "layer_norm_eps": (ours_norm.eps, theirs.norm1.eps)}
    differ = {name: pair for name, pair in settings.items() if pair[0] != pair[1]}
    if differ:
        raise ValueError("the two models compute different functions, so copying weights would not make them equal: "
                         + ", ".join(f"{name} ours {a!r}, torch {b!r}" for name, (a, b) in differ.items()))


def _stack_pairs(encoder: Encoder, decoder: Decoder, transformer: nn.Transformer) -> list[Pair]:
    t_enc, t_dec = transformer.encoder, transformer.decoder
    if len(encoder.layers) != len(t_enc.layers) or len(decoder.layers) != len(t_dec.layers):
        raise ValueError(f"layer counts differ: ours {len(encoder.layers)}+{len(decoder.layers)}, "
                         f"torch {len(t_enc.layers)}+{len(t_dec.layers)}")
    if encoder.final_norm is None or decoder.final_norm is None:
        raise ValueError("nn.Transformer ends each stack with a LayerNorm: build ours with final_norm=True")
    for ours, theirs in zip([*encoder.layers, *decoder.layers], [*t_enc.layers, *t_dec.layers]):
        _check_same_computation(ours, theirs)
    pairs: list[Pair] = []
    for ours, theirs in zip(encoder.layers, t_enc.layers):
        pairs += _attention_pairs(ours.self_attn, theirs.self_attn)
        pairs += _module_pairs(ours.feed_forward.w_1, theirs.linear1) + _module_pairs(ours.feed_forward.w_2, theirs.linear2)
        pairs += _module_pairs(ours.self_attn_norm, theirs.norm1) + _module_pairs(ours.ff_norm, theirs.norm2)
    for ours, theirs in zip(decoder.layers, t_dec.layers):
        pairs += _attention_pairs(ours.self_attn, theirs.self_attn)
        pairs += _attention_pairs(ours.cross_attn, theirs.multihead_attn)
        pairs += _module_pairs(ours.feed_forward.w_1, theirs.linear1) + _module_pairs(ours.feed_forward.w_2, theirs.linear2)
        pairs += _module_pairs(ours.self_attn_norm, theirs.norm1) + _module_pairs(ours.cross_attn_norm, theirs.norm2)
        pairs += _module_pairs(ours.ff_norm, theirs.norm3)
    pairs += _module_pairs(encoder.final_norm, t_enc.norm) + _module_pairs(decoder.final_norm, t_dec.norm)
    return pairs


@torch.no_grad()
def _copy(pairs: list[Pair], to_torch: bool) -> None:
    for ours, theirs in pairs:
        sizes = [t.shape[0] for t in ours]
        if sum(sizes) != theirs.shape[0] or ours[0].shape[1:] != theirs.shape[1:]:
            raise ValueError(f"cannot copy: our shapes {[tuple(t.shape) for t in ours]} vs torch {tuple(theirs.shape)}")
        if to_torch:
            theirs.copy_(torch.cat(list(ours), dim=0))
        else:
            for mine, part in zip(ours, theirs.split(sizes, dim=0)):
                mine.copy_(part)


def copy_attention_to_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    _copy(_attention_pairs(ours, theirs), to_torch=True)


def copy_attention_from_torch(theirs: nn.MultiheadAttention, ours: MultiHeadAttention) -> None:
    _copy(_attention_pairs(ours, theirs), to_torch=False)


def copy_stacks_to_torch(encoder: Encoder, decoder: Decoder, transformer: nn.Transformer) -> None:
    """Overwrite `transformer`'s encoder and decoder weights with ours."""
    _copy(_stack_pairs(encoder, decoder, transformer), to_torch=True)


def copy_stacks_from_torch(transformer: nn.Transformer, encoder: Encoder, decoder: Decoder) -> None:
    """Overwrite our encoder and decoder weights with `transformer`'s."""
    _copy(_stack_pairs(encoder, decoder, transformer), to_torch=False)


def torch_transformer_like(config: TransformerConfig) -> nn.Transformer:
    """An nn.Transformer (batch_first) with the same sizes, activation, dropout and LayerNorm placement.

    Its encoder's nested-tensor fast path is switched off: that path returns zeros at padded positions
    (and warns that nested tensors are a prototype), while ours computes them like every other position.
    """
    if not isinstance(config, TransformerConfig):
        raise ValueError(f"torch_transformer_like needs a TransformerConfig, got {type(config).__name__}")
    transformer = nn.Transformer(
        d_model=config.d_model, nhead=config.n_heads, num_encoder_layers=config.n_encoder_layers,
        num_decoder_layers=config.n_decoder_layers, dim_feedforward=config.d_ff, dropout=config.dropout,
        activation=config.activation, batch_first=True, norm_first=config.norm_first,
        layer_norm_eps=config.layer_norm_eps)
    transformer.encoder.enable_nested_tensor = transformer.encoder.use_nested_tensor = False
    return transformer
