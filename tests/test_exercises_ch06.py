import pytest
import torch

from transformer_edu import MultiHeadAttention
from transformer_edu.exercises import ch06


def good_split(x, n_heads):
    b, t, d = x.shape
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)


def good_merge(x):
    b, h, t, d_k = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d_k)


def test_split_heads_checker():
    assert ch06.check_split_heads(good_split)
    assert "returned None" in ch06.check_split_heads(lambda x, h: None).message
    no_transpose = ch06.check_split_heads(lambda x, h: x.view(x.shape[0], x.shape[1], h, -1))
    assert not no_transpose and "transpose(1, 2)" in no_transpose.message
    direct = ch06.check_split_heads(lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1))
    assert not direct and "scrambled" in direct.message
    assert "raised" in ch06.check_split_heads(lambda x, h: x.view(7, 7)).message


def test_merge_heads_checker():
    assert ch06.check_merge_heads(good_merge)
    direct = ch06.check_merge_heads(lambda x: x.reshape(x.shape[0], x.shape[2], -1))
    assert not direct and "scrambled" in direct.message
    with_view = ch06.check_merge_heads(lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1))
    assert not with_view and "reshape" in with_view.message and "contiguous" in with_view.message
    assert "shape" in ch06.check_merge_heads(lambda x: x.transpose(1, 2)).message


def test_split_then_merge_is_identity():
    x = torch.randn(2, 5, 12)
    assert torch.equal(good_merge(good_split(x, 3)), x)


@pytest.mark.parametrize("d_model, n_heads", [(512, 8), (512, 1), (64, 4)])
def test_reference_count_matches_module(d_model, n_heads):
    module = MultiHeadAttention(d_model, n_heads)
    assert ch06.mha_parameter_count(d_model, n_heads) == sum(p.numel() for p in module.parameters())


def test_parameter_count_checker():
    assert ch06.check_parameter_count(lambda d, h: 4 * d * d + 4 * d)
    no_bias = ch06.check_parameter_count(lambda d, h: 4 * d * d)
    assert not no_bias and "biases" in no_bias.message
    no_output = ch06.check_parameter_count(lambda d, h: 3 * d * d + 3 * d)
    assert not no_output and "W^O" in no_output.message
    per_head_full = ch06.check_parameter_count(lambda d, h: 4 * h * (d * d + d))
    assert not per_head_full and "d_model x d_k" in per_head_full.message
    assert "returned None" in ch06.check_parameter_count(lambda d, h: None).message


def good_multiply_adds(n, d_model, n_heads):
    return 4 * n * d_model * d_model, 2 * n * n * d_model


def test_measured_multiply_adds_follow_the_formula():
    for n, d, h in [(10, 16, 4), (5, 32, 1), (5, 32, 8)]:
        assert ch06.measured_multiply_adds(n, d, h) == good_multiply_adds(n, d, h)


def test_multiply_adds_checker():
    assert ch06.check_multiply_adds(good_multiply_adds)
    scores_only = ch06.check_multiply_adds(lambda n, d, h: (4 * n * d * d, n * n * d))
    assert not scores_only and "weighted sum" in scores_only.message
    per_head_full = ch06.check_multiply_adds(lambda n, d, h: (4 * n * d * d, h * 2 * n * n * d))
    assert not per_head_full and "d_k = d_model / h" in per_head_full.message
    no_output = ch06.check_multiply_adds(lambda n, d, h: (3 * n * d * d, 2 * n * n * d))
    assert not no_output and "W^O" in no_output.message
    assert "pair" in ch06.check_multiply_adds(lambda n, d, h: 5).message
