import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu.exercises import ch17
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.model import count_parameters
from transformer_edu.rotary import apply_rotary, rotary_angles


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


def good_kv_bytes(config, bytes_per_number):
    return config.n_layers * 2 * (config.n_kv_heads or config.n_heads) * config.d_k * bytes_per_number


@pytest.mark.parametrize("wrong, words", [
    (lambda c, b: c.n_layers * (c.n_kv_heads or c.n_heads) * c.d_k * b, "keys AND the values"),
    (lambda c, b: c.n_layers * 2 * c.n_heads * c.d_k * b, "not one per query head"),
    (lambda c, b: 2 * (c.n_kv_heads or c.n_heads) * c.d_k * b, "every one of the"),
    (lambda c, b: c.n_layers * 2 * (c.n_kv_heads or c.n_heads) * c.d_k, "not bytes"),
    (lambda c, b: good_kv_bytes(c, b) * c.max_len, "one token"),
    (lambda c, b: c.n_layers * 2 * (c.n_kv_heads or c.n_heads) * c.d_model * b, "too large"),
    (lambda c, b: None, "returned None"),
    (lambda c, b: good_kv_bytes(c, b) / 7, "whole number"),
    (lambda c, b: float("nan"), "whole number"),
    (lambda c, b: c.n_kv_groups, "raised"),
])
def test_kv_cache_bytes_checker(wrong, words):
    assert ch17.check_kv_cache_bytes(good_kv_bytes)
    assert ch17.check_kv_cache_bytes(lambda c, b: float(good_kv_bytes(c, b)))  # 4096.0 is a whole number too
    feedback = ch17.check_kv_cache_bytes(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_the_kv_checker_measures_a_real_cache():
    """The expected bytes come from a filled KVCache, and they agree with the formula of the solution."""
    config = GPTConfig.small(vocab_size=20, d_model=32, n_heads=8, n_kv_heads=2, n_layers=3)
    assert ch17._measured_cache_bytes(config) == good_kv_bytes(config, 4) == 3 * 2 * 2 * 4 * 4


def good_change(option, c):
    d, h, n = c.d_model, c.n_heads, c.n_layers
    if option == "rms":
        return -2 * n * d  # two norms per block lose their shift
    if option == "learned":
        return c.max_len * d
    if option in ("gqa2", "mqa"):
        kept = 2 if option == "gqa2" else 1
        return -2 * n * (d + 1) * (h - kept) * c.d_k  # W^K and W^V, weights and biases
    if option == "untied":
        return c.vocab_size * d
    if option == "swiglu":
        return n * (d + 1) * c.d_ff
    if option == "pre_ln":
        return 2 * d
    return 0


def forgets(option, wrong_value):
    return lambda o, c: wrong_value(c) if o == option else good_change(o, c)


@pytest.mark.parametrize("wrong, words", [
    (forgets("rms", lambda c: 0), "Count the norms"),
    (forgets("rms", lambda c: 2 * c.n_layers * c.d_model), "sign is wrong"),
    (forgets("learned", lambda c: 0), "one row of d_model numbers"),
    (forgets("rope", lambda c: c.max_len * c.d_model), "Is anything trained"),
    (forgets("mqa", lambda c: -2 * c.n_layers * c.d_model * (c.n_heads - 1) * c.d_k), "biases"),
    (forgets("gqa2", lambda c: -2 * c.n_layers * (c.d_model + 1) * (c.n_heads - 1) * c.d_k), "2 x d_k"),
    (forgets("sdpa", lambda c: -c.n_layers), "need weights"),
    (forgets("untied", lambda c: c.vocab_size * (c.d_model + 1)), "no bias"),
    (forgets("swiglu", lambda c: c.n_layers * c.d_model * c.d_ff), "its bias"),
    (forgets("pre_ln", lambda c: 0), "final_norm"),
    (lambda o, c: None, "returned None"),
    (lambda o, c: "more", "whole number"),
    (lambda o, c: c.n_groups, "raised"),
])
def test_parameter_change_checker(wrong, words):
    assert ch17.check_parameter_change(good_change)
    feedback = ch17.check_parameter_change(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_parameter_change_hints_never_give_the_number():
    config = GPTConfig(**ch17._CONFIGS[0], dropout=0.0)
    true = count_parameters(GPT(config.replace(norm="rms"))) - count_parameters(GPT(config))
    feedback = ch17.check_parameter_change(forgets("rms", lambda c: 1))
    assert not feedback and str(true) not in feedback.message and str(-true) not in feedback.message


def good_rotate_half(x, start=0):
    d = x.shape[-1]
    cos, sin = rotary_angles(x.shape[-2], d, start, x.dtype)  # (L, d/2) each
    a, b = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def _rotate_by(x, start, sign=1, ratio=2):
    """The rotate-half layout with a sign or a frequency changed: typical mistakes."""
    d = x.shape[-1]
    theta = 10000.0 ** (-ratio * torch.arange(d // 2, dtype=torch.float64) / d)
    angle = sign * torch.arange(start, start + x.shape[-2], dtype=torch.float64)[:, None] * theta
    a, b = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], dim=-1)


@pytest.mark.parametrize("wrong, words", [
    (lambda x, start: apply_rotary(x, start), "ADJACENT"),
    (lambda x, start: good_rotate_half(x, 0), "not at 0"),
    (lambda x, start: _rotate_by(x, start, sign=-1), "angle or direction"),
    (lambda x, start: _rotate_by(x, start, ratio=1), "angle or direction"),
    (lambda x, start: x, "unchanged"),
    (lambda x, start: good_rotate_half(x, start) * 1.5, "values differ"),
    (lambda x, start: x[..., ::2], "shape"),
    (lambda x, start: x.no_such_method(), "raised"),
])
def test_rotate_half_checker(wrong, words):
    assert ch17.check_rotate_half(good_rotate_half)
    feedback = ch17.check_rotate_half(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_rotate_half_gives_the_scores_of_adjacent_pairs():
    """What the checker's closing message claims: one permutation of the features maps one layout onto the other,
    and attention scores do not change when queries and keys are permuted alike."""
    torch.manual_seed(0)
    q, k = torch.randn(2, 6, 8, dtype=torch.float64), torch.randn(2, 6, 8, dtype=torch.float64)
    interleave = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])
    halves = good_rotate_half(q) @ good_rotate_half(k).transpose(-2, -1)
    adjacent = apply_rotary(q[..., interleave]) @ apply_rotary(k[..., interleave]).transpose(-2, -1)
    torch.testing.assert_close(halves, adjacent)


def test_expected_values_are_shown_only_from_the_third_wrong_try():
    def wrong(c, b):
        return good_kv_bytes(c, b) + 8  # matches no recognised mistake
    first = ch17.check_kv_cache_bytes(wrong)
    assert not first and "Expected" not in first.message
    for _ in range(REVEAL_AFTER - 1):
        last = ch17.check_kv_cache_bytes(wrong)
    assert "Expected" in last.message


def quiz_answer(question_id):
    quiz = json.loads((Path(transformer_edu.__file__).parent / "quizzes" / "ch17.json").read_text())
    return next(q["answer"] for q in quiz["questions"] if q["id"] == question_id)


def test_quiz_numbers_match_the_package():
    values = dict(vocab_size=20, d_model=64, n_heads=32, d_ff=64, n_layers=1, max_len=8)
    grouped = ch17._measured_cache_bytes(GPTConfig(n_kv_heads=8, **values))
    full = ch17._measured_cache_bytes(GPTConfig(**values))
    assert full // grouped == quiz_answer("gqa-factor") and full % grouped == 0
    paper = dict(vocab_size=37000, d_model=512, n_heads=8, d_ff=2048, n_layers=1, max_len=16)
    with torch.device("meta"):  # shapes only: no memory for 19 million numbers
        tied = count_parameters(GPT(GPTConfig(**paper)))
        untied = count_parameters(GPT(GPTConfig(share_embeddings=False, **paper)))
    assert untied - tied == quiz_answer("untied-params")


# --- Exercise 4: find the bug in a pre-LN block -----------------------------------------------------------------


def good_pre_ln_block(x, block, mask):
    h = block.self_attn_norm(x)
    x = x + block.self_attn(h, h, h, mask)
    return x + block.feed_forward(block.ff_norm(x))


def test_buggy_pre_ln_block_is_wrong_and_the_fix_is_the_package_block():
    from transformer_edu import Block
    from transformer_edu.masks import causal_mask

    block = Block(32, 4, 64, causal=True, norm_first=True, dropout=0.0).eval()
    x = 3 * torch.randn(2, 6, 32) + 1
    with torch.no_grad():
        torch.testing.assert_close(good_pre_ln_block(x, block, causal_mask(6)), block(x, causal_mask(6)))
        assert not torch.allclose(ch17.buggy_pre_ln_block(x, block, causal_mask(6)), block(x, causal_mask(6)))


def test_pre_ln_block_solution_passes():
    assert ch17.check_pre_ln_block(good_pre_ln_block)


@pytest.mark.parametrize("wrong, words", [
    (ch17.buggy_pre_ln_block, "still the bug of buggy_pre_ln_block"),
    (ch17._post_ln_block, "post-LN"),
    (ch17._pre_ln_block_without_mask, "mask is not passed"),
    (lambda x, block, mask: x, "values differ"),
    (lambda x, block, mask: None, "returned None"),
    (lambda x, block, mask: block.missing, "raised"),
])
def test_pre_ln_block_mistakes(wrong, words):
    feedback = ch17.check_pre_ln_block(wrong)
    assert not feedback and words in feedback.message
