import math

import pytest
import torch
import torch.nn.functional as F

from transformer_edu.exercises import ch03


# --- exercise 1: a lookup as a matrix product ------------------------------------------------------------

def test_one_hot_lookup_solution_passes():
    solution = lambda ids, table: F.one_hot(ids, num_classes=table.shape[0]).to(table.dtype) @ table  # noqa: E731
    feedback = ch03.check_one_hot_lookup(solution)
    assert feedback and repr(feedback).startswith("Correct: ")


@pytest.mark.parametrize("wrong, words", [
    (lambda ids, table: None, "returned None"),
    (lambda ids, table: F.one_hot(ids, num_classes=table.shape[0]) @ table, "convert them to the table's dtype"),
    (lambda ids, table: F.one_hot(ids).float() @ table, "pass num_classes=table.shape[0]"),
    (lambda ids, table: F.one_hot(ids, num_classes=table.shape[0]).float(), "that is the one-hot tensor itself"),
    (lambda ids, table: table[ids], "by indexing (IndexBackward0)"),
    (lambda ids, table: F.embedding(ids, table), "by indexing (EmbeddingBackward0)"),
    (lambda ids, table: F.one_hot(ids, num_classes=table.shape[0]).float() @ table * 2, "values differ"),
    (lambda ids, table: F.one_hot(ids, num_classes=table.shape[1]).float() @ table.T, "raised RuntimeError"),
    (lambda ids, table: F.one_hot(ids, num_classes=table.shape[0]).float().sum(-1, keepdim=True), "should have shape"),
])
def test_one_hot_lookup_wrong_answers_are_explained(wrong, words):
    feedback = ch03.check_one_hot_lookup(wrong)
    assert not feedback
    assert words in feedback.message, feedback.message


# --- exercise 2: cosine similarity -----------------------------------------------------------------------

def test_cosine_similarity_solution_passes():
    assert ch03.check_cosine_similarity(lambda a, b: F.normalize(a, dim=1) @ F.normalize(b, dim=1).T)
    assert ch03.check_cosine_similarity(  # the broadcasting form is also right
        lambda a, b: F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1))


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: None, "returned None"),
    (lambda a, b: a @ b.T, "equals a @ b.T"),
    (lambda a, b: F.normalize(a, dim=1) @ b.T, "only a's rows normalised"),
    (lambda a, b: a @ F.normalize(b, dim=1).T, "only b's rows normalised"),
    (lambda a, b: F.normalize(b, dim=1) @ F.normalize(a, dim=1).T, "returned shape (3, 4)"),
    (lambda a, b: F.normalize(a, dim=0) @ F.normalize(b, dim=0).T, "normalise along dim=1"),
    (lambda a, b: F.normalize(a, dim=1) @ F.normalize(b, dim=1).T * 0.5, "values differ"),
    (lambda a, b: (a @ b.T).tolist(), "should return a torch.Tensor"),
    (lambda a, b: F.cosine_similarity(a, b), "raised RuntimeError"),
])
def test_cosine_similarity_wrong_answers_are_explained(wrong, words):
    feedback = ch03.check_cosine_similarity(wrong)
    assert not feedback
    assert words in feedback.message, feedback.message


# --- exercise 3: the scale factor ------------------------------------------------------------------------

def test_paper_embedding_solution_passes():
    feedback = ch03.check_paper_embedding(lambda ids, table: table[ids] * math.sqrt(table.shape[1]))
    assert feedback and "sqrt(16) = 4" in feedback.message


@pytest.mark.parametrize("wrong, words", [
    (lambda ids, table: None, "returned None"),
    (lambda ids, table: table[ids], "the rows are not scaled"),
    (lambda ids, table: table[ids] * table.shape[1], "that is d_model = 16"),
    (lambda ids, table: table[ids] / math.sqrt(table.shape[1]), "divided by sqrt(d_model)"),
    (lambda ids, table: table[ids] * math.sqrt(table.shape[0]), "the vocabulary size"),
    (lambda ids, table: table[ids].sum(-1), "should have shape"),
    (lambda ids, table: table[ids + 1] * 4, "values differ"),
])
def test_paper_embedding_wrong_answers_are_explained(wrong, words):
    feedback = ch03.check_paper_embedding(wrong)
    assert not feedback
    assert words in feedback.message, feedback.message
