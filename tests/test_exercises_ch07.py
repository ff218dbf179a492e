import pytest
import torch

from transformer_edu import PositionwiseFeedForward
from transformer_edu.exercises import ch07


def good_layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def test_layer_norm_checker_accepts_the_solution():
    assert ch07.check_layer_norm(good_layer_norm)


@pytest.mark.parametrize("wrong, words", [
    (lambda x, g, b, eps: g * (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) + b,
     "unbiased"),
    (lambda x, g, b, eps: g * (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False) + b, "eps"),
    (lambda x, g, b, eps: good_layer_norm(x, torch.ones_like(g), torch.zeros_like(b), eps), "gamma and beta"),
    (lambda x, g, b, eps: g * (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True, unbiased=False) + eps) + b,
     "dimension 1"),
    (lambda x, g, b, eps: None, "returned None"),
    (lambda x, g, b, eps: x[..., :2], "shape"),
])
def test_layer_norm_checker_names_the_mistake(wrong, words):
    feedback = ch07.check_layer_norm(wrong)
    assert not feedback and words in feedback.message


@pytest.mark.parametrize("d_model, d_ff", [(512, 2048), (64, 256)])
def test_reference_ffn_count_matches_module(d_model, d_ff):
    module = PositionwiseFeedForward(d_model, d_ff)
    assert ch07.ffn_parameter_count(d_model, d_ff) == sum(p.numel() for p in module.parameters())


def test_ffn_parameter_checker():
    assert ch07.check_ffn_parameters(lambda d, f: 2 * d * f + f + d)
    no_bias = ch07.check_ffn_parameters(lambda d, f: 2 * d * f)
    assert not no_bias and "biases are missing" in no_bias.message
    wrong_bias = ch07.check_ffn_parameters(lambda d, f: 2 * d * f + 2 * f)
    assert not wrong_bias and "b_2 has d_model" in wrong_bias.message
    square = ch07.check_ffn_parameters(lambda d, f: 2 * d * d + 2 * d)
    assert not square and "d_ff wide" in square.message
    assert "raised" in ch07.check_ffn_parameters(lambda d, f: 1 / 0).message


def post_ln(x, sublayer, norm):
    return norm(x + sublayer(x))


def pre_ln(x, sublayer, norm):
    return x + sublayer(norm(x))


def test_order_checkers_accept_the_solutions():
    assert ch07.check_post_ln(post_ln)
    assert ch07.check_pre_ln(pre_ln)


def test_order_checkers_detect_swapped_orders():
    swapped = ch07.check_post_ln(pre_ln)
    assert not swapped and "pre-LN order" in swapped.message
    swapped = ch07.check_pre_ln(post_ln)
    assert not swapped and "post-LN order" in swapped.message


def test_order_checkers_name_other_mistakes():
    no_residual = ch07.check_post_ln(lambda x, s, n: n(s(x)))
    assert not no_residual and "residual connection is missing" in no_residual.message
    no_residual = ch07.check_pre_ln(lambda x, s, n: s(n(x)))
    assert not no_residual and "residual connection is missing" in no_residual.message
    twice = ch07.check_pre_ln(lambda x, s, n: n(x + s(n(x))))
    assert not twice and "normalizes twice" in twice.message
    assert "returned None" in ch07.check_post_ln(lambda x, s, n: None).message
