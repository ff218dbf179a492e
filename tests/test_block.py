import pytest
import torch

from transformer_edu import (AttentionWeights, Block, DecoderLayer, EncoderLayer, KVCache, Stack, causal_mask,
                             padding_mask)
from transformer_edu.checks import NonFiniteError

D, H, F = 16, 4, 32


def block(**kwargs) -> Block:
    return Block(D, H, F, dropout=0.0, **kwargs).double().eval()


# --- a decoder-only (GPT-style) block: causal self-attention, no encoder-decoder attention -------------------

def test_a_gpt_style_block_works_alone_and_names_its_weights_decoder_self():
    gpt = block(cross_attention=False, causal=True)
    assert gpt.cross_attn is None and gpt.cross_attn_norm is None
    x = torch.randn(2, 5, D, dtype=torch.float64)
    out, weights = gpt(x, causal_mask(5), return_attention=True)
    assert out.shape == (2, 5, D) and isinstance(weights, AttentionWeights)
    assert len(weights.decoder_self) == 1 and weights.encoder_self == [] and weights.cross == []
    assert weights.decoder_self[0].shape == (2, H, 5, 5)
    assert torch.all(weights.decoder_self[0].triu(1) == 0)  # no position sees a later one
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 2, D, dtype=torch.float64)
    torch.testing.assert_close(gpt(changed, causal_mask(5))[:, :3], out[:, :3], atol=0, rtol=0)


def test_a_block_without_causal_names_its_weights_encoder_self():
    bert = block()
    x = torch.randn(2, 5, D, dtype=torch.float64)
    _, weights = bert(x, padding_mask(torch.tensor([[4, 5, 6, 0, 0], [4, 5, 6, 7, 8]]), 0), return_attention=True)
    assert len(weights.encoder_self) == 1 and weights.decoder_self == [] and weights.cross == []
    assert torch.all(weights.encoder_self[0][0, :, :, 3:] == 0)


def test_a_gpt_style_stack_decodes_step_by_step_with_a_kv_cache():
    stack = Stack([block(causal=True), block(causal=True)]).eval()
    x = torch.randn(2, 6, D, dtype=torch.float64)
    full = stack(x, causal_mask(6))
    cache = KVCache()
    steps = [stack(x[:, t:t + 1], cache=cache) for t in range(6)]
    assert cache.length == 6 and cache.memory_length is None and len(cache.caches) == 2
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-12, rtol=0)


def test_a_block_without_cross_attention_refuses_a_memory():
    x = torch.randn(1, 3, D, dtype=torch.float64)
    with pytest.raises(ValueError, match="this block has no encoder-decoder attention: memory and memory_mask must be None"):
        block(causal=True)(x, memory=x)


# --- the written formulas (post-LN: the paper; pre-LN: the later change) -------------------------------------

def by_hand(layer: Block, x, mask, memory, memory_mask):
    """x = LayerNorm(x + Sublayer(x)) per sub-layer (post-LN), or x = x + Sublayer(LayerNorm(x)) (pre-LN), written
    out with the block's own submodules (eval mode: dropout is the identity)."""
    def self_attention(h):
        return layer.self_attn(h, h, h, mask=mask)

    def cross_attention(h):
        return layer.cross_attn(h, memory, memory, mask=memory_mask)

    sublayers = [(self_attention, layer.self_attn_norm)]
    if layer.cross_attn is not None:
        sublayers.append((cross_attention, layer.cross_attn_norm))
    sublayers.append((layer.feed_forward, layer.ff_norm))
    for sublayer, norm in sublayers:
        x = x + sublayer(norm(x)) if layer.norm_first else norm(x + sublayer(x))
    return x


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_pre_ln_and_post_ln_blocks_compute_the_written_formulas(norm_first, kind):
    layer = (EncoderLayer if kind == "encoder" else DecoderLayer)(D, H, F, norm_first=norm_first).double().eval()
    assert layer.norm_first is norm_first
    for p in layer.parameters():  # LayerNorm's gain 1 and bias 0 would hide a norm used in the wrong place
        torch.nn.init.normal_(p)
    x = torch.randn(2, 4, D, dtype=torch.float64)
    if kind == "encoder":
        mask = padding_mask(torch.tensor([[5, 6, 7, 0], [5, 6, 7, 8]]), 0)
        memory = memory_mask = None
    else:
        mask = causal_mask(4)
        memory = torch.randn(2, 6, D, dtype=torch.float64)
        memory_mask = padding_mask(torch.tensor([[5, 6, 7, 8, 0, 0], [5, 6, 7, 8, 9, 10]]), 0)
    expected = by_hand(layer, x, mask, memory, memory_mask)
    torch.testing.assert_close(layer(x, mask=mask, memory=memory, memory_mask=memory_mask), expected,
                               atol=1e-12, rtol=0)


def test_post_ln_and_pre_ln_differ():
    torch.manual_seed(1)
    post = block(cross_attention=True, causal=True)
    pre = block(cross_attention=True, causal=True, norm_first=True)
    pre.load_state_dict(post.state_dict())  # the same weights, only the order differs
    x, memory = torch.randn(1, 3, D, dtype=torch.float64), torch.randn(1, 4, D, dtype=torch.float64)
    assert not torch.allclose(post(x, causal_mask(3), memory), pre(x, causal_mask(3), memory))


def test_a_decoder_layer_takes_its_arguments_in_the_blocks_order():
    layer = DecoderLayer(D, H, F, dropout=0.0).double().eval()
    y, memory = torch.randn(2, 3, D, dtype=torch.float64), torch.randn(2, 5, D, dtype=torch.float64)
    src_mask = padding_mask(torch.tensor([[4, 5, 6, 0, 0], [4, 5, 6, 7, 8]]), 0)
    by_keyword, weights = layer(y, mask=causal_mask(3), memory=memory, memory_mask=src_mask, return_attention=True)
    torch.testing.assert_close(layer(y, causal_mask(3), memory, src_mask), by_keyword, atol=0, rtol=0)
    assert weights.decoder_self[0].shape == (2, H, 3, 3) and weights.cross[0].shape == (2, H, 3, 5)
    assert torch.all(weights.cross[0][0, :, :, 3:] == 0) and weights.encoder_self == []


# --- inputs --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda b, x: b(x[..., :8]), "block input must have shape"),
    (lambda b, x: b(x, torch.ones(3, 3, dtype=torch.bool)), "with all four axes"),
    (lambda b, x: b(x, memory=x), "no encoder-decoder attention"),
    (lambda b, x: b(x, cache={}), "cache must be a KVCache"),
])
def test_bad_inputs_to_a_block(call, message):
    x = torch.randn(2, 3, D, dtype=torch.float64)
    with pytest.raises(ValueError, match=message):
        call(block(causal=True), x)


def test_a_non_finite_block_input_is_named_block_input():
    x = torch.randn(2, 3, D, dtype=torch.float64)
    x[0, 2, 1] = float("inf")
    with pytest.raises(NonFiniteError, match=r"^block input holds 1 inf among 96 values, the first at index \(0, 2, 1\)"):
        block()(x)


def test_a_stack_needs_blocks_and_applies_its_final_norm():
    with pytest.raises(ValueError, match="a stack needs a non-empty list of Blocks"):
        Stack([])
    with pytest.raises(ValueError, match="a stack needs a non-empty list of Blocks"):
        Stack([torch.nn.Linear(D, D)])
    layers = [block(), block()]
    plain, normed = Stack(layers).eval(), Stack(layers, final_norm=True).eval()
    assert plain.final_norm is None
    x = torch.randn(2, 3, D, dtype=torch.float64)
    torch.testing.assert_close(normed.double()(x), normed.final_norm(plain(x)), atol=0, rtol=0)
    _, weights = plain(x, return_attention=True)
    assert len(weights.encoder_self) == 2
