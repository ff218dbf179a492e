import pytest
import torch

from transformer_edu import Encoder, EncoderLayer, padding_mask


def test_layer_and_stack_shapes_and_weights():
    encoder = Encoder(3, d_model=16, n_heads=2, d_ff=32).eval()
    x = torch.randn(2, 5, 16)
    out, attention = encoder(x, padding_mask(torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]), 0),
                             return_attention=True)
    weights = attention.encoder_self
    assert attention.decoder_self == [] and attention.cross == []
    assert out.shape == (2, 5, 16) and len(weights) == 3 and weights[0].shape == (2, 2, 5, 5)
    assert torch.all(weights[2][0, :, :, 3:] == 0)  # padded keys get no attention


def test_layers_are_independent():
    encoder = Encoder(2, d_model=16, n_heads=2, d_ff=32)
    assert encoder.layers[0].self_attn.w_q.weight is not encoder.layers[1].self_attn.w_q.weight
    assert not torch.equal(encoder.layers[0].self_attn.w_q.weight, encoder.layers[1].self_attn.w_q.weight)


def test_self_attention_without_positions_is_permutation_equivariant():
    layer = EncoderLayer(16, 2, 32, dropout=0.0).eval()
    x = torch.randn(1, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(layer(x)[:, perm], layer(x[:, perm]))


def test_bad_input():
    with pytest.raises(ValueError, match="d_model=16"):
        Encoder(1, 16, 2, 32)(torch.randn(2, 5, 8))
