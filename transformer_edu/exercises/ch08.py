"""Checkers for chapter 8, the encoder."""
from __future__ import annotations

import torch

from ..encoder import EncoderLayer
from ._check import Feedback, compare_tensors, correct, not_yet


def encoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """The reference count: 4 projections (D x D + D), two FFN layers, two LayerNorms (2D each)."""
    return 4 * (d_model * d_model + d_model) + (d_model * d_ff + d_ff) + (d_ff * d_model + d_model) + 2 * 2 * d_model


def check_parameter_count(count_fn) -> Feedback:
    """`count_fn(d_model, d_ff)` should return the number of parameters of one post-LN encoder layer."""
    for d_model, d_ff in [(512, 2048), (64, 256), (8, 3)]:
        try:
            got = count_fn(d_model, d_ff)
        except Exception as exc:  # the learner's code: report, do not crash
            return not_yet(f"calling your function with d_model={d_model}, d_ff={d_ff} raised {exc!r}")
        expected = encoder_layer_parameters(d_model, d_ff)
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        if got != expected:
            attention = 4 * (d_model * d_model + d_model)
            hints = []
            if got == expected - 4 * d_model:
                hints.append("you left out the LayerNorm parameters (gamma and beta, d_model each, two norms)")
            if got == expected - 4 * d_model - (d_ff + d_model) - 4 * d_model:
                hints.append("biases are missing")
            if got == expected - attention + 4 * d_model * d_model:
                hints.append("the four attention projections have biases too")
            hint = "; ".join(hints) or ("count attention (W^Q, W^K, W^V, W^O with biases), the two FFN layers "
                                        "with biases, and two LayerNorms")
            return not_yet(f"for d_model={d_model}, d_ff={d_ff} expected {expected:,}, got {got:,}: {hint}")
    return correct(f"one base encoder layer has {encoder_layer_parameters(512, 2048):,} parameters.")


def check_encoder_layer(layer_fn) -> Feedback:
    """`layer_fn(layer, x, mask)` should compute a post-LN encoder layer from `layer`'s sub-modules."""
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.0).eval()
    x = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, None, :]
    with torch.no_grad():
        expected = layer(x, mask)
        try:
            got = layer_fn(layer, x, mask)
        except Exception as exc:
            return not_yet(f"your function raised {exc!r}")
    if got is None:
        return not_yet("your function returned None: return the layer's output tensor (B, S, D)")
    with torch.no_grad():
        no_mask = layer(x)
        h = layer.self_attn_norm(layer.self_attn(x, x, x, mask=mask))
        no_residual = layer.ff_norm(layer.feed_forward(h))
    problem = compare_tensors("the output", got, expected, atol=1e-5)
    if problem is None:
        return correct("your layer equals EncoderLayer: attention, Add & Norm, feed-forward, Add & Norm.")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got, no_mask, atol=1e-5):
            return not_yet("the output ignores the padding mask: pass `mask` to the self-attention")
        if torch.allclose(got, no_residual, atol=1e-5):
            return not_yet("the residual connections are missing: each sub-layer's input is added to its output")
    return problem
