"""The parts of the write-it-yourself track, in dependency order, and where the book builds each."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    key: str  # the name todo() takes in the skeleton
    title: str
    chapter: int
    section: str  # a "##" or "###" heading of that chapter
    names: tuple[str, ...]  # module.attribute the learner writes
    depends: tuple[str, ...] = ()


COMPONENTS = (
    Component("positional-encoding", "positional encoding", 4, "The paper's formula",
              ("positional_encoding.sinusoidal_table",)),
    Component("attention", "scaled dot-product attention", 5, "Building attention step by step",
              ("attention.scaled_dot_product_attention",)),
    Component("masks", "padding and causal masks", 5, "Masks: deciding who may attend to whom",
              ("masks.padding_mask", "masks.causal_mask")),
    Component("multi-head-attention", "multi-head attention", 6, "Splitting into heads and merging back",
              ("multi_head_attention.MultiHeadAttention",), ("attention", "masks")),
    Component("feed-forward", "position-wise feed-forward", 7, "The position-wise feed-forward network (section 3.3)",
              ("feed_forward.PositionwiseFeedForward",)),
    Component("encoder-layer", "encoder layer (Add & Norm)", 8, "One encoder layer, by hand",
              ("encoder.EncoderLayer",), ("multi-head-attention", "feed-forward")),
    Component("encoder", "encoder stack", 8, "The stack", ("encoder.Encoder",), ("encoder-layer",)),
    Component("decoder-layer", "decoder layer", 9, "One decoder layer, by hand", ("decoder.DecoderLayer",),
              ("multi-head-attention", "feed-forward")),
    Component("decoder", "decoder stack", 9, "One decoder layer, by hand", ("decoder.Decoder",),
              ("decoder-layer",)),
    Component("model", "the full model", 10, "The whole forward pass, by hand", ("model.Transformer",),
              ("positional-encoding", "encoder", "decoder")),
    Component("teacher-forcing", "teacher forcing", 11, "Teacher forcing: decoder input and labels",
              ("training.teacher_forcing",)),
    Component("label-smoothing", "label smoothing", 11, "The loss, with label smoothing",
              ("label_smoothing.LabelSmoothingLoss",)),
    Component("warm-up-schedule", "the warm-up schedule", 11, "The learning-rate schedule", ("training.noam_lr",)),
    Component("greedy-decoding", "greedy decoding", 12, "Greedy decoding, one step at a time",
              ("decoding.greedy_decode",)),
    Component("beam-search", "beam search", 12, "Beam search", ("beam.beam_search",)),
    Component("kv-cache", "the key/value cache", 12, "The key/value cache",
              ("kv_cache.AttentionCache.add", "multi_head_attention.MultiHeadAttention.forward_cached"),
              ("model",)),
)
BY_KEY = {c.key: c for c in COMPONENTS}


def pointer(key: str) -> str:
    component = BY_KEY[key]
    return f"see chapter {component.chapter}, section '{component.section}'"


def todo(key: str):
    """What every stub of the skeleton calls: raise NotImplementedError naming where the book builds it."""
    if key not in BY_KEY:
        raise ValueError(f"unknown component {key!r}; the components are {sorted(BY_KEY)}")
    raise NotImplementedError(f"not implemented yet: {pointer(key)}")
