"""Where the tensors live: the fastest device on this machine, and a model's own device.

A model's weights sit on one device (`model.to(device)` moves them). Every tensor the package makes while it
runs a model (masks, the decoder's first BOS, a beam's scores, a batch for a training step) is made on the
model's device or moved there, so the same code runs on the CPU, an NVIDIA GPU (CUDA) or an Apple GPU (MPS).
tests/test_devices.py checks it by running forward, backward, training, greedy and beam search with the
default device set to `meta`: a tensor made without naming its device would land there and fail.

    device = best_device()        # cuda, else mps, else cpu
    print(describe(device))       # what the chapters print before they train
    model.to(device)
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

KINDS = ("cpu", "cuda", "mps")


def best_device() -> torch.device:
    """An NVIDIA GPU if PyTorch sees one, else an Apple GPU (MPS), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" or None -> best_device(); otherwise the device named, which must exist on this machine."""
    if device is None or device == "auto":
        return best_device()
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'mps', got {device!r}") from exc
    if chosen.type not in KINDS:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'mps', got {device!r}")
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but PyTorch sees no CUDA GPU here (torch.cuda.is_available() "
                         "is False): use 'auto' or 'cpu'")
    if chosen.type == "mps" and not best_device().type == "mps":
        raise ValueError("device 'mps' asked for, but PyTorch sees no Apple GPU here: use 'auto' or 'cpu'")
    return chosen


def describe(device: str | torch.device) -> str:
    """One line for a reader: which device, and which GPU or how many CPU threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"the GPU {torch.cuda.get_device_name(device)} (CUDA)"
    if device.type == "mps":
        return "the Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"the CPU ({threads} thread{'s' if threads != 1 else ''})"


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def check_same_device(model: nn.Module, x: Tensor, name: str) -> None:
    """A clear error, instead of one from deep inside torch, when an input is not on the model's device."""
    device = model_device(model)
    if x.device != device:
        raise ValueError(f"{name} is on {x.device} but the model's weights are on {device}: move the input "
                         f"with {name}.to({str(device)!r}) (or the model with model.to({str(x.device)!r}))")


__all__ = ["best_device", "check_same_device", "describe", "model_device", "resolve"]
