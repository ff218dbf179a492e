import pytest
import torch
from torch import nn

from conftest import TOLERANCES
from transformer_edu import (AttentionCache, MultiHeadAttention, causal_mask, copy_attention_from_torch, copy_attention_to_torch,
                             padding_mask, to_torch_convention)

D, H = 16, 4


def pair(dtype):
    ours = MultiHeadAttention(D, H).to(dtype).eval()
    theirs = nn.MultiheadAttention(D, H, batch_first=True).to(dtype).eval()
    copy_attention_to_torch(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", ["self", "causal", "cross", "padding"])
def test_matches_nn_multihead_attention(dtype, case):
    ours, theirs = pair(dtype)
    x = torch.randn(2, 5, D, dtype=dtype)
    memory = torch.randn(2, 7, D, dtype=dtype)
    kv, our_mask, torch_kwargs = x, None, {}
    if case == "causal":
        our_mask = causal_mask(5)
        torch_kwargs = dict(attn_mask=to_torch_convention(our_mask[0, 0]))  # torch: True = blocked
    elif case == "cross":
        kv = memory
    elif case == "padding":
        ids = torch.tensor([[3, 4, 5, 6, 7, 0, 0], [3, 4, 5, 6, 7, 8, 9]])
        kv, our_mask = memory, padding_mask(ids, 0)
        torch_kwargs = dict(key_padding_mask=ids == 0)  # torch: True = padding, blocked
    out, weights = ours(x, kv, kv, mask=our_mask, return_attention=True)
    t_out, t_weights = theirs(x, kv, kv, need_weights=True, average_attn_weights=False, **torch_kwargs)
    torch.testing.assert_close(out, t_out, **TOLERANCES[dtype])
    torch.testing.assert_close(weights, t_weights, **TOLERANCES[dtype])


def test_copy_round_trip():
    ours, theirs = pair(torch.float64)
    other = MultiHeadAttention(D, H).double()
    copy_attention_from_torch(theirs, other)
    for a, b in zip(ours.parameters(), other.parameters()):
        assert torch.equal(a, b)


def test_heads_are_slices_of_one_projection():
    mha = MultiHeadAttention(D, H)
    x = torch.randn(1, 3, D)
    heads = mha.split_heads(mha.w_q(x))  # (1, H, 3, d_k)
    assert heads.shape == (1, H, 3, D // H)
    torch.testing.assert_close(heads[0, 1], mha.w_q(x)[0, :, 4:8])
    torch.testing.assert_close(mha.merge_heads(heads), mha.w_q(x))


def test_cache_appends_self_attention_keys():
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(1, 4, D)
    full = mha(x, x, x, mask=causal_mask(4))
    cache, steps = AttentionCache(static=False), []
    for t in range(4):
        step = x[:, t:t + 1]
        steps.append(mha.forward_cached(step, step, step, cache=cache))
        assert cache.length == t + 1
    torch.testing.assert_close(torch.cat(steps, dim=1), full)


def test_static_cache_projects_the_memory_once():
    mha = MultiHeadAttention(D, H).eval()
    x, memory = torch.randn(2, 3, D), torch.randn(2, 5, D)
    full = mha(x, memory, memory)
    cache, steps = AttentionCache(static=True), []
    for t in range(3):
        steps.append(mha.forward_cached(x[:, t:t + 1], memory, memory, cache=cache))
        assert cache.length == 5
    torch.testing.assert_close(torch.cat(steps, dim=1), full)


@pytest.mark.parametrize("call, message", [
    (lambda m: MultiHeadAttention(10, 3), "divisible"),
    (lambda m: m(torch.randn(2, 3, 8), torch.randn(2, 3, D), torch.randn(2, 3, D)), "d_model=16"),
    (lambda m: m(torch.randn(2, 3, D), torch.randn(3, 3, D), torch.randn(3, 3, D)), "batch size"),
    (lambda m: m(torch.randn(2, 3, D), torch.randn(2, 4, D), torch.randn(2, 5, D)), "same length"),
    (lambda m: m(torch.randn(2, 3, D), torch.randn(2, 3, D), torch.randn(2, 3, D),
                 mask=torch.ones(2, 1, 1, 4, dtype=torch.bool)), "does not broadcast"),
    # The Annotated Transformer's (B, 1, S) mask, with B equal to H: it would broadcast as a per-head mask.
    (lambda m: m(torch.randn(H, 3, D), torch.randn(H, 3, D), torch.randn(H, 3, D),
                 mask=torch.ones(H, 1, 3, dtype=torch.bool)), "with all four axes"),
    (lambda m: m(torch.randn(2, 3, D, dtype=torch.float64), torch.randn(2, 3, D), torch.randn(2, 3, D)),
     "torch.float64 but the module's weights are torch.float32"),
    (lambda m: m([[0.0] * D], torch.randn(2, 3, D), torch.randn(2, 3, D)), "torch.Tensor"),
    (lambda m: MultiHeadAttention(D, 0), "n_heads must be an int >= 1"),
    (lambda m: MultiHeadAttention(D, 2.0), "n_heads must be an int >= 1"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call(MultiHeadAttention(D, H))


def test_a_cache_refuses_a_different_batch():
    mha, cache = MultiHeadAttention(D, H).eval(), AttentionCache(static=False)
    step = torch.randn(2, 1, D)
    mha.forward_cached(step, step, step, cache=cache)
    with pytest.raises(ValueError, match="start a new cache"):
        mha.forward_cached(step[:1], step[:1], step[:1], cache=cache)


def test_a_cache_refuses_a_memory_of_another_length():
    mha, cache = MultiHeadAttention(D, H).eval(), AttentionCache(static=True)
    step, memory = torch.randn(2, 1, D), torch.randn(2, 5, D)
    mha.forward_cached(step, memory, memory, cache=cache)
    with pytest.raises(ValueError, match="new source"):
        mha.forward_cached(step, memory[:, :3], memory[:, :3], cache=cache)


def test_forward_cached_refuses_a_cache_that_is_not_an_attention_cache():
    mha = MultiHeadAttention(D, H).eval()
    step = torch.randn(2, 1, D)
    with pytest.raises(ValueError, match="cache must be an AttentionCache"):
        mha.forward_cached(step, step, step, cache={})
