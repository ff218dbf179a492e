import math

import pytest
import torch

from transformer_edu import GPT, GPTConfig, sinusoidal_table
from transformer_edu.gpt import generate
from transformer_edu.rotary import apply_rotary, rotary_angles


def rotate_by_hand(x, position):
    """Each pair (x_2i, x_2i+1) times the 2x2 rotation matrix of angle position * 10000^(-2i/d)."""
    d = x.shape[-1]
    out = torch.empty_like(x)
    for i in range(d // 2):
        a = position * 10000 ** (-2 * i / d)
        rotation = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=x.dtype)
        out[2 * i:2 * i + 2] = rotation @ x[2 * i:2 * i + 2]
    return out


def test_each_pair_is_rotated_by_its_position_times_its_frequency():
    torch.manual_seed(0)
    x = torch.randn(6, 8, dtype=torch.float64)  # (L, d_k)
    rotated = apply_rotary(x, start=3)
    for m in range(6):
        torch.testing.assert_close(rotated[m], rotate_by_hand(x[m], 3 + m))
    torch.testing.assert_close(apply_rotary(x)[0], x[0])  # position 0: no rotation
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))  # rotations keep lengths


def test_angles_use_the_papers_sinusoid_frequencies():
    cos, sin = rotary_angles(10, 16, dtype=torch.float64)
    table = sinusoidal_table(10, 16, torch.float64)  # section 3.5: sin at even, cos at odd dimensions
    torch.testing.assert_close(sin, table[:, 0::2])
    torch.testing.assert_close(cos, table[:, 1::2])


@pytest.mark.parametrize("shift", [1, 7, 50])
def test_scores_depend_only_on_the_offset(shift):
    torch.manual_seed(1)
    q, k = torch.randn(2, 3, 5, 16, dtype=torch.float64), torch.randn(2, 3, 5, 16, dtype=torch.float64)
    scores = apply_rotary(q) @ apply_rotary(k).transpose(-2, -1)  # (B, H, 5, 5), positions 0..4
    shifted = apply_rotary(q, shift) @ apply_rotary(k, shift).transpose(-2, -1)  # positions shift..shift+4
    torch.testing.assert_close(shifted, scores)
    # the same query and key put at offset 2 anywhere give one score
    one_q, one_k = q[0, 0, :1], k[0, 0, :1]
    at = [(apply_rotary(one_q, m) @ apply_rotary(one_k, m + 2).T).item() for m in (0, 5, 40)]
    assert max(at) - min(at) < 1e-12
    assert abs(at[0] - (one_q @ one_k.T).item()) > 1e-6  # but the offset itself matters


def test_a_rotary_gpt_generates_the_same_with_and_without_its_cache():
    torch.manual_seed(0)
    model = GPT(GPTConfig.small(positional="rope", max_len=16)).eval()
    assert model.position is None and model.decoder.layers[0].self_attn.attention.rotary
    prompt = torch.randint(0, 64, (2, 5))
    with_cache = generate(model, prompt, 20, temperature=None)  # crosses max_len: cropping too
    without = generate(model, prompt, 20, temperature=None, use_cache=False)
    assert torch.equal(with_cache, without)


@pytest.mark.parametrize("call, message", [
    (lambda: apply_rotary(torch.randn(4, 7)), "d_k must be even"),
    (lambda: apply_rotary(torch.arange(8).view(2, 4)), "floating-point"),
    (lambda: apply_rotary(torch.randn(4, 8), start=-1), "start must be an int >= 0"),
    (lambda: GPTConfig.small(positional="rope", d_model=12, n_heads=4), "d_k = d_model / n_heads must be even"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
