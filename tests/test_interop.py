"""Our encoder and decoder stacks reproduce torch.nn.Transformer after copying weights."""
import pytest
import torch

from conftest import TOLERANCES
from transformer_edu import (Decoder, Encoder, TransformerConfig, copy_stacks_from_torch, copy_stacks_to_torch,
                             padding_mask, target_mask, torch_transformer_like)

SRC = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [5, 6, 7, 8, 9, 10, 11]])  # first row padded
TGT = torch.tensor([[1, 4, 5, 0], [1, 4, 5, 6]])


def build(norm_first, dtype, activation="relu"):
    config = TransformerConfig.small(vocab_size=16, d_model=32, n_heads=4, d_ff=64, norm_first=norm_first,
                                     final_norm=True, activation=activation)
    stack = dict(d_model=32, n_heads=4, d_ff=64, norm_first=norm_first, final_norm=True, activation=activation)
    encoder, decoder = Encoder(2, **stack).to(dtype).eval(), Decoder(2, **stack).to(dtype).eval()
    theirs = torch_transformer_like(config).to(dtype).eval()
    return encoder, decoder, theirs


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_stacks_match_nn_transformer(dtype, norm_first, activation):
    encoder, decoder, theirs = build(norm_first, dtype, activation)
    copy_stacks_to_torch(encoder, decoder, theirs)
    x, y = torch.randn(2, 7, 32, dtype=dtype), torch.randn(2, 4, 32, dtype=dtype)
    src_mask, tgt_mask = padding_mask(SRC, 0), target_mask(TGT, 0)
    causal_blocked = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)  # torch: True = blocked
    with torch.no_grad():
        memory = encoder(x, src_mask)
        out = decoder(y, memory, src_mask, tgt_mask)
        t_memory = theirs.encoder(x, src_key_padding_mask=SRC == 0)
        t_out = theirs.decoder(y, t_memory, tgt_mask=causal_blocked, tgt_key_padding_mask=TGT == 0,
                               memory_key_padding_mask=SRC == 0)
    real_src, real_tgt = SRC != 0, TGT != 0
    torch.testing.assert_close(memory[real_src], t_memory[real_src], **TOLERANCES[dtype])
    torch.testing.assert_close(out[real_tgt], t_out[real_tgt], **TOLERANCES[dtype])


def test_copy_from_torch_round_trip():
    encoder, decoder, theirs = build(False, torch.float64)
    copy_stacks_from_torch(theirs, encoder, decoder)
    in_proj = theirs.encoder.layers[1].self_attn.in_proj_weight
    torch.testing.assert_close(encoder.layers[1].self_attn.w_k.weight, in_proj[32:64])
    torch.testing.assert_close(decoder.layers[0].cross_attn.w_o.bias, theirs.decoder.layers[0].multihead_attn.out_proj.bias)
    torch.testing.assert_close(decoder.final_norm.weight, theirs.decoder.norm.weight)


def test_stacks_without_final_norm_are_refused():
    encoder, decoder, theirs = build(False, torch.float32)
    with pytest.raises(ValueError, match="final_norm=True"):
        copy_stacks_to_torch(Encoder(2, 32, 4, 64), decoder, theirs)
    with pytest.raises(ValueError, match="layer counts differ"):
        copy_stacks_to_torch(Encoder(3, 32, 4, 64, final_norm=True), decoder, theirs)


@pytest.mark.parametrize("change, message", [
    (dict(norm_first=True), "norm_first ours False, torch True"),
    (dict(activation="gelu"), "activation ours 'relu', torch 'gelu'"),
    (dict(layer_norm_eps=1e-6), "layer_norm_eps"),
])
def test_stacks_that_compute_differently_are_refused(change, message):
    # Copying would succeed shape by shape, yet the outputs would differ: refuse instead.
    encoder, decoder, _ = build(False, torch.float32)
    config = TransformerConfig.small(vocab_size=16, d_model=32, n_heads=4, d_ff=64, final_norm=True, **change)
    with pytest.raises(ValueError, match=message):
        copy_stacks_to_torch(encoder, decoder, torch_transformer_like(config))


def test_torch_transformer_like_needs_a_config():
    with pytest.raises(ValueError, match="TransformerConfig"):
        torch_transformer_like("small")
