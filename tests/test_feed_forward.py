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
