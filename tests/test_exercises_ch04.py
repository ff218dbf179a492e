import math

import pytest
import torch

from transformer_edu import sinusoidal_table
from transformer_edu.exercises import ch04


def good_pe(positions, d_model):
    pos = positions.to(torch.float64)[:, None]  # (N, 1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (N, D/2)
    out = torch.empty(len(positions), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return out.float()


def good_rotation(k, d_model):
    blocks = []
    for two_i in range(0, d_model, 2):
        t = k / 10000 ** (two_i / d_model)
        blocks.append(torch.tensor([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]]))
    return torch.block_diag(*blocks)


def good_distance(k, d_model):
    return sum(math.cos(k / 10000 ** (two_i / d_model)) for two_i in range(0, d_model, 2))


def test_pe_checker_accepts_the_formula():
    feedback = ch04.check_positional_encoding(good_pe)
    assert feedback and repr(feedback).startswith("Correct:")


def _pe_with(positions, d_model, *, swap=False, halves=False, every_dim=False, no_two=False):
    pos = positions.to(torch.float64)[:, None]
    if every_dim:
        dims = torch.arange(d_model, dtype=torch.float64)
        angle = pos / 10000 ** (dims / d_model)
        return torch.where(dims.long() % 2 == 0, torch.sin(angle), torch.cos(angle)).float()
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / 10000 ** ((two_i / 2 if no_two else two_i) / d_model)
    s, c = (torch.cos(angle), torch.sin(angle)) if swap else (torch.sin(angle), torch.cos(angle))
    if halves:
        return torch.cat([s, c], dim=1).float()
    out = torch.empty(len(positions), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = s, c
    return out.float()


@pytest.mark.parametrize("mistake, words", [
    (dict(swap=True), "swapped"),
    (dict(halves=True), "interleaves"),
    (dict(every_dim=True), "shares one frequency"),
    (dict(no_two=True), "not the pair number"),
])
def test_pe_checker_names_typical_mistakes(mistake, words):
    feedback = ch04.check_positional_encoding(lambda p, d: _pe_with(p, d, **mistake))
    assert not feedback and words in feedback.message


def test_pe_checker_other_failures():
    assert "returned None" in ch04.check_positional_encoding(lambda p, d: None).message
    index_not_value = ch04.check_positional_encoding(lambda p, d: good_pe(torch.arange(len(p)) + 1, d))
    assert not index_not_value and "position 0" in index_not_value.message
    wrong_shape = ch04.check_positional_encoding(lambda p, d: good_pe(p, d)[:, : d // 2])
    assert not wrong_shape and "shape" in wrong_shape.message
    raised = ch04.check_positional_encoding(lambda p, d: p.foo)
    assert not raised and "raised" in raised.message


@pytest.mark.parametrize("k, d_model", [(1, 4), (3, 8), (25, 32)])
def test_rotation_reference_moves_positions(k, d_model):
    table = sinusoidal_table(60, d_model, torch.float64)
    m = ch04.rotation_reference(k, d_model)
    torch.testing.assert_close(table[:-k] @ m.T, table[k:])


def test_rotation_checker():
    assert ch04.check_rotation_matrix(good_rotation)
    transposed = ch04.check_rotation_matrix(lambda k, d: good_rotation(k, d).T)
    assert not transposed and "PE(pos - k)" in transposed.message
    always_one = ch04.check_rotation_matrix(lambda k, d: good_rotation(1, d))
    assert not always_one and "M_1" in always_one.message
    dense = ch04.check_rotation_matrix(lambda k, d: good_rotation(k, d) + 0.01)
    assert not dense and "block-diagonal" in dense.message
    wrong_frequency = ch04.check_rotation_matrix(lambda k, d: good_rotation(k, 2 * d)[:d, :d])
    assert not wrong_frequency and "first wrong block is pair i=1" in wrong_frequency.message
    assert "returned None" in ch04.check_rotation_matrix(lambda k, d: None).message


@pytest.mark.parametrize("k, d_model", [(0, 8), (1, 16), (7, 64), (-7, 64)])
def test_distance_reference_matches_table(k, d_model):
    table = sinusoidal_table(30, d_model, torch.float64)
    measured = float(table[10] @ table[10 + k])
    assert abs(ch04.distance_reference(k, d_model) - measured) < 1e-9


def test_distance_checker():
    assert ch04.check_dot_product_at_distance(good_distance)
    double = ch04.check_dot_product_at_distance(lambda k, d: 2 * good_distance(k, d))
    assert not double and "d_model/2 frequencies" in double.message
    sines = ch04.check_dot_product_at_distance(
        lambda k, d: sum(math.sin(k / 10000 ** (j / d)) for j in range(0, d, 2)))
    assert not sines and "not a sine" in sines.message
    constant = ch04.check_dot_product_at_distance(lambda k, d: 1.0)
    assert not constant and "sin^2 + cos^2 = 1" in constant.message
    assert "one number" in ch04.check_dot_product_at_distance(lambda k, d: "x").message
    assert ch04.check_dot_product_at_distance(lambda k, d: torch.tensor(good_distance(k, d)))
