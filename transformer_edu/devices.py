"""Where the tensors live: the fastest device on this machine, and a model's own device.

A model's weights sit on one device (`model.to(device)` moves them). Every tensor the package makes while it
runs a model (masks, the decoder's first BOS, a beam's scores, a batch for a training step) is made on the
model's device or moved there, so the same code runs on the CPU, an NVIDIA GPU (CUDA) or an Apple GPU (MPS).
tests/test_devices.py checks it by running forward, backward, training, greedy and beam search with the
default device set to `meta`: a tensor made without naming its device would land there and fail.

    device = best_device()        # cuda, else mps, else cpu
    print(describe(device))       # what the chapters print before they train
    model.to(device)

The environment variable TRANSFORMER_EDU_DEVICE, when set to cpu, cuda or mps, overrides the choice of
best_device() (and so of every "auto"). `make test` and `make execute` set it to cpu: the chapters' stored
outputs are the CPU's numbers, and a GPU computes the same model in a different order, so its last digits
differ.
"""
from __future__ import annotations

import os

import torch
from torch import Tensor, nn

KINDS = ("cpu", "cuda", "mps")
ENV = "TRANSFORMER_EDU_DEVICE"


DEVICE_HELP = "auto (a GPU if there is one, else the CPU), cpu, cuda, cuda:N or mps"


def add_device_option(parser, what: str = "") -> None:
    """A command line's --device option (default auto); `what` ends its help, e.g. ": what is measured"."""
    parser.add_argument("--device", default="auto", help=DEVICE_HELP + what)


def parsed_device(parser, args) -> torch.device:
    """args.device resolved; a device this machine lacks stops the command with argparse's error message."""
    try:
        return resolve(args.device)
    except ValueError as exc:
        parser.error(str(exc))


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def best_device() -> torch.device:
    """An NVIDIA GPU if PyTorch sees one, else an Apple GPU (MPS), else the CPU; or the device that the
    environment variable TRANSFORMER_EDU_DEVICE names."""
    named = os.environ.get(ENV, "").strip()
    if named and named != "auto":
        return _named(named, f"the environment variable {ENV}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" or None -> best_device(); otherwise the device named, which must exist on this machine."""
    if device is None or device == "auto":
        return best_device()
    return _named(device, "device")


def _named(device, name: str) -> torch.device:
    """The device called `device`, checked to be a kind the package knows and present on this machine."""
    expected = f"{name} must be 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'mps', got {device!r}"
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(expected) from exc
    if chosen.type not in KINDS:
        raise ValueError(expected)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} asks for {device!r}, but PyTorch sees no CUDA GPU here "
                         f"(torch.cuda.is_available() is False): use 'auto' or 'cpu'")
    if chosen.type == "mps" and not _mps_available():
        raise ValueError(f"{name} asks for {device!r}, but PyTorch sees no Apple GPU here: use 'auto' or 'cpu'")
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


def synchronize(device: str | torch.device) -> None:
    """Wait until `device` has finished the work queued on it. A GPU runs asynchronously: PyTorch returns as
    soon as an operation is queued, so a clock read without this measures the queueing, not the work. The
    CPU has nothing to wait for."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be a torch.device or a name such as 'cpu', 'cuda' or 'mps', "
                         f"got {device!r}") from exc
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


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


__all__ = ["DEVICE_HELP", "add_device_option", "best_device", "check_same_device", "describe", "model_device",
           "parsed_device", "resolve", "synchronize"]
