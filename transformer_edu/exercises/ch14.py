"""Checkers for chapter 14, a real pretrained transformer (MiniLM-L6, a BERT-style encoder).

None of these checkers loads the pretrained model: the expected answers are computed from the book's own
EncoderLayer and from tensors made here, so the tests run without transformers.
"""
from __future__ import annotations

import torch

from ..encoder import EncoderLayer
from ._check import Feedback, compare_tensors, correct, not_yet

# Hugging Face's BertLayer, module by module (as in `bert.encoder.layer[i].named_modules()`), and what plays
# the same part in our EncoderLayer.
BERT_LAYER_TO_OURS = {
    "attention.self.query": "self_attn.w_q",
    "attention.self.key": "self_attn.w_k",
    "attention.self.value": "self_attn.w_v",
    "attention.output.dense": "self_attn.w_o",
    "attention.output.LayerNorm": "self_attn_norm",
    "intermediate.dense": "feed_forward.w_1",
    "output.dense": "feed_forward.w_2",
    "output.LayerNorm": "ff_norm",
}


def _our_module_names() -> set[str]:
    with torch.device("meta"):
        layer = EncoderLayer(d_model=8, n_heads=2, d_ff=16)
    return {name for name, _ in layer.named_modules() if name}


def check_name_map(mapping) -> Feedback:
    """`mapping` should be a dict from each of BertLayer's eight weight-carrying modules to the module of our
    EncoderLayer that plays the same part (for example "attention.self.query" -> "self_attn.w_q")."""
    if not isinstance(mapping, dict):
        return not_yet(f"mapping should be a dict from Hugging Face names to ours, got {type(mapping).__name__}")
    missing = [name for name in BERT_LAYER_TO_OURS if name not in mapping]
    if missing:
        return not_yet(f"{len(missing)} of BertLayer's 8 modules have no entry yet, for example {missing[0]!r}. "
                       f"The keys are: {', '.join(BERT_LAYER_TO_OURS)}")
    extra = sorted(set(mapping) - set(BERT_LAYER_TO_OURS))
    if extra:
        return not_yet(f"{extra[0]!r} is not one of BertLayer's weight-carrying modules; use exactly these keys: "
                       f"{', '.join(BERT_LAYER_TO_OURS)}")
    ours = _our_module_names()
    for hf_name, our_name in mapping.items():
        if our_name not in ours:
            return not_yet(f"{hf_name!r} maps to {our_name!r}, which is not a module of our EncoderLayer. Its "
                           f"modules with weights are: {', '.join(sorted(set(BERT_LAYER_TO_OURS.values())))}")
    for hf_name, expected in BERT_LAYER_TO_OURS.items():
        got = mapping[hf_name]
        if got == expected:
            continue
        if hf_name == "attention.output.dense" and got.startswith("feed_forward"):
            return not_yet("'attention.output.dense' belongs to attention, not to the feed-forward network: "
                           "BertSelfOutput.dense is the output projection W^O that follows the concatenated heads")
        if hf_name in ("output.dense", "intermediate.dense") and got in ("feed_forward.w_1", "feed_forward.w_2"):
            return not_yet("the two feed-forward layers are swapped: 'intermediate.dense' widens D -> d_ff (our "
                           "w_1), 'output.dense' narrows d_ff -> D (our w_2)")
        if hf_name.endswith("LayerNorm") and got.endswith("_norm"):
            return not_yet("the two LayerNorms are swapped: 'attention.output.LayerNorm' follows the attention "
                           "sub-layer (self_attn_norm), 'output.LayerNorm' follows the feed-forward one (ff_norm)")
        return not_yet(f"{hf_name!r} should map to {expected!r}, got {got!r}. Compare the shapes: print "
                       f"bert.encoder.layer[0] and EncoderLayer's modules side by side")
    return correct("BertSelfAttention holds W^Q, W^K, W^V; BertSelfOutput holds W^O and the first Add & Norm; "
                   "BertIntermediate and BertOutput hold the feed-forward network and the second Add & Norm.")


def check_head_dim(head_dim_fn) -> Feedback:
    """`head_dim_fn(hidden_size, num_attention_heads)` should return d_k = hidden_size / num_attention_heads as
    an int, and raise ValueError when the heads do not divide the width evenly."""
    cases = {(384, 12): 32, (512, 8): 64, (768, 12): 64, (1024, 16): 64}
    for (width, heads), expected in cases.items():
        try:
            got = head_dim_fn(width, heads)
        except Exception as exc:
            return not_yet(f"head_dim_fn({width}, {heads}) raised {exc!r}")
        if got is None:
            return not_yet("your function returned None: return d_k as an int")
        if isinstance(got, float) and got == expected:
            return not_yet(f"head_dim_fn({width}, {heads}) returned the float {got!r}: a width is a whole number, "
                           f"use integer division (//) once you know the division is exact")
        if got == width * heads:
            return not_yet(f"head_dim_fn({width}, {heads}) returned {got}: the heads SPLIT the width (each head "
                           f"gets hidden_size / heads dimensions), they do not multiply it")
        if isinstance(got, bool) or not isinstance(got, int) or got != expected:
            return not_yet(f"head_dim_fn({width}, {heads}) should be {expected}, got {got!r}")
    try:
        got = head_dim_fn(100, 12)
    except ValueError:
        return correct("MiniLM-L6 has d_k = 384 / 12 = 32, half of the paper's 64; "
                       "the 12 heads together still cover all 384 dimensions.")
    except Exception as exc:
        return not_yet(f"head_dim_fn(100, 12) raised {type(exc).__name__}; raise ValueError instead, naming the "
                       f"width and the number of heads")
    return not_yet(f"head_dim_fn(100, 12) returned {got!r}, but 12 heads cannot split 100 dimensions evenly: "
                   f"raise ValueError saying so")


def _reference_previous_token(weights: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).mean(dim=-1)  # (H,)


def check_previous_token_score(score_fn) -> Feedback:
    """`score_fn(weights)` takes one sentence's attention weights (H, S, S) (query rows, key columns) and returns
    (H,): for each head, the weight from position i to position i - 1, averaged over the queries i = 1 .. S-1."""
    generator = torch.Generator().manual_seed(14)
    weights = torch.softmax(torch.randn(3, 6, 6, generator=generator) * 2, dim=-1)  # (H, S, S)
    expected = _reference_previous_token(weights)
    try:
        got = score_fn(weights.clone())
    except Exception as exc:
        return not_yet(f"score_fn raised {exc!r} on weights of shape (H, S, S) = {tuple(weights.shape)}")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        next_token = torch.diagonal(weights, offset=1, dim1=-2, dim2=-1).mean(dim=-1)
        if torch.allclose(got, next_token, atol=1e-6):
            return not_yet("you measured attention to the NEXT token (row i, column i + 1): the previous token "
                           "is column i - 1, the diagonal just below the main one (offset=-1); rows are queries, "
                           "columns keys")
        diagonal = torch.diagonal(weights, dim1=-2, dim2=-1).mean(dim=-1)
        if torch.allclose(got, diagonal, atol=1e-6):
            return not_yet("you measured attention to the token itself (the main diagonal); the previous token "
                           "is one column to the left (offset=-1)")
        summed = torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).sum(dim=-1)
        if torch.allclose(got, summed / weights.shape[-1], atol=1e-6):
            return not_yet("you divided by S, but only S - 1 queries have a previous token (the first has none)")
        if torch.allclose(got, summed, atol=1e-6):
            return not_yet("that is a sum over the queries: divide by the S - 1 queries that have a previous token")
    problem = compare_tensors("score_fn(weights)", got, expected, atol=1e-6,
                              hint="Expected (H,): one number per head, the mean of weights[h, i, i - 1] over i >= 1.")
    return problem if problem is not None else correct(
        "this is the measure that finds MiniLM's previous-token head; it works for any (H, S, S) attention.")
