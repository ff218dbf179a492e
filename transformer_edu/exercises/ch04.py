"""Checkers for chapter 4, positional encoding (paper section 3.5)."""
from __future__ import annotations

import math

import torch

from ..positional_encoding import sinusoidal_table
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


def _call(fn, *args):
    """call_learner, showing tensor arguments by their values (they are small here)."""
    return call_learner(fn, *args, show_tensor=lambda t: f"tensor{list(t.tolist())}")


def _as_float64(got) -> torch.Tensor | None:
    if isinstance(got, torch.Tensor) and got.dtype.is_floating_point:
        return got.detach().to(torch.float64)
    return None


def _pe_variants(positions: torch.Tensor, d_model: int) -> dict[str, torch.Tensor]:
    """Typical wrong tables for the given positions, each named by the mistake that produces it."""
    pos = positions.to(torch.float64)[:, None]  # (N, 1)
    dims = torch.arange(d_model, dtype=torch.float64)  # (D,)
    pair = torch.arange(0, d_model, 2, dtype=torch.float64)  # (D/2,) the even dimensions 2i
    angle = pos / 10000 ** (pair / d_model)  # (N, D/2)
    variants = {}
    swapped = torch.empty(len(positions), d_model, dtype=torch.float64)
    swapped[:, 0::2], swapped[:, 1::2] = torch.cos(angle), torch.sin(angle)
    variants["swapped"] = swapped
    variants["halves"] = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
    per_dim = pos / 10000 ** (dims / d_model)  # (N, D): every dimension its own exponent
    every_dim = torch.where(dims.long() % 2 == 0, torch.sin(per_dim), torch.cos(per_dim))
    variants["every_dim"] = every_dim
    half_angle = pos / 10000 ** ((pair / 2) / d_model)  # exponent i / d_model instead of 2i / d_model
    no_two = torch.empty_like(swapped)
    no_two[:, 0::2], no_two[:, 1::2] = torch.sin(half_angle), torch.cos(half_angle)
    variants["no_two"] = no_two
    return variants


@checker
def check_positional_encoding(pe_fn) -> Feedback:
    """`pe_fn(positions, d_model)` should return the (N, d_model) rows PE(pos) for the N given positions."""
    cases = [(torch.tensor([0, 1, 2, 3]), 8), (torch.tensor([0, 5, 17, 99, 250]), 16), (torch.tensor([7]), 64)]
    for positions, d_model in cases:
        got, error = _call(pe_fn, positions.clone(), d_model)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a tensor of shape (len(positions), d_model)")
        expected = sinusoidal_table(int(positions.max()) + 1, d_model, torch.float64)[positions]  # (N, D)
        where = f"for positions {positions.tolist()} and d_model={d_model}"
        problem = compare_tensors(f"the encoding {where}", got, expected, atol=1e-5)
        if problem is None:
            continue
        value = _as_float64(got)
        reveal = ("PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)), "
                  "with 2i = 0, 2, 4, ... the even dimension of the pair.")
        if value is not None and value.shape == expected.shape:
            hints = {
                "swapped": "sine and cosine are swapped: even dimensions 2i take sin, odd dimensions 2i+1 take cos.",
                "halves": "you put all the sines first and all the cosines after. The paper interleaves them: "
                          "dimension 2i is sin and dimension 2i+1 is cos of the same angle (write into x[:, 0::2] "
                          "and x[:, 1::2]).",
                "every_dim": "each dimension got its own frequency. Dimensions 2i and 2i+1 form a pair that shares "
                             "one frequency, 1 / 10000^(2i / d_model); use the even index 2i for both.",
                "no_two": "this is still the bug of buggy_positional_encoding: compare its frequencies with the "
                          "paper's, pair by pair. Which number does the paper's exponent 2i/d_model use for pair i?",
            }
            for name, wrong in _pe_variants(positions, d_model).items():
                if torch.allclose(value, wrong, atol=1e-5):
                    return not_yet(f"{where}: {hints[name]}", answer=reveal)
            if positions[0] == 0 and not torch.allclose(value[0], expected[0], atol=1e-5):
                return not_yet(f"{where}: position 0 should be [0, 1, 0, 1, ...] (sin 0 = 0, cos 0 = 1), got "
                               f"{[round(v, 3) for v in value[0, :6].tolist()]} at the start of its row. "
                               f"Use the positions you are given, as numbers, not their index in the list.")
        return problem
    return correct("PE(pos, 2i) = sin(pos / 10000^(2i/d_model)) and PE(pos, 2i+1) = cos(the same angle), for any "
                   "positions you ask for: the formula has no upper limit.")


def distance_reference(k: int, d_model: int) -> float:
    """PE(pos) . PE(pos + k) = sum over the d_model/2 frequencies of cos(k * omega_i)."""
    pair = torch.arange(0, d_model, 2, dtype=torch.float64)
    return float(torch.cos(k / 10000 ** (pair / d_model)).sum())


@checker
def check_dot_product_at_distance(dot_fn) -> Feedback:
    """`dot_fn(k, d_model)` should return PE(pos) . PE(pos + k) as a number, without building a table."""
    for k, d_model in [(0, 16), (1, 16), (5, 64), (40, 512), (-3, 8)]:
        got, error = _call(dot_fn, k, d_model)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a number")
        try:
            value = float(got)
        except (TypeError, ValueError, RuntimeError):
            return not_yet(f"return one number (a float or a 0-d tensor), got {type(got).__name__}")
        pos = abs(k) + 1  # any position works; this one keeps pos + k >= 0
        table = sinusoidal_table(pos + abs(k) + 1, d_model, torch.float64)
        expected = float(table[pos] @ table[pos + k])  # measured from the table, not from the formula
        if abs(value - expected) <= 1e-6 * max(1.0, abs(expected)):
            continue
        where = f"for k={k}, d_model={d_model}"
        pair = torch.arange(0, d_model, 2, dtype=torch.float64)
        if abs(value - 2 * expected) < 1e-6 * max(1.0, abs(expected)):
            hint = "that is twice the answer: there are d_model/2 frequencies (pairs), not d_model"
        elif abs(value - float(torch.sin(k / 10000 ** (pair / d_model)).sum())) < 1e-6:
            hint = ("sin(a)sin(b) + cos(a)cos(b) = cos(a - b): each pair contributes a cosine of the angle "
                    "difference, not a sine")
        elif k == 0:
            hint = "at k = 0 the answer is PE(pos) . PE(pos): what does each pair sin^2 + cos^2 contribute?"
        else:
            hint = ("write PE(pos) . PE(pos + k) pair by pair: sin(a) sin(b) + cos(a) cos(b) for the two angles of "
                    "pair i, then use an angle-difference formula")
        return not_yet(f"{where} you returned {value:.4f}, which is not the dot product measured from the table: "
                       f"{hint}.", answer=f"Expected {expected:.4f}: the sum over the d_model/2 pairs of "
                                          f"cos(k / 10000^(2i/d_model)).")
    return correct("PE(pos) . PE(pos + k) = sum_i cos(k / 10000^(2i/d_model)): it depends on the offset k only "
                   "(and not on its sign), never on pos.")


def buggy_positional_encoding(positions: torch.Tensor, d_model: int):
    """The rows PE(pos) of section 3.5 for a 1-D tensor of positions.
    Returns a (len(positions), d_model) tensor."""
    pos = positions.to(torch.float64)[:, None]  # (N, 1)
    i = torch.arange(d_model // 2, dtype=torch.float64)  # (D/2,) one per pair
    angle = pos / 10000 ** (i / d_model)  # (N, D/2)
    out = torch.empty(len(positions), d_model, dtype=torch.float64)
    out[:, 0::2] = torch.sin(angle)  # even dimensions
    out[:, 1::2] = torch.cos(angle)  # odd dimensions
    return out


def wavelength_count_reference(length: float, d_model: int) -> int:
    """How many of the d_model/2 frequency pairs have a wavelength 2 pi 10000^(2i/d_model) shorter than `length`."""
    return sum(2 * math.pi * 10000 ** (two_i / d_model) < length for two_i in range(0, d_model, 2))


WAVELENGTH_CASES = [(100, 512), (100, 64), (1000, 512), (6, 64), (10 ** 6, 64), (50, 128)]


@checker
def check_wavelength_count(count_fn) -> Feedback:
    """`count_fn(length, d_model)` should return how many frequency pairs complete a full cycle (have a wavelength
    shorter than `length` positions)."""
    for length, d_model in WAVELENGTH_CASES:
        expected = wavelength_count_reference(length, d_model)
        reveal = f"For length={length}, d_model={d_model}: {expected} pairs."
        got, error = _call(count_fn, length, d_model)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a whole number of pairs")
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            return not_yet(f"return a whole number of pairs, got {got!r}")
        got = int(got)
        if got == expected:
            continue
        where = f"for length={length}, d_model={d_model}"
        two_i = range(0, d_model, 2)
        half_exponent = sum(2 * math.pi * 10000 ** (t / 2 / d_model) < length for t in two_i)
        if got == 2 * expected and got == half_exponent:
            return not_yet(f"{where}: twice the right count. Either you counted dimensions instead of pairs, or "
                           f"your exponent uses the pair number i where the formula has the even dimension 2i.",
                           answer=reveal)
        if got == 2 * expected:
            return not_yet(f"{where}: you counted dimensions; count pairs (dimensions 2i and 2i+1 share one "
                           f"wavelength).", answer=reveal)
        if got == sum(10000 ** (t / d_model) < length for t in two_i):
            return not_yet(f"{where}: 10000^(2i/d_model) is 1 / omega_i, the positions per radian. A full cycle "
                           f"is 2 pi radians.", answer=reveal)
        if got == half_exponent:
            return not_yet(f"{where}: the exponent uses the even dimension 2i, not the pair number i.",
                           answer=reveal)
        if got == d_model // 2 - expected:
            return not_yet(f"{where}: that counts the pairs whose wavelength is longer than the length.",
                           answer=reveal)
        return not_yet(f"{where}: not the right count. Solve 2 pi 10000^(2i/d_model) < length for i, then count "
                       f"the whole numbers i from 0 to d_model/2 - 1 that satisfy it.", answer=reveal)
    return correct("pair i has wavelength 2 pi 10000^(2i/d_model) < L exactly when i < (d_model/2) "
                   "log(L / 2 pi) / log(10000): for d_model = 512, 77 of the 256 pairs turn at least once within a "
                   "100-token sentence; the other 179 change slowly across it, less than one full turn.")
