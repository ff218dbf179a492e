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

from_hf_bert builds our BERT (bert.py) from a Hugging Face BertModel or BertForMaskedLM, weights included
(transformers is never imported here: the model is read through its attributes):
    embeddings.word_embeddings, position_embeddings, token_type_embeddings, LayerNorm
        <->  BERT embed, position (learned), token_type, embedding_norm
    encoder.layer[i] attention.self.query/key/value, attention.output.dense, attention.output.LayerNorm,
        intermediate.dense, output.dense, output.LayerNorm
        <->  encoder.layers[i] self_attn.w_q/w_k/w_v, self_attn.w_o, self_attn_norm, feed_forward.w_1,
             feed_forward.w_2, ff_norm (chapter 14's table)
    cls.predictions.transform.dense, transform.LayerNorm, decoder (BertForMaskedLM only)
        <->  head.dense, head.norm, head.output (its weight the token embedding, its bias BERT's)
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .bert import BERT, BERTConfig
from .config import TransformerConfig
from .decoder import Decoder
from .encoder import Encoder
from .multi_head_attention import MultiHeadAttention

Pair = tuple[list[Tensor], Tensor]  # our tensors (stacked along dim 0) <-> one torch tensor


def _attention_pairs(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> list[Pair]:
    if ours.d_model != theirs.embed_dim or ours.n_heads != theirs.num_heads:
        raise ValueError(f"attention shapes differ: ours d_model={ours.d_model}, n_heads={ours.n_heads}; "
                         f"torch embed_dim={theirs.embed_dim}, num_heads={theirs.num_heads}")
    if ours.n_kv_heads != ours.n_heads:
        raise ValueError(f"nn.MultiheadAttention has one key/value head per query head; this attention has "
                         f"n_kv_heads={ours.n_kv_heads} for n_heads={ours.n_heads} (grouped-query attention)")
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


HF_ACTIVATIONS = {"gelu": "gelu", "gelu_python": "gelu", "relu": "relu"}  # exact GELU (erf) and ReLU only


def _hf_bert_parts(hf_model):
    """(config, the BertModel, the MLM head or None) of a Hugging Face BertModel or BertForMaskedLM."""
    config = getattr(hf_model, "config", None)
    base = getattr(hf_model, "bert", hf_model)
    if not (isinstance(hf_model, nn.Module) and getattr(config, "model_type", None) == "bert"
            and hasattr(base, "embeddings") and hasattr(getattr(base, "encoder", None), "layer")):
        raise ValueError(f"from_hf_bert needs a Hugging Face BertModel or BertForMaskedLM (model_type 'bert'), got "
                         f"{type(hf_model).__name__} with model_type {getattr(config, 'model_type', None)!r}")
    head = getattr(getattr(hf_model, "cls", None), "predictions", None)
    return config, base, head


def bert_config_from_hf(config, tied: bool = True) -> BERTConfig:
    """Our BERTConfig for a Hugging Face BertConfig; ValueError for a setting our BERT does not compute."""
    unsupported = []
    if getattr(config, "position_embedding_type", None) not in (None, "absolute"):
        unsupported.append(f"position_embedding_type {config.position_embedding_type!r} (ours: absolute)")
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        unsupported.append("is_decoder / add_cross_attention (ours is an encoder only)")
    if config.hidden_act not in HF_ACTIVATIONS:
        unsupported.append(f"hidden_act {config.hidden_act!r} (ours: the exact {sorted(HF_ACTIVATIONS)}; "
                           f"'gelu_new' and 'gelu_pytorch_tanh' are the tanh approximation)")
    if unsupported:
        raise ValueError("our BERT cannot compute this model: " + "; ".join(unsupported))
    pad_id = 0 if config.pad_token_id is None else config.pad_token_id
    return BERTConfig(vocab_size=config.vocab_size, d_model=config.hidden_size, n_heads=config.num_attention_heads,
                      d_ff=config.intermediate_size, n_layers=config.num_hidden_layers,
                      max_len=config.max_position_embeddings, pad_id=pad_id, positional="learned",
                      share_embeddings=tied, dropout=config.hidden_dropout_prob,
                      attention_dropout=config.attention_probs_dropout_prob,
                      activation=HF_ACTIVATIONS[config.hidden_act], layer_norm_eps=config.layer_norm_eps,
                      type_vocab_size=config.type_vocab_size, embedding_norm=True, scale_embeddings=False,
                      head_transform=True, output_bias=True)


def from_hf_bert(hf_model) -> BERT:
    """Our BERT in eval mode, with every weight of a Hugging Face BertModel or BertForMaskedLM copied in.

    encode() then gives the model's last_hidden_state, and for a BertForMaskedLM forward() gives its logits.
    A BertModel (such as chapter 14's MiniLM) has no MLM head: ours is then left as initialised, so its
    logits mean nothing until it is trained. The pooler (a dense layer and tanh on [CLS]) is not copied.
    """
    config, base, head = _hf_bert_parts(hf_model)
    embeddings = base.embeddings
    tied = head is None or head.decoder.weight is embeddings.word_embeddings.weight
    ours = BERT(bert_config_from_hf(config, tied)).to(embeddings.word_embeddings.weight.dtype)
    if len(ours.encoder.layers) != len(base.encoder.layer):
        raise ValueError(f"the config says {len(ours.encoder.layers)} layers, the model holds "
                         f"{len(base.encoder.layer)}")
    pairs: list[Pair] = [([ours.embed.weight], embeddings.word_embeddings.weight),
                         ([ours.position.table], embeddings.position_embeddings.weight),
                         ([ours.token_type.weight], embeddings.token_type_embeddings.weight)]
    pairs += _module_pairs(ours.embedding_norm, embeddings.LayerNorm)
    for mine, theirs in zip(ours.encoder.layers, base.encoder.layer):
        attention = theirs.attention
        for a, b in [(mine.self_attn.w_q, attention.self.query), (mine.self_attn.w_k, attention.self.key),
                     (mine.self_attn.w_v, attention.self.value), (mine.self_attn.w_o, attention.output.dense),
                     (mine.self_attn_norm, attention.output.LayerNorm),
                     (mine.feed_forward.w_1, theirs.intermediate.dense), (mine.feed_forward.w_2, theirs.output.dense),
                     (mine.ff_norm, theirs.output.LayerNorm)]:
            pairs += _module_pairs(a, b)
    if head is not None:
        pairs += _module_pairs(ours.head.dense, head.transform.dense)
        pairs += _module_pairs(ours.head.norm, head.transform.LayerNorm)
        bias = head.decoder.bias if head.decoder.bias is not None else head.bias
        pairs += [([ours.head.output.bias], bias)]
        if not tied:
            pairs += [([ours.head.output.weight], head.decoder.weight)]
    _copy(pairs, to_torch=False)
    return ours.eval()
