"""Input checks shared by the public modules (no paper section: this is the book's own guard rail).

A wrong input should fail at the boundary with a message that names what was expected and what came, not
deep inside torch with a shape or dtype error. Token ids are checked by `masks.check_token_ids`; this
module checks the (B, L, D) feature tensors that flow between the layers, and plain sizes.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def is_number(value) -> bool:
    """True for an int or a float, False for a bool (which Python counts as an int) and everything else."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(name: str, value, low: int = 1, high: int | None = None, why: str = "") -> None:
    """Raise ValueError unless `value` is an int (not a bool) in [low, high] (no upper bound if high is None).
    `why` is added to the message after the range, e.g. " (at most the vocabulary size)"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        expected = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {expected}{why}, got {value!r}")


def weight_dtype(module: nn.Module) -> torch.dtype | None:
    """The dtype of a module's first parameter (None for a module without parameters)."""
    return next((p.dtype for p in module.parameters()), None)


def check_features(x: Tensor, d_model: int, name: str = "input", dtype: torch.dtype | None = None,
                   hint: str = "") -> None:
    """Raise ValueError unless `x` is a float tensor of shape (batch, length, d_model) and, if given, `dtype`."""
    expected = f"(batch, length, d_model={d_model})"
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {expected}, got {type(x).__name__}{hint}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor (embedded tokens), got dtype {x.dtype}{hint}")
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}{hint}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): need at least one position")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} has dtype {x.dtype} but the module's weights are {dtype}: convert one to match "
                         f"(x.to({dtype}), or module.to({x.dtype}))")
