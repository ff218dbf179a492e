import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu import Encoder, EncoderLayer, count_parameters
from transformer_edu.exercises import ch08
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def fixed_layer(layer, x, mask):
    z = layer.self_attn_norm(x + layer.self_attn(x, x, x, mask=mask))
    return layer.ff_norm(z + layer.feed_forward(z))


def test_buggy_encoder_layer_is_wrong_and_the_fix_is_right():
    layer, x, mask = ch08._layer_case()
    with torch.no_grad():
        expected = layer(x, mask)
        assert not torch.allclose(ch08.buggy_encoder_layer(layer, x, mask), expected, atol=1e-4)
        torch.testing.assert_close(fixed_layer(layer, x, mask), expected)
    assert ch08.check_encoder_layer_fix(fixed_layer)


def test_encoder_layer_fix_recognises_the_same_bug_and_hides_the_answer_at_first():
    first = ch08.check_encoder_layer_fix(ch08.buggy_encoder_layer)
    assert not first and "still has the bug" in first.message and "z + layer" not in first.message
    ch08.check_encoder_layer_fix(ch08.buggy_encoder_layer)
    assert "z + layer.feed_forward(z)" in ch08.check_encoder_layer_fix(ch08.buggy_encoder_layer).message


@pytest.mark.parametrize("wrong, words", [
    (lambda layer, x, mask: fixed_layer(layer, x, None), "padding mask"),
    (lambda layer, x, mask: layer.ff_norm(layer.feed_forward(
        layer.self_attn_norm(x + layer.self_attn(x, x, x, mask=mask)))), "residual"),
    (lambda layer, x, mask: None, "returned None"),
    (lambda layer, x, mask: 1 / 0, "raised"),
])
def test_encoder_layer_fix_names_other_mistakes(wrong, words):
    feedback = ch08.check_encoder_layer_fix(wrong)
    assert not feedback and words in feedback.message


def test_order_prediction():
    plain, with_pe = ch08._shuffle_experiment()
    assert plain < 1e-5 < 0.1 < with_pe  # the claim the checker explains
    assert ch08.check_order_prediction("a")
    for wrong in ("b", "c"):
        reset_tries()
        feedback = ch08.check_order_prediction(wrong)
        assert not feedback and "Answer a" not in feedback.message
    assert "letters" in ch08.check_order_prediction(None).message


def test_parameter_count():
    for d_model, d_ff in [(512, 2048), (16, 40)]:
        assert ch08.encoder_layer_parameters(d_model, d_ff) == count_parameters(EncoderLayer(d_model, 4, d_ff))
    assert ch08.check_parameter_count(ch08.encoder_layer_parameters)
    for wrong, words in [(lambda d, f: ch08.encoder_layer_parameters(d, f) - 4 * d, "LayerNorms are missing"),
                         (lambda d, f: 4 * d * d + 2 * d * f, "biases are missing"),
                         (lambda d, f: ch08.encoder_layer_parameters(d, f) - 2 * d, "two LayerNorms"),
                         (lambda d, f: None, "returned None")]:
        reset_tries()
        feedback = ch08.check_parameter_count(wrong)
        assert not feedback and words in feedback.message
    first = ch08.check_parameter_count(lambda d, f: 7)
    assert "3,152,384" not in first.message


def test_quiz_numbers_match_the_package():
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch08.json"
    quiz = {q["id"]: q for q in json.loads(path.read_text())["questions"]}
    assert quiz["layer-params"]["answer"] == count_parameters(EncoderLayer(512, 8, 2048))
    assert count_parameters(EncoderLayer(512, 16, 2048)) == count_parameters(EncoderLayer(512, 8, 2048))
    with torch.no_grad():
        _, w = Encoder(1, 512, 8, 2048).eval()(torch.randn(1, 10, 512), return_attention=True)
    assert quiz["encoder-weights"]["answer"] == w.encoder_self[0].numel()
