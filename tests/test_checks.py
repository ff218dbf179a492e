import pytest
import torch
from torch import nn

from transformer_edu.checks import check_features, check_int, is_number, weight_dtype


def test_good_inputs_pass():
    check_features(torch.randn(2, 3, 8), 8, dtype=torch.float32)
    check_int("d_model", 8)
    assert weight_dtype(nn.Linear(2, 2).double()) == torch.float64 and weight_dtype(nn.ReLU()) is None


@pytest.mark.parametrize("x, message", [
    ([[0.0] * 8], "input must be a torch.Tensor of shape \\(batch, length, d_model=8\\), got list"),
    (torch.ones(2, 3, 8, dtype=torch.long), "floating-point"),
    (torch.randn(3, 8), r"got \(3, 8\)"),
    (torch.randn(2, 3, 7), r"got \(2, 3, 7\)"),
    (torch.randn(2, 0, 8), "empty"),
    (torch.randn(2, 3, 8, dtype=torch.float64), "torch.float64 but the module's weights are torch.float32"),
])
def test_bad_features_name_what_was_expected(x, message):
    with pytest.raises(ValueError, match=message):
        check_features(x, 8, dtype=torch.float32)


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "8", None])
def test_bad_sizes(value):
    with pytest.raises(ValueError, match="n_heads must be an int >= 1"):
        check_int("n_heads", value)


def test_is_number_accepts_ints_and_floats_but_not_bools():
    assert is_number(1) and is_number(0.5) and is_number(float("inf"))
    assert not any(is_number(v) for v in (True, False, "1", None, torch.tensor(1.0)))
