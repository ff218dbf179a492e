"""Switching attention heads off, one or several at a time (paper section 3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O

The input of W^O (`MultiHeadAttention.w_o`) is the concatenation: a (B, T, h * d_k) tensor whose columns
i * d_k .. (i + 1) * d_k - 1 come from head i. Ablating head i sets those columns to zero before W^O, so the
sub-layer's output no longer contains anything head i computed; what W^O adds anyway, its bias, stays.
The attention weights themselves are left alone: the head still computes them, nothing uses its result.

    with ablate_heads(model, {("cross", 1, 2)}):        # kind, layer, head (all counted from 0)
        logits = model(src, tgt)                          # computed without head 2 of decoder layer 1's
                                                          # encoder-decoder attention
    scores = head_ablation_scores(model, pairs, tokenizers)   # {"encoder_self": (N, h) exact match, ...}

Kinds are named as in `AttentionWeights`: "encoder_self" (encoder self-attention), "decoder_self" (masked
decoder self-attention) and "cross" (encoder-decoder attention). The switch is a forward pre-hook on each
affected `w_o`; the context manager removes every hook it added when the block ends, also after an exception.
Removing heads to see which ones matter follows Michel et al. (2019) and Voita et al. (2019); it is an
analysis tool, not part of the paper's model.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor

from torch import nn

from .block import KINDS
from .checks import check_int, check_model, check_tokenizer_pair
from .evaluation import exact_match
from .multi_head_attention import MultiHeadAttention

Head = tuple[str, int, int]  # (kind, layer, head)


def attention_module(model: nn.Module, kind: str, layer: int) -> MultiHeadAttention:
    """The MultiHeadAttention of one kind ("encoder_self", "decoder_self" or "cross") in one layer."""
    check_model(model, seq2seq=False)  # only attention_layers() is needed
    layers = model.attention_layers()
    if kind not in layers:
        raise ValueError(f"kind must be one of {tuple(layers)}, got {kind!r}")
    check_int("layer", layer, 0, len(layers[kind]) - 1,
              f" for kind {kind!r} (the model has {len(layers[kind])} layers with that attention)")
    return layers[kind][layer]


def check_heads(model: nn.Module, heads) -> dict[MultiHeadAttention, list[int]]:
    """Validate an iterable of (kind, layer, head) triples; return module -> sorted head indices to ablate."""
    check_model(model, seq2seq=False)  # only attention_layers() is needed
    if isinstance(heads, (str, bytes)) or not isinstance(heads, Iterable):
        raise ValueError(f"heads must be an iterable of (kind, layer, head) triples, got {type(heads).__name__}")
    chosen: dict[MultiHeadAttention, set[int]] = {}
    for item in heads:
        if not (isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and len(item) == 3):
            raise ValueError(f"each head must be a (kind, layer, head) triple such as ('cross', 0, 1), got {item!r}")
        kind, layer, head = item
        module = attention_module(model, kind, layer)
        check_int("head", head, 0, module.n_heads - 1, f" (the model has {module.n_heads} heads; in {item!r})")
        chosen.setdefault(module, set()).add(head)
    return {module: sorted(hs) for module, hs in chosen.items()}


def _zero_heads_hook(n_heads: int, d_k: int, heads: list[int]):
    """A forward pre-hook for W^O that zeroes the columns of `heads` in its (B, T, h * d_k) input."""
    keep = torch.ones(n_heads, d_k, dtype=torch.bool)
    keep[heads] = False
    keep = keep.reshape(-1)  # (h * d_k,): False in the columns of the ablated heads

    def hook(module, inputs: tuple[Tensor, ...]):
        concat = inputs[0]  # (B, T, h * d_k) = Concat(head_1, ..., head_h)
        return (concat.masked_fill(~keep.to(concat.device), 0.0),) + tuple(inputs[1:])
    return hook


@contextmanager
def ablate_heads(model: nn.Module, heads: Iterable[Head]):
    """Within the block, the chosen heads' outputs are zero before W^O; outside it the model is unchanged.

    heads: (kind, layer, head) triples, e.g. {("encoder_self", 0, 3), ("cross", 1, 0)}; an empty set ablates
    nothing. Raises ValueError for an unknown kind or an index out of range, before any hook is added.
    """
    plan = check_heads(model, heads)
    handles = []
    try:
        for module, hs in plan.items():
            handles.append(module.w_o.register_forward_pre_hook(_zero_heads_hook(module.n_heads, module.d_k, hs)))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def head_ablation_scores(model: nn.Module, pairs: list[tuple[str, str]], tokenizers: tuple,
                         kinds: Sequence[str] = KINDS, batch_size: int = 500) -> dict[str, Tensor]:
    """Exact-match accuracy (greedy decoding, `training.exact_match`) with each single head ablated in turn.

    Returns {kind: tensor (n_layers, n_heads)}, entry [l, i] the fraction of `pairs` still decoded exactly
    right without head i of layer l of that kind. Compare with exact_match(model, pairs, ...) unablated.
    Cost: one greedy decoding of all pairs per head.
    """
    check_model(model)
    src_tokenizer, tgt_tokenizer = check_tokenizer_pair(tokenizers)  # exact_match checks pairs and batch_size
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty list drawn from {KINDS}, got {kinds!r}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds must not repeat a kind, got {list(kinds)}")
    scores = {}
    for kind in kinds:
        modules = model.attention_layers()[kind]
        grid = torch.zeros(len(modules), model.config.n_heads, dtype=torch.float64)  # (N, h)
        for layer, module in enumerate(modules):
            for head in range(module.n_heads):
                with ablate_heads(model, {(kind, layer, head)}):
                    grid[layer, head] = exact_match(model, pairs, src_tokenizer, tgt_tokenizer, batch_size)
        scores[kind] = grid
    return scores
