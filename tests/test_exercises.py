"""The checkers explain what is wrong. Per-chapter checker tests live beside this one (test_exercises_chNN.py)."""
import torch

from transformer_edu.exercises._check import compare_tensors, correct


def test_compare_tensors_explains_each_kind_of_mistake():
    expected = torch.ones(2, 3)
    assert "torch.Tensor" in repr(compare_tensors("x", [1, 2], expected))
    assert "shape (2, 3), got (3, 2)" in repr(compare_tensors("x", torch.ones(3, 2), expected))
    assert "NaN" in repr(compare_tensors("x", torch.full((2, 3), float("nan")), expected))
    off = torch.ones(2, 3)
    off[1, 2] = 1.5
    message = repr(compare_tensors("x", off, expected))
    assert message.startswith("Not yet:") and "0.5 at index (1, 2)" in message
    assert compare_tensors("x", expected.clone(), expected) is None
    assert bool(correct("fine")) and repr(correct("fine")) == "Correct: fine"
