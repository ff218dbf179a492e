"""Checkers for chapter 3, embeddings (paper section 3.4)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._check import Feedback, compare_tensors, correct, not_yet


def _example(seed: int, vocab_size: int, d_model: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random (V, D) table and a (2, 3) batch of ids whose largest id is below V - 1 (so a one-hot
    built without num_classes has the wrong width)."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(vocab_size, d_model, generator=g)  # (V, D)
    ids = torch.randint(0, vocab_size - 2, (2, 3), generator=g)  # (B, L)
    return table, ids


def _call(fn, name: str, *args):
    """(result, None) or (None, Feedback) if the learner's function raised."""
    try:
        return fn(*args), None
    except Exception as exc:  # the learner's code may fail in any way
        return None, not_yet(f"{name} raised {type(exc).__name__}: {exc}")


def check_one_hot_lookup(one_hot_lookup) -> Feedback:
    """`one_hot_lookup(ids, table)` returns table[ids], computed as one_hot(ids) @ table."""
    table, ids = _example(0, vocab_size=9, d_model=4)
    for case_ids in (ids, ids[0]):
        case = f"one_hot_lookup(ids of shape {tuple(case_ids.shape)}, table of shape {tuple(table.shape)})"
        leaf = table.clone().requires_grad_()
        try:
            got = one_hot_lookup(case_ids, leaf)
        except RuntimeError as exc:
            text = str(exc)
            if "dtype" in text or "scalar type" in text or "not implemented for 'Long'" in text:
                return not_yet(f"{case} raised RuntimeError: {text}. F.one_hot returns int64 (Long) values; "
                               f"convert them to the table's dtype, e.g. .to(table.dtype), before multiplying.")
            if "shape" in text or "size" in text or "multiplied" in text:
                return not_yet(f"{case} raised RuntimeError: {text}. Without num_classes, F.one_hot makes only "
                               f"max(ids) + 1 columns; pass num_classes=table.shape[0] so that there is one "
                               f"column per vocabulary entry.")
            return not_yet(f"{case} raised RuntimeError: {text}")
        except Exception as exc:  # the learner's code may fail in any way
            return not_yet(f"{case} raised {type(exc).__name__}: {exc}")
        if got is None:
            return not_yet(f"{case} returned None: return the (..., D) tensor one_hot(ids) @ table.")
        expected = table[case_ids]  # (..., D)
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(expected.shape[:-1]) + (table.shape[0],):
            return not_yet(f"{case} returned shape {tuple(got.shape)}: that is the one-hot tensor itself; "
                           f"multiply it by the table to get shape {tuple(expected.shape)}.")
        problem = compare_tensors(case, got, expected,
                                  hint="Row i of the table is the embedding of id i: one_hot(ids) @ table.")
        if problem is not None:
            return problem
        how = type(got.grad_fn).__name__ if got.grad_fn is not None else ""
        if "Index" in how or "Embedding" in how:
            return not_yet(f"{case} gives the right values, but by indexing ({how}). The exercise is to get "
                           f"them from a matrix product: build the one-hot vectors with F.one_hot and use @.")
    return correct("one_hot(ids) @ table picks row ids of the table: a lookup is a product with a one-hot "
                   "vector, computed the cheap way by indexing.")


def check_cosine_similarity(cosine_similarity_matrix) -> Feedback:
    """`cosine_similarity_matrix(a (N, D), b (M, D))` -> (N, M) cosines between the rows."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 6, generator=g) * torch.tensor([[0.5], [1.0], [3.0], [7.0]])  # rows of different lengths
    b = torch.randn(3, 6, generator=g) * torch.tensor([[2.0], [0.2], [5.0]])
    case = "cosine_similarity_matrix(a of shape (4, 6), b of shape (3, 6))"
    got, problem = _call(cosine_similarity_matrix, case, a, b)
    if problem is not None:
        return problem
    if got is None:
        return not_yet(f"{case} returned None: return the (4, 3) matrix of cosines.")
    expected = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T  # (N, M)
    if not isinstance(got, torch.Tensor):
        return not_yet(f"{case} should return a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) == (3, 4):
        return not_yet(f"{case} returned shape (3, 4); the rows belong to a and the columns to b: (4, 3).")
    if tuple(got.shape) == (4, 3):
        wrong = {"a @ b.T": a @ b.T,
                 "only a's rows normalised": F.normalize(a, dim=1) @ b.T,
                 "only b's rows normalised": a @ F.normalize(b, dim=1).T}
        for what, value in wrong.items():
            if torch.allclose(got, value, atol=1e-4):
                return not_yet(f"{case} equals {what}: a plain dot product grows with the lengths of the "
                               f"vectors. Divide by the length of both vectors (or normalise the rows of both "
                               f"a and b first).")
    if isinstance(got, torch.Tensor) and got.numel() and got.abs().max().item() > 1 + 1e-4:
        return not_yet(f"{case} contains {got.abs().max().item():.3g}; a cosine lies between -1 and 1. Divide each "
                       f"row by its own length (normalise along dim=1, the D axis).")
    problem = compare_tensors(case, got, expected, atol=1e-4,
                              hint="cos(u, v) = u . v / (|u| |v|) for every row u of a and row v of b.")
    return problem if problem is not None else correct(
        "dividing by both lengths leaves only the angle: 1 for the same direction, 0 for perpendicular.")


def check_paper_embedding(paper_embedding) -> Feedback:
    """`paper_embedding(ids, table (V, D))` -> table[ids] * sqrt(D) (section 3.4)."""
    table, ids = _example(2, vocab_size=11, d_model=16)  # sqrt(D) = 4, sqrt(V) = 3.32, D = 16
    V, D = table.shape
    case = f"paper_embedding(ids of shape {tuple(ids.shape)}, table of shape ({V}, {D}))"
    got, problem = _call(paper_embedding, case, ids, table)
    if problem is not None:
        return problem
    if got is None:
        return not_yet(f"{case} returned None: return the looked-up rows times the factor of section 3.4.")
    rows = table[ids]  # (B, L, D)
    expected = rows * math.sqrt(D)
    if isinstance(got, torch.Tensor) and got.shape == rows.shape and got.dtype.is_floating_point:
        ratio = (got.detach() / rows).median().item()  # the factor that was applied, if it was one number
        factors = {1.0: "the rows are not scaled: multiply them by sqrt(d_model)",
                   float(D): f"that is d_model = {D}; the factor is its square root, sqrt({D}) = {math.sqrt(D):g}",
                   1 / math.sqrt(D): "the rows are divided by sqrt(d_model); the paper multiplies by it",
                   math.sqrt(V): f"that is sqrt(V) = sqrt({V}), the vocabulary size (table.shape[0]); the factor "
                                 f"uses d_model, the width of a row (table.shape[1])"}
        for factor, message in factors.items():
            if abs(ratio - factor) < 1e-4 * max(1.0, factor) and torch.allclose(got, rows * factor, atol=1e-4):
                return not_yet(f"{case}: your rows are {ratio:.4g} times the table's rows; {message}.")
    problem = compare_tensors(case, got, expected, hint=f"Expected table[ids] * sqrt({D}).")
    return problem if problem is not None else correct(
        f"rows times sqrt(d_model) = sqrt({D}) = {math.sqrt(D):g}; the output layer uses the same table unscaled.")
