import pytest
import torch
import torch.nn.functional as F

from conftest import TOLERANCES
from transformer_edu import causal_mask, scaled_dot_product_attention


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("masked", ["none", "causal", "padding"])
def test_matches_torch_sdpa(dtype, masked):
    q, k, v = (torch.randn(2, 3, 5, 8, dtype=dtype) for _ in range(3))
    mask = None
    if masked == "causal":
        mask = causal_mask(5)
    elif masked == "padding":
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)[:, None, None, :]
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs, **TOLERANCES[dtype])
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=dtype), **TOLERANCES[dtype])


def test_masked_keys_get_zero_weight_and_fully_masked_rows_are_zero():
    q = k = v = torch.randn(1, 1, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False], [False, False, False]])
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert weights[0, 0, 0, 1] == 0 and weights[0, 0, 1, 2] == 0
    assert torch.all(weights[0, 0, 2] == 0) and torch.all(out[0, 0, 2] == 0)
    assert not torch.isnan(out).any()


def test_scaling_by_sqrt_dk():
    q = torch.tensor([[[1.0, 1.0, 1.0, 1.0]]])
    k = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    _, weights = scaled_dot_product_attention(q, k, torch.eye(2)[None])
    expected = torch.softmax(torch.tensor([4.0 / 2.0, 0.0]), dim=0)  # q.k = 4, sqrt(d_k) = 2
    torch.testing.assert_close(weights[0, 0], expected)


@pytest.mark.parametrize("args, message", [
    ((torch.randn(2, 4), torch.randn(3, 5), torch.randn(3, 4)), "same width"),
    ((torch.randn(2, 4), torch.randn(3, 4), torch.randn(2, 4)), "same length"),
    ((torch.ones(2, 4, dtype=torch.long),) * 3, "floating-point"),
    ((torch.randn(0, 4), torch.randn(3, 4), torch.randn(3, 4)), "at least one"),
    ((torch.randn(2, 3, 8), torch.randn(3, 4, 8), torch.randn(3, 4, 8)), "must match or broadcast"),
    ((torch.randn(3, 8), torch.randn(4, 8, dtype=torch.float64), torch.randn(4, 8)), "share one dtype"),
    (([[1.0]], torch.randn(1, 1), torch.randn(1, 1)), "torch.Tensor"),
])
def test_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        scaled_dot_product_attention(*args)


@pytest.mark.parametrize("mask, message", [
    (torch.ones(3, 3), "bool"),
    (torch.ones(4, 4, dtype=torch.bool), "does not broadcast"),
])
def test_bad_masks(mask, message):
    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match=message):
        scaled_dot_product_attention(q, q, q, mask)
