import pytest
import torch

from transformer_edu import Decoder, KVCache, causal_mask


def test_stack_returns_self_and_cross_weights():
    decoder = Decoder(2, d_model=16, n_heads=4, d_ff=32).eval()
    y, memory = torch.randn(2, 4, 16), torch.randn(2, 6, 16)
    out, attention = decoder(y, memory, tgt_mask=causal_mask(4), return_attention=True)
    self_w, cross_w = attention.decoder_self, attention.cross
    assert len(self_w) == len(cross_w) == 2 and attention.encoder_self == []
    assert out.shape == (2, 4, 16)
    assert self_w[0].shape == (2, 4, 4, 4) and cross_w[1].shape == (2, 4, 4, 6)
    assert torch.all(self_w[0][..., 0, 1:] == 0)  # the first position sees only itself


def test_cache_select_reorders_batch_rows():
    decoder = Decoder(1, d_model=16, n_heads=4, d_ff=32).eval()
    memory = torch.randn(3, 5, 16)
    cache = KVCache()
    decoder(torch.randn(3, 1, 16), memory, cache=cache)
    self_cache = cache.of(decoder.layers[0].self_attn)
    cross_cache = cache.of(decoder.layers[0].cross_attn, static=True)
    before, before_cross = self_cache.k.clone(), cross_cache.k.clone()
    cache.select(torch.tensor([2, 2, 0]))
    torch.testing.assert_close(self_cache.k, before[[2, 2, 0]])
    torch.testing.assert_close(cross_cache.k, before_cross[[2, 2, 0]])


@pytest.mark.parametrize("y, memory, message", [
    (torch.randn(2, 4, 8), torch.randn(2, 6, 16), "stack input"),
    (torch.randn(2, 4, 16), torch.randn(2, 6), "memory"),
    (torch.randn(2, 4, 16), torch.randn(3, 6, 16), "batch size"),
])
def test_bad_inputs(y, memory, message):
    with pytest.raises(ValueError, match=message):
        Decoder(1, 16, 4, 32)(y, memory)
