import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu import DecoderLayer, MultiHeadAttention, count_parameters
from transformer_edu.exercises import ch09
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def fixed_layer(layer, y, tgt_mask, memory, src_mask):
    a = layer.self_attn_norm(y + layer.self_attn(y, y, y, mask=tgt_mask))
    c = layer.cross_attn_norm(a + layer.cross_attn(a, memory, memory, mask=src_mask))
    return layer.ff_norm(c + layer.feed_forward(c))


def test_buggy_decoder_layer_is_wrong_and_the_fix_is_right():
    layer, y, tgt_mask, memory, src_mask = ch09._layer_case()
    with torch.no_grad():
        expected = layer(y, tgt_mask, memory, src_mask)
        assert not torch.allclose(ch09.buggy_decoder_layer(layer, y, tgt_mask, memory, src_mask), expected, atol=1e-4)
        torch.testing.assert_close(fixed_layer(layer, y, tgt_mask, memory, src_mask), expected)
    assert ch09.check_decoder_layer_fix(fixed_layer)


def test_decoder_layer_fix_recognises_the_same_bug_and_hides_the_answer_at_first():
    first = ch09.check_decoder_layer_fix(ch09.buggy_decoder_layer)
    assert not first and "still has the bug" in first.message and "cross_attn(a" not in first.message
    ch09.check_decoder_layer_fix(ch09.buggy_decoder_layer)
    assert "cross_attn(a, memory" in ch09.check_decoder_layer_fix(ch09.buggy_decoder_layer).message


@pytest.mark.parametrize("wrong, words", [
    (lambda layer, y, t, m, s: fixed_layer(layer, y, None, m, s), "causal mask"),
    (lambda layer, y, t, m, s: fixed_layer(layer, y, t, m, None), "source padding mask"),
    (lambda layer, y, t, m, s: None, "returned None"),
    (lambda layer, y, t, m, s: 1 / 0, "raised"),
])
def test_decoder_layer_fix_names_other_mistakes(wrong, words):
    feedback = ch09.check_decoder_layer_fix(wrong)
    assert not feedback and words in feedback.message


def test_dependence_prediction():
    assert ch09._changed_positions() == [2, 3, 4, 5]
    assert ch09.check_dependence_prediction(4)
    for wrong, words in [(1, "more than one"), (3, "its own key"), (6, "not every"), (0, "count the query")]:
        reset_tries()
        feedback = ch09.check_dependence_prediction(wrong)
        assert not feedback and words in feedback.message and "[2, 3, 4, 5]" not in feedback.message
    assert "whole number" in ch09.check_dependence_prediction(None).message


def test_cross_attention_shapes():
    attention = MultiHeadAttention(16, 4).eval()
    with torch.no_grad():
        _, weights = attention(torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16),
                               return_attention=True)
    right = {"queries": (2, 4, 5, 4), "keys": (2, 4, 7, 4), "values": (2, 4, 7, 4), "weights": tuple(weights.shape)}
    assert ch09.check_cross_attention_shapes(right)
    swapped = dict(right, queries=(2, 4, 7, 4))
    first = ch09.check_cross_attention_shapes(swapped)
    assert not first and "(2, 4, 5, 4)" not in first.message
    ch09.check_cross_attention_shapes(swapped)
    assert "(2, 4, 5, 4)" in ch09.check_cross_attention_shapes(swapped).message
    reset_tries()
    wide = ch09.check_cross_attention_shapes(dict(right, keys=(2, 4, 7, 16)))
    assert "d_k" in wide.message
    assert "four" in ch09.check_cross_attention_shapes(dict(right, weights=(4, 5, 7))).message


def test_quiz_numbers_match_the_package():
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch09.json"
    quiz = {q["id"]: q for q in json.loads(path.read_text())["questions"]}
    assert quiz["decoder-layer-params"]["answer"] == count_parameters(DecoderLayer(512, 8, 2048))
    assert quiz["cross-weights"]["answer"] == 8 * 10 * 12
