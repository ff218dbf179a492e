"""Checkers for chapter 10, the full Transformer."""
from __future__ import annotations

import torch

from ..config import TransformerConfig
from ..model import Transformer, count_parameters
from ._check import Feedback, compare_tensors, correct, not_yet


def _reference_count(config: TransformerConfig) -> int:
    with torch.device("meta"):  # sizes only, no memory
        return count_parameters(Transformer(config))


def check_parameter_formula(count_fn) -> Feedback:
    """`count_fn(vocab_size, d_model, d_ff, n_layers)` should count a Transformer with shared embeddings
    (one matrix for both embeddings and the output layer), n_layers encoder and n_layers decoder layers."""
    cases = [(37000, 512, 2048, 6), (100, 16, 64, 2), (37000, 1024, 4096, 6)]
    for vocab, d_model, d_ff, n in cases:
        config = TransformerConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, d_model=d_model, n_heads=8 if d_model >= 8 else 1,
                                   d_ff=d_ff, n_encoder_layers=n, n_decoder_layers=n)
        expected = _reference_count(config)
        try:
            got = count_fn(vocab, d_model, d_ff, n)
        except Exception as exc:
            return not_yet(f"count_fn({vocab}, {d_model}, {d_ff}, {n}) raised {exc!r}")
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        if got == expected:
            continue
        embedding = vocab * d_model
        if got == expected + embedding:
            return not_yet("you counted the vocabulary matrix twice: the output layer shares it with the embeddings")
        if got == expected + 2 * embedding:
            return not_yet("you counted three vocabulary matrices: source, target and output share one")
        if got == expected - n * (4 * d_model * d_model + 4 * d_model + 2 * d_model):
            return not_yet("the decoder layers have a second attention (encoder-decoder) and a third LayerNorm")
        return not_yet(f"for V={vocab}, d_model={d_model}, d_ff={d_ff}, N={n} expected {expected:,}, got {got:,} "
                       f"(difference {got - expected:+,}). Count one shared V x D matrix, N encoder layers "
                       f"(attention, FFN, 2 LayerNorms) and N decoder layers (2 attentions, FFN, 3 LayerNorms).")
    return correct(f"the base model has {_reference_count(TransformerConfig.base()):,} parameters.")


def check_softmax_with_temperature(softmax_fn) -> Feedback:
    """`softmax_fn(logits, temperature)` should return softmax(logits / temperature) over the last axis."""
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0], [0.0, 3.0, 0.0, 1.0]])
    for temperature in (1.0, 0.5, 2.0):
        expected = torch.softmax(logits / temperature, dim=-1)
        try:
            got = softmax_fn(logits.clone(), temperature)
        except Exception as exc:
            return not_yet(f"softmax_fn(logits, {temperature}) raised {exc!r}")
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, torch.softmax(logits * temperature, dim=-1), atol=1e-6) and temperature != 1.0:
                return not_yet("divide the logits by the temperature, do not multiply: a high temperature "
                               "should flatten the distribution")
            if torch.allclose(got, torch.softmax(logits, dim=-1) ** (1 / temperature), atol=1e-6) and temperature != 1.0:
                return not_yet("the probabilities must be renormalized to sum to 1")
            if torch.allclose(got, torch.softmax(logits / temperature, dim=0), atol=1e-6):
                return not_yet("softmax over the vocabulary, the LAST axis (dim=-1), not the first")
        problem = compare_tensors(f"softmax_fn(logits, {temperature})", got, expected, atol=1e-5)
        if problem is not None:
            return problem
    return correct("lower temperatures sharpen the distribution, higher ones flatten it.")


def check_tied_logits(logits_fn) -> Feedback:
    """`logits_fn(h, embedding_matrix)` should compute the output layer's logits h E^T with a tied matrix E (V, D)."""
    torch.manual_seed(0)
    h, table = torch.randn(2, 3, 8), torch.randn(11, 8)
    expected = h @ table.T
    try:
        got = logits_fn(h, table)
    except Exception as exc:
        return not_yet(f"logits_fn raised {exc!r}: h is (B, T, D) = {tuple(h.shape)}, E is (V, D) = {tuple(table.shape)}")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got, expected * 8 ** 0.5, atol=1e-5):
            return not_yet("the sqrt(d_model) factor belongs to the embedding lookup only, not to the output layer")
    problem = compare_tensors("the logits", got, expected, atol=1e-5, hint="Logits are (B, T, V): one score per vocabulary entry.")
    return problem if problem is not None else correct("the output layer is a dot product of the decoder state with every token's embedding.")
