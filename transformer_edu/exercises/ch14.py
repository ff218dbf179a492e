"""Checkers for chapter 14, a real pretrained transformer (MiniLM-L6, a BERT-style encoder).

The checkers never load the pretrained model themselves: the parameter count is checked against the book's
own EncoderLayer, the pooling against tensors made here, and the prediction against the model the notebook
passes in, so the tests of the first two run without transformers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..encoder import EncoderLayer
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet

# --- Exercise 1: the parameters of one layer --------------------------------------------------------------------


def _layer_parameters(d_model: int, d_ff: int) -> int:
    with torch.device("meta"):  # shapes only, no memory
        layer = EncoderLayer(d_model=d_model, n_heads=2, d_ff=d_ff)
    return sum(p.numel() for p in layer.parameters())


@checker
def check_layer_parameters(count_fn) -> Feedback:
    """`count_fn(d_model, d_ff)` should return the trainable parameters of one BERT (post-LN encoder) layer:
    W^Q, W^K, W^V, W^O with biases, two LayerNorms (gain and shift), and the two linear layers of the
    feed-forward network with biases."""
    for d, f in ((384, 1536), (512, 2048), (64, 100)):
        got, error = call_learner(count_fn, d, f)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the number of parameters, an int")
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            return not_yet(f"count_fn({d}, {f}) should return a whole number, got {got!r}")
        expected = _layer_parameters(d, f)
        if got == expected:
            continue
        where = f"for d_model = {d}, d_ff = {f}"
        mistakes = [
            (4 * d * d + 2 * d * f, "every weight matrix is counted but no bias and no LayerNorm"),
            (expected - 4 * d, "the LayerNorms are in, but the four attention projections' biases are missing "
                               "(the paper's equations show none, but BERT's and our layers have them)"),
            (expected - 2 * 2 * d, "the two LayerNorms are missing: each has a gain and a shift of d_model "
                                   "numbers"),
            (expected - 2 * d, "each LayerNorm has TWO vectors of d_model numbers, a gain and a shift"),
            (expected - d - f, "the feed-forward network's biases (b_1 and b_2 of equation 2) are missing"),
            (expected - 4 * d - d - f, "all the biases are missing: every nn.Linear here has one, of its "
                                       "output size"),
        ]
        for wrong, hint in mistakes:
            if hint and got == wrong:
                return not_yet(f"{where}: {hint}.", answer=f"Expected {expected:,} {where}.")
        if f != 4 * d and got == _layer_parameters(d, 4 * d):
            return not_yet(f"{where}: use the d_ff you are given; it is not always 4 d_model.")
        if got > expected:
            return not_yet(f"{where}: {int(got):,} is too many by {int(got - expected):,}. Count each weight "
                           f"matrix and each bias once.", answer=f"Expected {expected:,}.")
        return not_yet(f"{where}: {int(got):,} is too few by {int(expected - got):,}. List the layer's eight "
                       f"modules with weights and count each one's weight and bias.",
                       answer=f"Expected {expected:,}.")
    return correct("4 d^2 + 4 d for W^Q, W^K, W^V, W^O and their biases, 2 d F + F + d for the feed-forward "
                   "network, 4 d for the two LayerNorms: 4 d^2 + 2 d F + 9 d + F, which is 1,774,464 for "
                   "MiniLM-L6 (d = 384, F = 1536). Six layers hold 10.6 million of its 22.7 million parameters; "
                   "the word embeddings hold most of the rest.")


# --- Exercise 2: find the bug in mean pooling -------------------------------------------------------------------


def buggy_mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor):
    """One unit-length vector per sentence: the mean of its token vectors.
    hidden (B, S, D), attention_mask (B, S), 1 = real token, 0 = padding.
    (Exercise 2: this version has a bug.)"""
    mean = hidden.mean(dim=1)  # (B, D): the average over the tokens
    return F.normalize(mean, dim=-1)  # (B, D), unit length


def _mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    real = attention_mask[..., None].to(hidden.dtype)  # (B, S, 1)
    return F.normalize((hidden * real).sum(dim=1) / real.sum(dim=1), dim=-1)  # (B, D)


@checker
def check_mean_pool(pool_fn) -> Feedback:
    """`pool_fn(hidden, attention_mask)` should average each sentence's vectors over its real tokens only and
    return unit-length vectors (B, D); a sentence padded in a batch gets the same vector as alone."""
    g = torch.Generator().manual_seed(14)
    hidden = torch.randn(3, 6, 8, generator=g, dtype=torch.float64) + 0.5  # (B, S, D)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])  # (B, S)
    expected = _mean_pool(hidden, mask)
    got, error = call_learner(pool_fn, hidden.clone(), mask.clone())
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return the (B, D) sentence vectors")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got, buggy_mean_pool(hidden, mask)):
            return not_yet("still the bug of buggy_mean_pool: sentence 1 of the checker's batch (3 real tokens, "
                           "3 pads) gets a different vector than it would get alone. Which vectors enter the "
                           "average?")
        unnormalized = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
        if torch.allclose(got, unnormalized):
            return not_yet("the average over the real tokens is right, but the vectors should have length 1 "
                           "(F.normalize), so that a dot product of two of them is their cosine")
    problem = compare_tensors("your sentence vectors", got, expected, atol=1e-9)
    if problem is not None:
        return not_yet(problem.message + " Each sentence's vector should be the one it would get alone: the mean "
                                         "of its real tokens' vectors, scaled to length 1.")
    alone = got[1:2]
    again, _ = call_learner(pool_fn, hidden[1:2, :3].clone(), mask[1:2, :3].clone())
    if isinstance(again, torch.Tensor) and not torch.allclose(again, alone):
        return not_yet("sentence 1 gets a different vector alone (3 tokens, no padding) than in the batch")
    return correct("only the real tokens enter the average, so a sentence's vector does not depend on how much "
                   "padding its batch needs. (Dividing by S instead of the number of real tokens would also "
                   "pass here, since normalizing removes any factor; the sum over the pads would not.)")


# --- Exercise 3: predict, then check ----------------------------------------------------------------------------

REPEATED = "cat cat cat cat cat cat cat cat"
PREVIOUS_TOKEN_HEAD = (0, 2)  # (layer, head) that chapter 14 finds
TOLERANCE = 0.15


def previous_token_weight(bert, tokenizer, text: str, layer: int, head: int) -> float:
    """Mean weight from each word to the token before it (queries: the words, not [CLS] or [SEP])."""
    batch = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        weights = bert(**batch).attentions[layer][0, head]  # (S, S)
    previous = torch.diagonal(weights, offset=-1)  # (S - 1,): query i + 1 -> key i
    return previous[:-1].mean().item()  # queries 1 .. S - 2: the words


@checker
def check_repeated_word_prediction(prediction, bert, tokenizer) -> Feedback:
    """`prediction`: the learner's guess of the previous-token head's mean weight on the previous token for
    eight identical words. Measured on the `bert` and `tokenizer` the notebook passes in."""
    if prediction is None:
        return not_yet("write your prediction first: a weight from 0 to 1")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not 0 <= prediction <= 1:
        return not_yet(f"the prediction should be one number from 0 to 1 (an attention weight), got "
                       f"{prediction!r}")
    layer, head = PREVIOUS_TOKEN_HEAD
    measured = previous_token_weight(bert, tokenizer, REPEATED, layer, head)
    answer = f"Measured: {measured:.2f}."
    if prediction < measured - TOLERANCE:
        return not_yet(f"{prediction:g} is too low. If the head found the previous token by its content, eight "
                       f"identical words would leave it nothing to choose by. What else differs from one "
                       f"position to the next in BERT's input?", answer=answer)
    if prediction > measured + TOLERANCE:
        return not_yet(f"{prediction:g} is too high.", answer=answer)
    return correct(f"measured {measured:.2f} (your prediction: {prediction:g}). All eight word vectors are the "
                   f"same 'cat' embedding, so only the learned position embeddings tell the positions apart: the "
                   f"head finds the previous token by position, not by content. A head that looks at the previous "
                   f"position whatever the words is a fixed operation, 'copy my left neighbour', that later "
                   f"layers can rely on.")
