"""Checkers for chapter 4, positional encoding (paper section 3.5)."""
from __future__ import annotations

import math

import torch

from ..positional_encoding import sinusoidal_table
from ._check import Feedback, call_learner, compare_tensors, correct, not_yet


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
        if value is not None and value.shape == expected.shape:
            hints = {
                "swapped": "sine and cosine are swapped: even dimensions 2i take sin, odd dimensions 2i+1 take cos.",
                "halves": "you put all the sines first and all the cosines after. The paper interleaves them: "
                          "dimension 2i is sin and dimension 2i+1 is cos of the same angle (write into x[:, 0::2] "
                          "and x[:, 1::2]).",
                "every_dim": "each dimension got its own frequency. Dimensions 2i and 2i+1 form a pair that shares "
                             "one frequency, 1 / 10000^(2i / d_model); use the even index 2i for both.",
                "no_two": "the exponent is 2i / d_model, where 2i is the even dimension of the pair (0, 2, 4, ...), "
                          "not the pair number i (0, 1, 2, ...).",
            }
            for name, wrong in _pe_variants(positions, d_model).items():
                if torch.allclose(value, wrong, atol=1e-5):
                    return not_yet(f"{where}: {hints[name]}")
            if positions[0] == 0 and not torch.allclose(value[0], expected[0], atol=1e-5):
                return not_yet(f"{where}: position 0 should be [0, 1, 0, 1, ...] (sin 0 = 0, cos 0 = 1), got "
                               f"{[round(v, 3) for v in value[0, :6].tolist()]} at the start of its row. "
                               f"Use the positions you are given, as numbers, not their index in the list.")
        return problem
    return correct("PE(pos, 2i) = sin(pos / 10000^(2i/d_model)) and PE(pos, 2i+1) = cos(the same angle), for any "
                   "positions you ask for: the formula has no upper limit.")


def rotation_reference(k: int, d_model: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The (D, D) block-diagonal matrix M_k with M_k @ PE(pos) = PE(pos + k) for every pos."""
    pair = torch.arange(0, d_model, 2, dtype=torch.float64)
    theta = k / 10000 ** (pair / d_model)  # (D/2,) the angle of each pair for offset k
    blocks = [torch.tensor([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]], dtype=torch.float64)
              for t in theta.tolist()]
    return torch.block_diag(*blocks).to(dtype)  # (D, D)


def check_rotation_matrix(rotation_fn) -> Feedback:
    """`rotation_fn(k, d_model)` should return M_k (d_model, d_model) with M_k @ PE(pos) = PE(pos + k)."""
    for k, d_model in [(1, 4), (3, 8), (10, 16), (0, 6)]:
        got, error = _call(rotation_fn, k, d_model)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return a (d_model, d_model) tensor")
        expected = rotation_reference(k, d_model)
        where = f"for k={k}, d_model={d_model}"
        problem = compare_tensors(f"M_k {where}", got, expected, atol=1e-6)
        if problem is None:
            continue
        value = _as_float64(got)
        if value is not None and value.shape == expected.shape:
            if torch.allclose(value, expected.T, atol=1e-6):
                return not_yet(f"{where}: this is the transpose of M_k, which rotates the other way: it maps "
                               f"PE(pos) to PE(pos - k). Check the signs: sin(a + b) = sin a cos b + cos a sin b "
                               f"and cos(a + b) = cos a cos b - sin a sin b, so the first row of a block is "
                               f"[cos, sin] and the second [-sin, cos].")
            if k > 1 and torch.allclose(value, rotation_reference(1, d_model), atol=1e-6):
                return not_yet(f"{where}: you built M_1. The angle of pair i is k / 10000^(2i/d_model): multiply by k.")
            off_block = value - torch.block_diag(*[value[j:j + 2, j:j + 2] for j in range(0, d_model, 2)])
            if off_block.abs().max() > 1e-9:
                return not_yet(f"{where}: M_k should be block-diagonal: dimension pair (2i, 2i+1) only mixes with "
                               f"itself, so every entry outside the 2 x 2 blocks on the diagonal is 0.")
            table = sinusoidal_table(k + 8, d_model, torch.float64)  # (k + 8, D)
            moved = table[:8] @ value.T  # (8, D): row pos is M_k @ PE(pos)
            bad = (moved - table[k:k + 8]).abs().amax(dim=0)  # (D,) worst error per dimension
            i = int(torch.nonzero(bad > 1e-6)[0]) // 2
            return not_yet(f"{where}: M_k @ PE(pos) does not give PE(pos + k); the first wrong block is pair "
                           f"i={i} (dimensions {2 * i} and {2 * i + 1}), whose angle should be "
                           f"k / 10000^({2 * i}/{d_model}) = {k / 10000 ** (2 * i / d_model):.4g}.")
        return problem
    return correct("M_k is block-diagonal with one 2 x 2 rotation [[cos, sin], [-sin, cos]] per frequency; it depends "
                   "on k but not on pos, so PE(pos + k) is a fixed linear function of PE(pos).")


def distance_reference(k: int, d_model: int) -> float:
    """PE(pos) . PE(pos + k) = sum over the d_model/2 frequencies of cos(k * omega_i)."""
    pair = torch.arange(0, d_model, 2, dtype=torch.float64)
    return float(torch.cos(k / 10000 ** (pair / d_model)).sum())


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
            hint = f"at k = 0 every pair gives sin^2 + cos^2 = 1, so the answer is d_model/2 = {d_model // 2}"
        else:
            hint = "each pair i contributes cos(k / 10000^(2i/d_model)); sum these over i = 0 .. d_model/2 - 1"
        return not_yet(f"{where} expected {expected:.4f} (measured from the table), got {value:.4f}: {hint}.")
    return correct("PE(pos) . PE(pos + k) = sum_i cos(k / 10000^(2i/d_model)): it depends on the offset k only "
                   "(and not on its sign), never on pos.")
