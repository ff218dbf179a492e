"""Checkers for chapter 3, embeddings (paper section 3.4)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..config import TransformerConfig
from ..model import Transformer
from ._check import Feedback, checker, compare_tensors, correct, not_yet


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


@checker
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
                   math.sqrt(V): "this is still the bug of buggy_token_embedding: the factor is the square root of "
                                 "the wrong dimension of the table. Which of its two dimensions is d_model?"}
        for factor, message in factors.items():
            if abs(ratio - factor) < 1e-4 * max(1.0, factor) and torch.allclose(got, rows * factor, atol=1e-4):
                end = "" if message.endswith("?") else "."
                return not_yet(f"{case}: your rows are {ratio:.4g} times the table's rows; {message}{end}")
    problem = compare_tensors(case, got, expected, hint="Each looked-up row should be multiplied by one number, "
                                                         "the factor of section 3.4.")
    return problem if problem is not None else correct(
        f"rows times sqrt(d_model) = sqrt({D}) = {math.sqrt(D):g}; the output layer uses the same table unscaled.")


def buggy_token_embedding(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """The paper's input embedding (section 3.4): the rows of `table` (V, D)
    for `ids`, multiplied by sqrt(d_model)."""
    d_model = len(table)
    return table[ids] * math.sqrt(d_model)  # (..., D)


def shared_table_gradient_rows(vocab_size: int = 100, seed: int = 0) -> tuple[int, int]:
    """(rows of the shared table with a nonzero gradient after one loss on a small batch, distinct ids in it).

    A small Transformer with one table shared by both embeddings and the output layer, one source sentence of 4
    ids and a target of 3, cross-entropy on the next-token logits, one backward pass."""
    torch.manual_seed(seed)
    model = Transformer(TransformerConfig.small(vocab_size=vocab_size)).eval()  # eval: no dropout
    src = torch.tensor([[5, 6, 7, 2]])  # (B, S)
    tgt_in, tgt_out = torch.tensor([[1, 8, 9]]), torch.tensor([[8, 9, 2]])  # (B, T) decoder input and target
    logits = model(src, tgt_in)  # (B, T, V)
    F.cross_entropy(logits.reshape(-1, vocab_size), tgt_out.reshape(-1)).backward()
    grad = model.src_embed.weight.grad  # (V, D), the one shared table
    used = len(set(src.flatten().tolist()) | set(tgt_in.flatten().tolist()) | set(tgt_out.flatten().tolist()))
    return int((grad.abs().sum(dim=1) > 0).sum()), used


@checker
def check_gradient_rows_prediction(prediction) -> Feedback:
    """`prediction`: how many of the 100 rows of the shared table get a nonzero gradient after one backward
    pass of the full model (see shared_table_gradient_rows). Runs the experiment."""
    if prediction is None:
        return not_yet("write your prediction first: a whole number of rows between 0 and 100.")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or prediction != int(prediction):
        return not_yet(f"the prediction should be a whole number of rows, got {prediction!r}.")
    rows, used = shared_table_gradient_rows()
    measured = f"Measured: {rows} of 100 rows have a nonzero gradient; the batch uses {used} distinct ids."
    if int(prediction) == rows:
        return correct(f"the measurement agrees: {rows} of 100 rows have a nonzero gradient, though the batch uses "
                       f"only {used} distinct ids. As embeddings the table gets gradient only in the rows the batch "
                       f"looks up, "
                       f"but as the output layer every row scores every position: the softmax's gradient, p - "
                       f"one_hot(target), is nonzero for every vocabulary entry, so every row moves in every "
                       f"batch.")
    if int(prediction) in (used, used - 1, 4, 3, 7):
        return not_yet("that counts the rows the embeddings look up, as in the experiment above. But this table "
                       "has a second job in this model: where else is it used, and which rows does that use touch?",
                       answer=measured)
    return not_yet("not what the experiment measures. Think of the two places the shared table is used: the "
                   "lookups at the input, and the scores at the output. Which rows does each one touch?",
                   answer=measured)


@checker
def check_sharing_savings(saved) -> Feedback:
    """`saved`: how many parameters the paper's base model saves by sharing one table between the two embeddings
    and the output layer (V = 37000, d_model = 512), compared with three separate tables."""
    V, D = 37000, 512
    expected = 2 * V * D
    reveal = f"Expected 2 x {V} x {D} = {expected:,}."
    if saved is None:
        return not_yet("write your answer first: a whole number of parameters.")
    if isinstance(saved, bool) or not isinstance(saved, (int, float)) or saved != int(saved):
        return not_yet(f"the answer should be a whole number of parameters, got {saved!r}.")
    saved = int(saved)
    if saved == expected:
        return correct(f"three V x d_model tables become one: 2 x {V} x {D} = {expected:,} parameters saved: "
                       f"without sharing the package's base model would have about 101 million parameters instead "
                       f"of 63 million.")
    if saved == V * D:
        return not_yet("that is one table. Without sharing there are three (source embedding, target embedding, "
                       "output layer); with sharing, one. How many fewer is that?", answer=reveal)
    if saved == 3 * V * D:
        return not_yet("that is all three tables; sharing keeps one of them.", answer=reveal)
    if saved in (2 * V * D + V, 2 * V * D + 2 * V, 2 * V * D - V):
        return not_yet("close: the package's output layer has no bias, so only the weight matrices count.",
                       answer=reveal)
    return not_yet(f"not the right count. Each table is V x d_model = {V} x {D}; count the tables without and "
                   f"with sharing.", answer=reveal)
