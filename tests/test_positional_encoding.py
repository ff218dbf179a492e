import math

import pytest
import torch

from transformer_edu import LearnedPositionalEncoding, PositionalEncoding, sinusoidal_table


def test_table_follows_the_formula():
    table = sinusoidal_table(50, 16)
    pos, i = 7, 3
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)), abs=1e-6)


def test_shift_by_k_is_a_fixed_rotation():
    d, k = 16, 5
    table = sinusoidal_table(100, d, dtype=torch.float64)
    m = torch.zeros(d, d, dtype=torch.float64)  # block-diagonal: one 2x2 rotation by k * omega_i per pair
    for i in range(d // 2):
        angle = torch.tensor(k / 10000 ** (2 * i / d), dtype=torch.float64)
        c, s = torch.cos(angle), torch.sin(angle)
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    torch.testing.assert_close(table[:95] @ m, table[k:95 + k], atol=1e-12, rtol=0)


def test_dot_product_depends_on_distance_only():
    table = sinusoidal_table(60, 32, dtype=torch.float64)
    assert (table[10] @ table[14]).item() == pytest.approx((table[40] @ table[44]).item(), abs=1e-9)


@pytest.mark.parametrize("cls", [PositionalEncoding, LearnedPositionalEncoding])
def test_adds_positions_with_offset(cls):
    pe = cls(8, max_len=20).eval()
    x = torch.zeros(2, 5, 8)
    torch.testing.assert_close(pe(x)[0], pe.table[:5])
    torch.testing.assert_close(pe(x[:, :2], start=3)[1], pe.table[3:5])


@pytest.mark.parametrize("call, message", [
    (lambda: sinusoidal_table(10, 7), r"d_model must be even for sinusoidal positions .*got 7"),
    (lambda: sinusoidal_table(10, 0), r"d_model must be an int >= 2, got 0"),
    (lambda: sinusoidal_table(10, "8"), r"d_model must be an int >= 2, got '8'"),
    (lambda: sinusoidal_table(10, 8.0), r"d_model must be an int >= 2, got 8.0"),
    (lambda: sinusoidal_table(2.5, 8), r"max_len must be an int >= 1, got 2.5"),
    (lambda: sinusoidal_table(True, 8), r"max_len must be an int >= 1, got True"),
    (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 3, 8), start=-1), r"start must be an int >= 0 \(the first position\)"),
    (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 3, 8), start=8), "positions 8..10 exceed max_len=10"),
    (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 11, 8)), "max_len=10"),
    (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 3, 6)), "d_model=8"),
    (lambda: PositionalEncoding(8, 10)([[0.0] * 8]), "torch.Tensor"),
    (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 3, 8), start=1.5), "start must be an int"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
