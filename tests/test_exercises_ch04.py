import math

import pytest
import torch

from transformer_edu import sinusoidal_table
from transformer_edu.exercises import ch04
from transformer_edu.exercises._check import reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def good_pe(positions, d_model):
    pos = positions.to(torch.float64)[:, None]  # (N, 1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (N, D/2)
    out = torch.empty(len(positions), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return out.float()


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
    (dict(no_two=True), "still the bug of buggy_positional_encoding"),
])
def test_pe_checker_names_typical_mistakes(mistake, words):
    feedback = ch04.check_positional_encoding(lambda p, d: _pe_with(p, d, **mistake))
    assert not feedback and words in feedback.message
    assert "sin(pos / 10000^(2i/d_model))" not in feedback.message  # the formula only after repeated tries


def test_buggy_positional_encoding_is_wrong_but_plausible():
    positions = torch.arange(50)
    buggy = ch04.buggy_positional_encoding(positions, 16)
    right = sinusoidal_table(50, 16, torch.float64)
    torch.testing.assert_close(buggy[:, :2], right[:, :2])  # the first pair is right
    assert not torch.allclose(buggy, right)
    assert not ch04.check_positional_encoding(ch04.buggy_positional_encoding)
    assert ch04.check_positional_encoding(lambda p, d: sinusoidal_table(int(p.max()) + 1, d, torch.float64)[p])


def test_pe_checker_reveals_the_formula_on_the_third_wrong_try():
    wrong = lambda p, d: _pe_with(p, d, swap=True)  # noqa: E731
    messages = [ch04.check_positional_encoding(wrong).message for _ in range(3)]
    assert "10000^(2i/d_model)" not in messages[0] and "10000^(2i/d_model)" in messages[2]


def test_pe_checker_other_failures():
    assert "returned None" in ch04.check_positional_encoding(lambda p, d: None).message
    index_not_value = ch04.check_positional_encoding(lambda p, d: good_pe(torch.arange(len(p)) + 1, d))
    assert not index_not_value and "position 0" in index_not_value.message
    wrong_shape = ch04.check_positional_encoding(lambda p, d: good_pe(p, d)[:, : d // 2])
    assert not wrong_shape and "shape" in wrong_shape.message
    raised = ch04.check_positional_encoding(lambda p, d: p.foo)
    assert not raised and "raised" in raised.message


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
    reset_tries()
    constant = ch04.check_dot_product_at_distance(lambda k, d: 1.0)
    assert not constant and "sin^2 + cos^2" in constant.message and "Expected" not in constant.message
    assert "one number" in ch04.check_dot_product_at_distance(lambda k, d: "x").message
    assert ch04.check_dot_product_at_distance(lambda k, d: torch.tensor(good_distance(k, d)))


def solution_pairs(L, d_model):
    if L <= 2 * math.pi:
        return 0
    return min(d_model // 2, math.ceil((d_model / 2) * math.log(L / (2 * math.pi)) / math.log(10000)))


@pytest.mark.parametrize("L, d_model", ch04.WAVELENGTH_CASES)
def test_wavelength_reference_matches_the_table(L, d_model):
    omega = 1 / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    assert int((2 * math.pi / omega < L).sum()) == ch04.wavelength_count_reference(L, d_model)
    assert solution_pairs(L, d_model) == ch04.wavelength_count_reference(L, d_model)


def test_wavelength_checker():
    assert ch04.check_wavelength_count(solution_pairs)
    assert ch04.wavelength_count_reference(100, 512) == 77


@pytest.mark.parametrize("wrong, words", [
    (lambda L, d: 2 * ch04.wavelength_count_reference(L, d), "counted dimensions"),
    (lambda L, d: sum(10000 ** (t / d) < L for t in range(0, d, 2)), "2 pi radians"),
    (lambda L, d: sum(2 * math.pi * 10000 ** (t / 2 / d) < L for t in range(0, d, 2)), "even dimension 2i"),
    (lambda L, d: d // 2 - ch04.wavelength_count_reference(L, d), "longer than"),
    (lambda L, d: 3, "Solve"),
    (lambda L, d: None, "returned None"),
    (lambda L, d: 2.5, "whole number"),
])
def test_wavelength_checker_names_mistakes_without_the_answer(wrong, words):
    feedback = ch04.check_wavelength_count(wrong)
    assert not feedback and words in feedback.message, feedback.message
    assert "77 pairs" not in feedback.message


def test_quiz_numbers_match_the_package():
    import json
    from importlib import resources
    from transformer_edu import LearnedPositionalEncoding, count_parameters
    quiz = {q["id"]: q for q in json.loads(
        resources.files("transformer_edu").joinpath("quizzes/ch04.json").read_text())["questions"]}
    table = sinusoidal_table(300, 512, torch.float64)
    assert torch.allclose(table.norm(dim=1), torch.full((300,), float(quiz["pe-length"]["answer"]),
                                                        dtype=torch.float64))
    assert count_parameters(LearnedPositionalEncoding(512, max_len=1024)) == quiz["learned-parameters"]["answer"]


def test_the_printed_buggy_source_fits_the_page():
    import inspect
    assert max(map(len, inspect.getsource(ch04.buggy_positional_encoding).splitlines())) <= 82
