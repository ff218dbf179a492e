import torch

from transformer_edu.exercises import ch09


def test_causal_mask_checker():
    assert ch09.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril())
    assert "inverted" in ch09.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).triu(1)).message
    assert "future" in ch09.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).triu()).message
    assert "diagonal" in ch09.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1)).message
    assert "bool" in ch09.check_causal_mask(lambda t: torch.ones(t, t).tril()).message
    assert "torch.Tensor" in ch09.check_causal_mask(lambda t: None).message


def test_teacher_forcing_checker():
    assert ch09.check_teacher_forcing(lambda y: ([1, *y], [*y, 2]))
    assert "swapped" in ch09.check_teacher_forcing(lambda y: ([*y, 2], [1, *y])).message
    assert "NEXT" in ch09.check_teacher_forcing(lambda y: (y, y)).message
    assert "pair" in ch09.check_teacher_forcing(lambda y: None).message


def test_cross_attention_shape_checker():
    good = {"queries": (2, 4, 5, 4), "keys": (2, 4, 7, 4), "values": (2, 4, 7, 4), "weights": (2, 4, 5, 7)}
    assert ch09.check_cross_attention_shapes(good)
    wrong = dict(good, keys=(2, 4, 5, 4))
    assert "memory" in ch09.check_cross_attention_shapes(wrong).message
    assert "keys" in ch09.check_cross_attention_shapes({}).message
