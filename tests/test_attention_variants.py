import pytest
import torch
import torch.nn.functional as F

from transformer_edu import GPT, GPTConfig, MultiHeadAttention, Transformer, TransformerConfig, causal_mask, padding_mask
from transformer_edu.attention_variants import AttentionVariant
from transformer_edu.gpt import generate
from transformer_edu.model import count_parameters

D, H = 32, 8


def repeat_keys_reference(mha, query, key, mask):
    """Grouped-query attention the long way: copy each key/value head to the query heads it serves."""
    b, t, s = query.shape[0], query.shape[1], key.shape[1]
    q = mha.w_q(query).view(b, t, H, -1).transpose(1, 2)  # (B, H, T, d_k)
    k = mha.w_k(key).view(b, s, mha.n_kv_heads, -1).transpose(1, 2)  # (B, H_kv, S, d_k)
    v = mha.w_v(key).view(b, s, mha.n_kv_heads, -1).transpose(1, 2)
    k = k.repeat_interleave(H // mha.n_kv_heads, dim=1)  # (B, H, S, d_k)
    v = v.repeat_interleave(H // mha.n_kv_heads, dim=1)
    scores = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return mha.w_o((weights @ v).transpose(1, 2).reshape(b, t, D)), weights


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4, 8])
@pytest.mark.parametrize("case", ["causal", "padding"])
def test_grouped_and_multi_query_attention_match_two_references(n_kv_heads, case):
    torch.manual_seed(n_kv_heads)
    mha = MultiHeadAttention(D, H, n_kv_heads=n_kv_heads).double().eval()
    x = torch.randn(2, 6, D, dtype=torch.float64)
    mask = causal_mask(6) if case == "causal" else padding_mask(torch.tensor([[5] * 6, [5] * 4 + [0] * 2]), 0)
    out, weights = mha(x, x, x, mask, return_attention=True)
    expected, expected_weights = repeat_keys_reference(mha, x, x, mask)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)
    # torch's own grouped-query attention (enable_gqa), on the same projections
    q = mha.split_heads(mha.w_q(x))
    k, v = mha.split_heads(mha.w_k(x)), mha.split_heads(mha.w_v(x))
    assert k.shape == (2, n_kv_heads, 6, D // H)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    torch.testing.assert_close(out, mha.w_o(mha.merge_heads(theirs)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_kv_heads", [None, 1, 4])
@pytest.mark.parametrize("rotary", [False, True])
def test_the_fused_kernel_computes_what_ours_does(n_kv_heads, rotary):
    torch.manual_seed(0)
    ours = MultiHeadAttention(D, H, n_kv_heads=n_kv_heads, rotary=rotary).double().eval()
    fused = MultiHeadAttention(D, H, n_kv_heads=n_kv_heads, rotary=rotary, kernel="sdpa").double().eval()
    fused.load_state_dict(ours.state_dict())  # the kernel has no parameters of its own
    x = torch.randn(3, 7, D, dtype=torch.float64)
    mask = causal_mask(7)
    out, weights = fused(x, x, x, mask, return_attention=True)
    torch.testing.assert_close(out, ours(x, x, x, mask), rtol=1e-12, atol=1e-12)
    assert weights is None  # the fused kernel never forms the weights


def test_the_papers_attention_stays_chapter_5s_function():
    from transformer_edu.attention import scaled_dot_product_attention
    assert MultiHeadAttention(D, H).attention is scaled_dot_product_attention
    assert isinstance(MultiHeadAttention(D, H, n_kv_heads=2).attention, AttentionVariant)


@pytest.mark.parametrize("n_kv_heads, kv_parameters", [(8, 2 * (D * D + D)), (2, 2 * (D * 8 + 8)),
                                                       (1, 2 * (D * 4 + 4))])
def test_fewer_key_value_heads_shrink_w_k_w_v_and_the_cache(n_kv_heads, kv_parameters):
    mha = MultiHeadAttention(D, H, n_kv_heads=n_kv_heads)
    assert count_parameters(mha.w_k) + count_parameters(mha.w_v) == kv_parameters
    torch.manual_seed(0)
    model = GPT(GPTConfig.small(vocab_size=20, d_model=D, n_heads=H, n_kv_heads=n_kv_heads)).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.randint(0, 20, (1, 5)), cache=cache)
    kept = sum(c.k.numel() + c.v.numel() for c in cache.caches.values())
    assert kept == 4 * 2 * n_kv_heads * (D // H) * 5  # layers x (k, v) x H_kv x d_k x positions
    prompt = torch.randint(0, 20, (2, 3))
    assert torch.equal(generate(model, prompt, 12, temperature=None),
                       generate(model, prompt, 12, temperature=None, use_cache=False))


@pytest.mark.parametrize("options", [dict(n_kv_heads=2), dict(attention_kernel="sdpa"), dict(norm="rms"),
                                     dict(activation="swiglu")])
def test_the_encoder_decoder_takes_the_options_too(options):
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(**options)).double().eval()
    src, tgt = torch.randint(4, 64, (2, 6)), torch.randint(4, 64, (2, 5))
    logits = model(src, tgt)
    assert logits.shape == (2, 5, 64) and torch.isfinite(logits).all()
    # decoding with the cache gives the logits of the full pass, whatever the option
    memory, cache = model.encode(src), model.new_cache()
    steps = [model.decode(tgt[:, i:i + 1], memory, cache=cache) for i in range(5)]
    torch.testing.assert_close(torch.cat(steps, dim=1), model.decode(tgt, memory), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: MultiHeadAttention(D, H, n_kv_heads=3), r"n_heads \(8\) must be a multiple of n_kv_heads \(3\)"),
    (lambda: MultiHeadAttention(D, H, n_kv_heads=16), r"n_kv_heads must be an int in \[1, 8\]"),
    (lambda: MultiHeadAttention(D, H, kernel="flash"), r"attention_kernel must be one of \('ours', 'sdpa'\)"),
    (lambda: TransformerConfig.small(n_kv_heads=3), r"n_heads \(4\) must be a multiple of n_kv_heads \(3\)"),
    (lambda: TransformerConfig.small(attention_kernel="flash"), "attention_kernel must be one of"),
    (lambda: GPT(GPTConfig.small(attention_kernel="sdpa"))(torch.zeros(1, 3, dtype=torch.long),
                                                          return_attention=True),
     "never computes the attention weights: build the model with attention_kernel='ours'"),
    (lambda: Transformer(TransformerConfig.small(attention_kernel="sdpa")).encode(
        torch.ones(1, 3, dtype=torch.long), return_attention=True), "never computes the attention weights"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
