import math

import pytest
import torch

from transformer_edu import TokenEmbedding


def test_lookup_is_one_hot_times_table_scaled():
    emb = TokenEmbedding(10, 6)
    ids = torch.tensor([[3, 0, 9]])
    one_hot = torch.nn.functional.one_hot(ids, 10).float()
    torch.testing.assert_close(emb(ids), one_hot @ emb.weight * math.sqrt(6))


@pytest.mark.parametrize("ids, message", [
    (torch.tensor([[1, 10]]), r"\[0, 9\]"),
    (torch.tensor([[0.0, 1.0]]), "integer"),
    (torch.tensor([[True]]), "integer"),
    (torch.tensor([[1, 2]], dtype=torch.uint8), r"ids.long\(\)"),
])
def test_bad_ids(ids, message):
    with pytest.raises(ValueError, match=message):
        TokenEmbedding(10, 6)(ids)


def test_bad_sizes():
    with pytest.raises(ValueError, match="vocab_size must be an int >= 1"):
        TokenEmbedding(10.5, 6)
