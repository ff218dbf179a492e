import pytest
import torch

from transformer_edu import causal_mask, padding_mask, target_mask, to_torch_convention


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = padding_mask(ids, pad_id=0)
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(4)
    assert mask.shape == (1, 1, 4, 4)
    assert torch.equal(mask[0, 0], torch.tril(torch.ones(4, 4, dtype=torch.bool)))


def test_target_mask_combines_padding_and_causal():
    ids = torch.tensor([[1, 5, 0]])
    mask = target_mask(ids, 0)
    assert mask.shape == (1, 1, 3, 3)
    assert mask[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_torch_convention():
    assert torch.equal(to_torch_convention(causal_mask(2)), ~causal_mask(2))


@pytest.mark.parametrize("call, message", [
    (lambda: padding_mask(torch.tensor([[1.0, 2.0]]), 0), "integer token ids"),
    (lambda: padding_mask(torch.tensor([1, 2]), 0), r"shape \(batch, length\)"),
    (lambda: padding_mask(torch.zeros(2, 0, dtype=torch.long), 0), "empty"),
    (lambda: causal_mask(0), "length must be an int >= 1"),
    (lambda: padding_mask(torch.tensor([[1, 2]], dtype=torch.int16), 0), r"ids.long\(\)"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
