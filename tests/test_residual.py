import pytest
import torch

from transformer_edu import AddNorm


@pytest.mark.parametrize("norm_first", [False, True])
def test_post_ln_and_pre_ln_orders(norm_first):
    add_norm = AddNorm(6, dropout=0.0, norm_first=norm_first)
    x = torch.randn(2, 3, 6)
    double = lambda h: 2 * h  # noqa: E731
    expected = x + 2 * add_norm.norm(x) if norm_first else add_norm.norm(x + 2 * x)
    torch.testing.assert_close(add_norm(x, double), expected)
    if not norm_first:  # post-LN output is normalized: mean 0, variance 1 per position
        out = add_norm(x, double)
        torch.testing.assert_close(out.mean(-1), torch.zeros(2, 3), atol=1e-6, rtol=0)


@pytest.mark.parametrize("x, message", [
    (torch.randn(2, 3, 8), "d_model=6"),
    (torch.randn(2, 3, 6, dtype=torch.float64), "float64"),
    ([[0.0] * 6], "torch.Tensor"),
])
def test_bad_inputs(x, message):
    with pytest.raises(ValueError, match=message):
        AddNorm(6)(x, lambda h: h)
