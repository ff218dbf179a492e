import pytest
import torch
from torch import nn

from transformer_edu import Block, GPT, GPTConfig, RMSNorm, Stack
from transformer_edu.normalization import make_norm


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("eps", [1e-5, 1e-6, 0.5])
def test_rms_norm_matches_torch(dtype, eps):
    torch.manual_seed(0)
    ours, theirs = RMSNorm(16, eps).to(dtype), nn.RMSNorm(16, eps=eps).to(dtype)
    with torch.no_grad():
        gain = torch.rand(16, dtype=dtype) + 0.5
        ours.weight.copy_(gain)
        theirs.weight.copy_(gain)
    x = torch.randn(3, 5, 16, dtype=dtype) * 4 + 1  # not centred: RMSNorm must not centre it
    torch.testing.assert_close(ours(x), theirs(x))
    x.requires_grad_(True)
    (g_ours,) = torch.autograd.grad(ours(x).square().sum(), x)
    (g_theirs,) = torch.autograd.grad(theirs(x).square().sum(), x)
    torch.testing.assert_close(g_ours, g_theirs)


def test_rms_norm_rescales_without_centring():
    x = torch.tensor([[[3.0, 4.0, 0.0, 0.0]]])  # rms = 2.5
    y = RMSNorm(4, eps=0.0 + 1e-12)(x)
    torch.testing.assert_close(y, x / 2.5)
    assert y.mean() != 0  # LayerNorm would have centred it
    assert sum(p.numel() for p in RMSNorm(4).parameters()) == 4  # a gain, no bias (LayerNorm has 8)


def test_blocks_and_stacks_use_the_chosen_norm():
    block = Block(16, 4, 32, norm="rms")
    assert isinstance(block.self_attn_norm, RMSNorm) and isinstance(block.ff_norm, RMSNorm)
    assert isinstance(Stack([block], final_norm=True).final_norm, RMSNorm)
    assert isinstance(Block(16, 4, 32).ff_norm, nn.LayerNorm)  # the paper's, by default
    model = GPT(GPTConfig.small(norm="rms", norm_first=True, final_norm=True))
    norms = [m for m in model.modules() if isinstance(m, (RMSNorm, nn.LayerNorm))]
    assert len(norms) == 2 * 4 + 1 and all(isinstance(m, RMSNorm) for m in norms)


@pytest.mark.parametrize("call, message", [
    (lambda: make_norm("batch", 8), r"norm must be one of \('layer', 'rms'\), got 'batch'"),
    (lambda: RMSNorm(8, eps=0), "eps must be"),
    (lambda: RMSNorm(0), "d_model must be an int >= 1"),
    (lambda: RMSNorm(8)(torch.randn(2, 3, 7)), "d_model=8"),
    (lambda: RMSNorm(8)(torch.randn(2, 3, 8, dtype=torch.float64)), "float64"),
    (lambda: GPTConfig.small(norm="RMS"), r"norm must be one of \('layer', 'rms'\), got 'RMS'"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
