"""Checkers for chapter 8, the encoder (paper section 3.1)."""
from __future__ import annotations

import torch

from ..encoder import Encoder, EncoderLayer
from ..positional_encoding import PositionalEncoding
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


# --- Exercise 1: find the bug in an encoder layer -------------------------------------------------------------

def buggy_encoder_layer(layer, x, mask):
    """A post-LN encoder layer from `layer`'s parts, dropout left out. One bug."""
    z = layer.self_attn_norm(x + layer.self_attn(x, x, x, mask=mask))  # (B, S, D)
    return layer.ff_norm(x + layer.feed_forward(z))  # (B, S, D)


def _layer_case():
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.0).eval()
    x = torch.randn(2, 5, 16)  # (B, S, D)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, None, :]  # (B, 1, 1, S)
    return layer, x, mask


@checker
def check_encoder_layer_fix(layer_fn) -> Feedback:
    """`layer_fn(layer, x, mask)` should be buggy_encoder_layer fixed: equal to layer(x, mask)."""
    layer, x, mask = _layer_case()
    with torch.no_grad():
        expected = layer(x, mask)
        got, error = call_learner(layer_fn, layer, x.clone(), mask.clone())
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the layer's output, shape (B, S, D)")
        same_bug = buggy_encoder_layer(layer, x, mask)
        no_mask = layer(x)
        z = layer.self_attn_norm(x + layer.self_attn(x, x, x, mask=mask))
        no_second_residual = layer.ff_norm(layer.feed_forward(z))
    problem = compare_tensors("the output", got, expected, atol=1e-5)
    if problem is None:
        return correct("the second residual connection adds z, the input of the feed-forward sub-layer, not x, the "
                       "input of the whole layer: each Add & Norm wraps its own sub-layer.")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got, same_bug, atol=1e-6):
            return not_yet("this still has the bug. Write the paper's two equations for one layer next to the two "
                           "lines and compare what goes into each sum",
                           answer="The second Add & Norm must add the feed-forward sub-layer's own input z: "
                                  "layer.ff_norm(z + layer.feed_forward(z)).")
        if torch.allclose(got, no_mask, atol=1e-5):
            return not_yet("the output ignores the padding mask: keep passing `mask` to the self-attention")
        if torch.allclose(got, no_second_residual, atol=1e-5):
            return not_yet("the second residual connection is gone: the feed-forward sub-layer's input must still "
                           "be added to its output")
    return problem


# --- Exercise 2: predict, then check: shuffling the positions of the encoder's input ------------------------

ORDER_CHOICES = {
    "a": "the output rows are the original output rows, shuffled the same way",
    "b": "the output rows change their values",
    "c": "the output is exactly the original output, in the original order",
}


def _shuffle_experiment() -> tuple[float, float]:
    """(largest difference between encoder(x[perm]) and encoder(x)[perm], same for encoder(x + PE))."""
    torch.manual_seed(3)
    encoder = Encoder(n_layers=2, d_model=16, n_heads=4, d_ff=32, dropout=0.0).eval()
    positions = PositionalEncoding(16, 64, dropout=0.0).eval()
    x = torch.randn(1, 6, 16)  # (1, S, D): vectors with no position information added
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        plain = (encoder(x[:, perm]) - encoder(x)[:, perm]).abs().max().item()
        with_pe = (encoder(positions(x[:, perm])) - encoder(positions(x))[:, perm]).abs().max().item()
    return plain, with_pe


@checker
def check_order_prediction(prediction) -> Feedback:
    """`prediction`: "a", "b" or "c" (ORDER_CHOICES), what the encoder does to shuffled input vectors."""
    if not isinstance(prediction, str) or prediction.strip().lower() not in ORDER_CHOICES:
        return not_yet(f"write your prediction as one of the letters {sorted(ORDER_CHOICES)}, then run the cell")
    choice = prediction.strip().lower()
    plain, with_pe = _shuffle_experiment()
    result = (f"The experiment: encoder(x shuffled) and encoder(x) shuffled the same way differ by at most "
              f"{plain:.1e}; with the positional encodings added first, by {with_pe:.2f}.")
    if choice == "a":
        return correct(f"{result} Self-attention is a weighted average whose weights depend only on the vectors, "
                       f"and the feed-forward network and LayerNorm work on each position alone, so nothing in the "
                       f"encoder knows where a vector stands: shuffling the input shuffles the output. That is why "
                       f"the paper adds positional encodings to the embeddings (chapter 4).")
    if choice == "c":
        return not_yet("the output cannot stay in the original order: the output at position i is computed from "
                       "the input at position i (plus what it attends to), and that input moved. Think about "
                       "which rows of the output belong to which input vectors",
                       answer=f"Answer a. {result}")
    return not_yet("think about what the encoder could use to tell the order of its inputs apart: the attention "
                   "scores compare vectors with each other, and the feed-forward network and LayerNorm see one "
                   "position at a time. Is a position's index used anywhere?",
                   answer=f"Answer a. {result}")


# --- Exercise 3: derivation: the parameters of one encoder layer ---------------------------------------------

def encoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """The reference count: 4 projections (D x D + D), two FFN layers, two LayerNorms (2D each)."""
    return 4 * (d_model * d_model + d_model) + (d_model * d_ff + d_ff) + (d_ff * d_model + d_model) + 2 * 2 * d_model


@checker
def check_parameter_count(count_fn) -> Feedback:
    """`count_fn(d_model, d_ff)` should return the number of parameters of one post-LN encoder layer."""
    for d_model, d_ff in [(512, 2048), (64, 256), (8, 3)]:
        got, error = call_learner(count_fn, d_model, d_ff)
        if error is not None:
            return error
        expected = encoder_layer_parameters(d_model, d_ff)
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        if got == expected:
            continue
        where = f"for d_model={d_model}, d_ff={d_ff} your count is {got!r}"
        attention = 4 * (d_model * d_model + d_model)
        if got == expected - 4 * d_model:
            return not_yet(f"{where}: the two LayerNorms are missing (each has a gamma and a beta)")
        if got == expected - 4 * d_model - (d_ff + d_model) - 4 * d_model:
            return not_yet(f"{where}: the biases are missing (every nn.Linear here has one)")
        if got == expected - attention + 4 * d_model * d_model:
            return not_yet(f"{where}: the four attention projections have biases too")
        if got == expected - 2 * d_model:
            return not_yet(f"{where}: an encoder layer has two LayerNorms, one per sub-layer")
        return not_yet(f"{where}, which is {'too many' if got > expected else 'too few'}. Count the attention "
                       f"(W^Q, W^K, W^V, W^O with biases), the two FFN layers with biases, and two LayerNorms",
                       answer=f"Expected {expected:,}.")
    return correct(f"one base encoder layer has {encoder_layer_parameters(512, 2048):,} parameters: "
                   f"4 D^2 + 2 D F + F + 9 D.")
