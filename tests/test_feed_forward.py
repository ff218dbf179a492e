import pytest
import torch

from transformer_edu import PositionwiseFeedForward


def test_equation_2_applied_to_each_position_separately():
    ffn = PositionwiseFeedForward(8, 32)
    x = torch.randn(2, 5, 8)
    expected = torch.relu(x @ ffn.w_1.weight.T + ffn.w_1.bias) @ ffn.w_2.weight.T + ffn.w_2.bias
    torch.testing.assert_close(ffn(x), expected)
    torch.testing.assert_close(ffn(x[:, 2:3]), ffn(x)[:, 2:3])  # a position does not see its neighbours


@pytest.mark.parametrize("call, message", [
    (lambda: PositionwiseFeedForward(8, 32, activation="tanh"), "relu"),
    (lambda: PositionwiseFeedForward(8, 32)(torch.randn(2, 3, 7)), "d_model=8"),
    (lambda: PositionwiseFeedForward(8, 32)([[0.0] * 8]), "torch.Tensor"),
    (lambda: PositionwiseFeedForward(8, 32)(torch.randn(2, 3, 8, dtype=torch.float64)), "float64"),
    (lambda: PositionwiseFeedForward(8, 0), "d_ff must be an int >= 1"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_swiglu_is_a_gated_unit():
    torch.manual_seed(0)
    ffn = PositionwiseFeedForward(8, 12, activation="swiglu")
    assert ffn.w_1.out_features == 24 and ffn.w_2.in_features == 12  # W_1 and V side by side
    x = torch.randn(2, 5, 8)
    w, v = ffn.w_1.weight[:12], ffn.w_1.weight[12:]
    b, c = ffn.w_1.bias[:12], ffn.w_1.bias[12:]
    gate = x @ w.T + b
    expected = (gate * torch.sigmoid(gate) * (x @ v.T + c)) @ ffn.w_2.weight.T + ffn.w_2.bias  # Swish(xW) * xV
    torch.testing.assert_close(ffn(x), expected)
    # three D x F weight matrices instead of two: (2/3) 4D keeps the size of the paper's FFN
    sizes = {a: sum(p.numel() for p in PositionwiseFeedForward(96, f, a).parameters() if p.dim() == 2)
             for a, f in (("relu", 384), ("swiglu", 256))}
    assert sizes["relu"] == sizes["swiglu"] == 2 * 96 * 384
