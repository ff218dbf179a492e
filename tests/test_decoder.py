import pytest
import torch

from transformer_edu import Decoder, causal_mask


def test_stack_returns_self_and_cross_weights():
    decoder = Decoder(2, d_model=16, n_heads=4, d_ff=32).eval()
    y, memory = torch.randn(2, 4, 16), torch.randn(2, 6, 16)
    out, self_w, cross_w = decoder(y, memory, tgt_mask=causal_mask(4), return_attention=True)
    assert out.shape == (2, 4, 16)
    assert self_w[0].shape == (2, 4, 4, 4) and cross_w[1].shape == (2, 4, 4, 6)
    assert torch.all(self_w[0][..., 0, 1:] == 0)  # the first position sees only itself


def test_cache_select_reorders_batch_rows():
    decoder = Decoder(1, d_model=16, n_heads=4, d_ff=32).eval()
    memory = torch.randn(3, 5, 16)
    cache = decoder.new_cache()
    decoder(torch.randn(3, 1, 16), memory, cache=cache)
    before = cache.layers[0]["self"]["k"].clone()
    cache.select(torch.tensor([2, 2, 0]))
    torch.testing.assert_close(cache.layers[0]["self"]["k"], before[[2, 2, 0]])


@pytest.mark.parametrize("y, memory, message", [
    (torch.randn(2, 4, 8), torch.randn(2, 6, 16), "decoder input"),
    (torch.randn(2, 4, 16), torch.randn(2, 6), "memory"),
    (torch.randn(2, 4, 16), torch.randn(3, 6, 16), "batch size"),
])
def test_bad_inputs(y, memory, message):
    with pytest.raises(ValueError, match=message):
        Decoder(1, 16, 4, 32)(y, memory)
