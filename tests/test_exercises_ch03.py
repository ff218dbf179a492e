import dataclasses
import inspect
import json
import math
from importlib import resources

import pytest
import torch

from transformer_edu import TokenEmbedding, Transformer, TransformerConfig, count_parameters
from transformer_edu.exercises import ch03
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def solution_embedding(ids, table):
    return table[ids] * math.sqrt(table.shape[1])


def test_paper_embedding_accepts_solution_and_package():
    assert ch03.check_paper_embedding(solution_embedding)

    def with_package(ids, table):
        layer = TokenEmbedding(*table.shape)
        with torch.no_grad():
            layer.table.weight.copy_(table)
        return layer(ids)

    assert ch03.check_paper_embedding(with_package)


def test_buggy_embedding_is_wrong_but_right_on_a_square_table():
    ids = torch.tensor([[0, 2, 1]])
    square, wide = torch.randn(4, 4), torch.randn(11, 16)
    torch.testing.assert_close(ch03.buggy_token_embedding(ids, square), solution_embedding(ids, square))
    assert not torch.allclose(ch03.buggy_token_embedding(ids, wide), solution_embedding(ids, wide))
    assert max(map(len, inspect.getsource(ch03.buggy_token_embedding).splitlines())) <= 82


@pytest.mark.parametrize("wrong, words", [
    (ch03.buggy_token_embedding, "still the bug of buggy_token_embedding"),
    (lambda ids, table: table[ids], "not scaled"),
    (lambda ids, table: table[ids] * table.shape[1], "square root"),
    (lambda ids, table: table[ids] / math.sqrt(table.shape[1]), "divided"),
    (lambda ids, table: None, "returned None"),
    (lambda ids, table: table[ids] + 1.0, "values differ"),
    (lambda ids, table: 1 / 0, "ZeroDivisionError"),
])
def test_paper_embedding_names_mistakes_without_the_answer(wrong, words):
    feedback = ch03.check_paper_embedding(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "table.shape[1]" not in feedback.message


def test_gradient_rows_experiment_and_checker():
    rows, used = ch03.shared_table_gradient_rows()
    assert (rows, used) == (100, 7)
    assert ch03.check_gradient_rows_prediction(100)
    assert ch03.check_gradient_rows_prediction(100.0)
    lookup_only = ch03.check_gradient_rows_prediction(7)
    assert not lookup_only and "second job" in lookup_only.message and "Measured" not in lookup_only.message
    other = ch03.check_gradient_rows_prediction(50)
    assert not other and "two places" in other.message
    third = ch03.check_gradient_rows_prediction(0)
    assert "Measured: 100 of 100" in third.message  # the third wrong try shows the measurement
    reset_tries()
    assert "prediction first" in ch03.check_gradient_rows_prediction(None).message
    assert "whole number" in ch03.check_gradient_rows_prediction(2.5).message


def test_embedding_only_gradient_touches_only_used_rows():
    layer = TokenEmbedding(100, 8)
    layer(torch.tensor([[5, 6, 7, 2]])).sum().backward()
    assert int((layer.weight.grad.abs().sum(1) > 0).sum()) == 4


@pytest.mark.parametrize("answer, words", [
    (37000 * 512, "that is one table"),
    (3 * 37000 * 512, "all three"),
    (2 * 37000 * 512 + 37000, "no bias"),
    (12345, "count the tables"),
    (None, "answer first"),
    ("a lot", "whole number"),
])
def test_sharing_savings_names_mistakes(answer, words):
    feedback = ch03.check_sharing_savings(answer)
    assert not feedback and words in feedback.message
    assert "37,888,000" not in feedback.message


def test_sharing_savings_matches_the_package():
    assert ch03.check_sharing_savings(37_888_000)
    base = TransformerConfig.base()
    with torch.device("meta"):
        shared = count_parameters(Transformer(base))
        separate = count_parameters(Transformer(dataclasses.replace(base, share_embeddings=False)))
    assert separate - shared == 37_888_000


def test_quiz_numbers_match_the_package():
    quiz = {q["id"]: q for q in json.loads(
        resources.files("transformer_edu").joinpath("quizzes/ch03.json").read_text())["questions"]}
    assert count_parameters(TokenEmbedding(37000, 512)) == quiz["table-size"]["answer"]
    assert math.isclose(TokenEmbedding(10, 512).scale, quiz["scale"]["answer"], abs_tol=quiz["scale"]["tolerance"])
