import json
from importlib import resources

import pytest
import torch

from transformer_edu import Transformer, TransformerConfig, padding_mask, target_mask
from transformer_edu.exercises import ch01
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def good_shapes(B, S, T, H):
    return {"encoder_self": (B, H, S, S), "decoder_self": (B, H, T, T), "cross": (B, H, T, S)}


def test_attention_shapes_accepts_solution():
    assert ch01.check_attention_shapes(good_shapes)


@pytest.mark.parametrize("wrong, words", [
    (lambda B, S, T, H: dict(good_shapes(B, S, T, H), cross=(B, H, S, T)), "swapped"),
    (lambda B, S, T, H: dict(good_shapes(B, S, T, H), encoder_self=(H, B, S, S)), "batch axis comes first"),
    (lambda B, S, T, H: dict(good_shapes(B, S, T, H), decoder_self=(B, T, T)), "4 axes"),
    (lambda B, S, T, H: {"encoder_self": None, "decoder_self": None, "cross": None}, "tuple of 4 ints"),
    (lambda B, S, T, H: dict(good_shapes(B, S, T, H), cross=(B, H, T, T)), "which sequence"),
    (lambda B, S, T, H: 1 / 0, "raised ZeroDivisionError"),
])
def test_attention_shapes_names_mistakes_without_the_answer(wrong, words):
    feedback = ch01.check_attention_shapes(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "(2, 4, 5, 7)" not in feedback.message  # the expected cross shape is not given on a first try


def test_attention_shapes_reveals_after_repeated_tries():
    wrong = lambda B, S, T, H: dict(good_shapes(B, S, T, H), cross=(B, H, S, T))  # noqa: E731
    messages = [ch01.check_attention_shapes(wrong).message for _ in range(REVEAL_AFTER)]
    assert all("(2, 4, 5, 7)" not in m for m in messages[:-1])
    assert "cross (2, 4, 5, 7)" in messages[-1]


def _attention_of_small_model(src, tgt):
    model = Transformer(TransformerConfig.small(vocab_size=16)).eval()
    with torch.no_grad():
        memory, enc = model.encoder(model.src_position(model.src_embed(src)), padding_mask(src, 0),
                                    return_attention=True)
        y = model.tgt_position(model.tgt_embed(tgt))
        _, dec = model.decoder(y, memory, padding_mask(src, 0), target_mask(tgt, 0), return_attention=True)
    return enc, dec


def test_the_shapes_match_the_model():
    enc, dec = _attention_of_small_model(torch.randint(3, 16, (2, 7)), torch.randint(3, 16, (2, 5)))
    expected = good_shapes(2, 7, 5, TransformerConfig.small(vocab_size=16).n_heads)
    assert tuple(enc.encoder_self[0].shape) == expected["encoder_self"]
    assert tuple(dec.decoder_self[0].shape) == expected["decoder_self"]
    assert tuple(dec.cross[0].shape) == expected["cross"]


def test_decoder_sublayers():
    assert ch01.check_decoder_sublayers(["masked self-attention", "encoder-decoder attention", "feed-forward"])
    wrong = ch01.check_decoder_sublayers(["self-attention", "masked self-attention", "feed-forward"])
    assert not wrong and "no unmasked self-attention" in wrong.message
    assert "three" in ch01.check_decoder_sublayers(["masked self-attention", "feed-forward"]).message
    reset_tries()
    order = ch01.check_decoder_sublayers(["encoder-decoder attention", "masked self-attention", "feed-forward"])
    assert "wrong order" in order.message and "The order is" not in order.message
    twice = ch01.check_decoder_sublayers(["masked self-attention", "masked self-attention", "feed-forward"])
    assert "appears twice" in twice.message
    assert "not one of" in ch01.check_decoder_sublayers(["attention"]).message


def test_long_sequence_prediction():
    grads = ch01.attention_gradient_by_length()
    assert 3.0 < grads[50] / grads[200] < 5.0  # the experiment really shows about 1/n
    assert ch01.check_long_sequence_prediction("b")
    assert ch01.check_long_sequence_prediction("(B)")
    for wrong, words in [("a", "sum to"), ("c", "one step")]:
        feedback = ch01.check_long_sequence_prediction(wrong)
        assert not feedback and words in feedback.message
        assert "Measured" not in feedback.message  # the measurement is the answer: only after repeated tries
    assert "prediction first" in ch01.check_long_sequence_prediction(None).message
    assert "one of" in ch01.check_long_sequence_prediction("d").message


def test_cost_comparison():
    assert ch01.check_cost_comparison(12.8, 512)
    assert ch01.check_cost_comparison(512 / 40, 512.0)
    cases = [((1 / 12.8, 512), "upside down"), ((40, 512), "cancel"), ((12.8, 512 ** 2), "solve for n"),
             ((12.8, 100), "set the two costs equal"), ((None, None), "None"), (("12.8", 512), "number")]
    for (ratio, crossover), words in cases:
        reset_tries()  # each case as a first try
        feedback = ch01.check_cost_comparison(ratio, crossover)
        assert not feedback and words in feedback.message, feedback.message
        assert "12.8" not in feedback.message or words == "number"


def test_quiz_numbers_match_the_package():
    quiz = json.loads(resources.files("transformer_edu").joinpath("quizzes/ch01.json").read_text())
    cross = next(q for q in quiz["questions"] if q["id"] == "cross-weights")
    src = torch.tensor([[5, 6, 7, 8, 9, 2], [10, 11, 12, 2, 0, 0]])  # the chapter's example
    tgt = torch.tensor([[1, 13, 14, 15], [1, 4, 5, 0]])
    _, dec = _attention_of_small_model(src, tgt)
    assert dec.cross[0].numel() == cross["answer"]
