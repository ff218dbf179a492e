import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu import Transformer, TransformerConfig, count_parameters, padding_mask, target_mask
from transformer_edu.exercises import ch10
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def good_count(vocab_size, d_model, d_ff, n_layers):
    attention = 4 * (d_model * d_model + d_model)
    ffn = 2 * d_model * d_ff + d_ff + d_model
    norm = 2 * d_model
    return vocab_size * d_model + n_layers * ((attention + ffn + 2 * norm) + (2 * attention + ffn + 3 * norm))


def test_parameter_formula():
    assert ch10.check_parameter_formula(good_count)
    for wrong, words in [(lambda v, d, f, n: good_count(v, d, f, n) + v * d, "twice"),
                         (lambda v, d, f, n: good_count(v, d, f, n) + 2 * v * d, "three"),
                         (lambda v, d, f, n: good_count(v, d, f, n) - n * (4 * d * d + 6 * d), "second attention"),
                         (lambda v, d, f, n: good_count(v, d, f, n) - v * d, "missing"),
                         (lambda v, d, f, n: None, "returned None"),
                         (lambda v, d, f, n: 1 / 0, "raised")]:
        reset_tries()
        feedback = ch10.check_parameter_formula(wrong)
        assert not feedback and words in feedback.message
    first = ch10.check_parameter_formula(lambda v, d, f, n: 5)
    assert "Expected" not in first.message


def test_tied_prediction():
    tied, untied = ch10._copy_rates()
    assert tied > 0.1 > 0.02 > untied  # the claim the checker explains: far above 1 in V = 1%, untied near it
    assert ch10.check_tied_prediction("b")
    for wrong in ("a", "c"):
        reset_tries()
        feedback = ch10.check_tied_prediction(wrong)
        assert not feedback and "Answer b" not in feedback.message
    assert "letters" in ch10.check_tied_prediction(3).message


def fixed_forward(model, src, tgt):
    src_mask = padding_mask(src, model.config.pad_id)
    memory = model.encoder(model.src_position(model.src_embed(src)), src_mask)
    h = model.decoder(model.tgt_position(model.tgt_embed(tgt)), memory, src_mask, target_mask(tgt, 0))
    return h @ model.output.weight.T


def test_buggy_forward_is_wrong_and_the_fix_is_right():
    model, src, tgt = ch10._forward_case()
    with torch.no_grad():
        expected = model(src, tgt)
        assert not torch.allclose(ch10.buggy_transformer_forward(model, src, tgt), expected, atol=1e-4)
        torch.testing.assert_close(fixed_forward(model, src, tgt), expected)
    assert ch10.check_forward_fix(fixed_forward)


def test_forward_fix_feedback():
    first = ch10.check_forward_fix(ch10.buggy_transformer_forward)
    assert not first and "still has the bug" in first.message and "target_mask" not in first.message
    ch10.check_forward_fix(ch10.buggy_transformer_forward)
    assert "target_mask" in ch10.check_forward_fix(ch10.buggy_transformer_forward).message
    reset_tries()
    scaled = ch10.check_forward_fix(lambda m, s, t: fixed_forward(m, s, t) * m.config.d_model ** 0.5)
    assert "sqrt(d_model)" in scaled.message
    assert "returned None" in ch10.check_forward_fix(lambda m, s, t: None).message


def test_quiz_numbers_match_the_package():
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch10.json"
    quiz = {q["id"]: q for q in json.loads(path.read_text())["questions"]}
    base = TransformerConfig.base()
    with torch.device("meta"):
        tied, untied = Transformer(base), Transformer(base.replace(share_embeddings=False))
    assert base.src_vocab_size == 37000
    assert quiz["base-params"]["answer"] == count_parameters(tied) == good_count(37000, 512, 2048, 6)
    assert quiz["untied-extra"]["answer"] == count_parameters(untied) - count_parameters(tied)
