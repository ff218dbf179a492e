import torch

from transformer_edu.exercises import ch10


def good_count(vocab, d_model, d_ff, n):
    attention = 4 * d_model * d_model + 4 * d_model
    ffn = 2 * d_model * d_ff + d_ff + d_model
    return vocab * d_model + n * (attention + ffn + 4 * d_model) + n * (2 * attention + ffn + 6 * d_model)


def test_parameter_formula_checker():
    assert ch10.check_parameter_formula(good_count)
    twice = ch10.check_parameter_formula(lambda v, d, f, n: good_count(v, d, f, n) + v * d)
    assert not twice and "twice" in twice.message
    assert "returned None" in ch10.check_parameter_formula(lambda *a: None).message
    assert "difference" in ch10.check_parameter_formula(lambda *a: 5).message


def test_softmax_checker():
    assert ch10.check_softmax_with_temperature(lambda z, t: torch.softmax(z / t, dim=-1))
    assert "divide" in ch10.check_softmax_with_temperature(lambda z, t: torch.softmax(z * t, dim=-1)).message
    assert "LAST axis" in ch10.check_softmax_with_temperature(lambda z, t: torch.softmax(z / t, dim=0)).message
    assert "renormalized" in ch10.check_softmax_with_temperature(lambda z, t: torch.softmax(z, -1) ** (1 / t)).message


def test_tied_logits_checker():
    assert ch10.check_tied_logits(lambda h, e: h @ e.T)
    assert "sqrt" in ch10.check_tied_logits(lambda h, e: h @ e.T * 8 ** 0.5).message
    assert "shape" in ch10.check_tied_logits(lambda h, e: h @ e.T[:, :3]).message
