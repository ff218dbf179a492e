import pytest
import torch
from torch import nn

from transformer_edu.checks import (NonFiniteError, check_features, check_int, check_real_tokens, describe_non_finite,
                                    is_finite, is_number, non_finite_parameters, weight_dtype)


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


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_is_finite_finds_one_bad_value_anywhere(dtype, value):
    x = torch.randn(3, 5, 7).to(dtype)
    assert is_finite(x) and is_finite(torch.empty(0, 4, dtype=dtype))
    for i in range(x.numel()):  # every position: no lane of a vectorized reduction is skipped
        bad = x.clone()
        bad.view(-1)[i] = value
        assert not is_finite(bad)


def test_non_finite_values_are_counted_and_located():
    x = torch.zeros(2, 4, 8)
    x[1, 3, 5], x[1, 3, 6], x[0, 2, 1] = float("nan"), float("nan"), -float("inf")
    assert describe_non_finite(x) == "2 NaN and 1 inf among 64 values, the first at index (0, 2, 1)"
    assert describe_non_finite(torch.tensor(float("nan"))) == "1 NaN among 1 values, the first at index ()"


def test_check_features_looks_for_nan_only_when_asked():
    x = torch.randn(2, 3, 8)
    x[1, 0, 4] = float("nan")
    check_features(x, 8)  # the layers' own check: shapes and dtypes only
    with pytest.raises(NonFiniteError, match=r"^input holds 1 NaN among 48 values, the first at index \(1, 0, 4\)\. "
                                             r"Usual causes: non-finite weights"):
        check_features(x, 8, finite=True)
    assert issubclass(NonFiniteError, ValueError)


def test_non_finite_parameters_are_named_once_even_when_shared():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
    model[2].weight = model[0].weight  # one matrix under two names
    assert non_finite_parameters(model) == []
    with torch.no_grad():
        model[0].weight[1, 1] = float("inf")
        model[2].bias[0] = float("nan")
    assert non_finite_parameters(model) == ["0.weight", "2.bias"]


def test_rows_of_padding_only_are_named():
    check_real_tokens(torch.tensor([[5, 0, 0], [0, 0, 6]]), pad_id=0)
    with pytest.raises(ValueError, match=r"src_ids row\(s\) \[0, 2\] of the batch of shape \(3, 2\) hold only padding "
                                         r"\(pad_id 3\)"):
        check_real_tokens(torch.tensor([[3, 3], [4, 3], [3, 3]]), pad_id=3)
