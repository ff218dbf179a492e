"""Input checks shared by the public modules (no paper section: this is the book's own guard rail).

A wrong input should fail at the boundary with a message that names what was expected and what came, not
deep inside torch with a shape or dtype error. Token ids are checked by `masks.check_token_ids`; this
module checks the (B, L, D) feature tensors that flow between the layers, and plain sizes.

Non-finite numbers (NaN, inf) spread: one NaN in a key makes every attention row that sees it NaN, and
argmax takes a NaN for the largest logit, so greedy decoding quietly returns EOS, an empty output. Looking for them costs a pass over the data, so they are
looked for at a few places only, each named in its error: a stack's input (Encoder, Decoder: features a
reader passes in), the model's outputs (Transformer.encode's memory, Transformer.decode's logits), the
training loss (training.train_step) and the weights of a checkpoint (checkpoint.py). Not in every layer:
measured on the small preset, that cost about 2% of a training step and 10% or more of a decoding run,
where these few places cost too little to measure. The test is one aminmax pass (NaN propagates through
min and max), about 10 to 20 times faster on CPU than torch.isfinite(x).all().
"""
from __future__ import annotations

import math
from collections.abc import Mapping

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


class NonFiniteError(ValueError):
    """A NaN or an infinity where every number must be finite. A ValueError, as every other bad value here."""


def is_finite(x: Tensor) -> bool:
    """True when the float tensor `x` holds no NaN, +inf or -inf (an empty tensor is finite)."""
    if x.numel() == 0:
        return True
    low, high = torch.aminmax(x.detach())  # NaN anywhere makes both NaN
    return math.isfinite(low) and math.isfinite(high)


def describe_non_finite(x: Tensor) -> str:
    """Where the NaN and inf values of `x` are, e.g. "2 NaN and 1 inf among 1,536 values, the first at
    index (0, 3, 17)". Only called once something is wrong, so it may take its time."""
    x = x.detach()
    nan, inf = int(x.isnan().sum()), int(x.isinf().sum())
    counts = " and ".join(f"{n:,} {kind}" for n, kind in ((nan, "NaN"), (inf, "inf")) if n)
    first = tuple(int(i) for i in (~x.isfinite()).nonzero()[0]) if nan or inf else ()
    return f"{counts} among {x.numel():,} values, the first at index {first}"


def non_finite_tensors(tensors: Mapping[str, Tensor]) -> list[str]:
    """Names of the floating-point tensors among `tensors` (e.g. a state_dict) that hold a NaN or an inf. A
    tensor stored under several names (the tied embedding/output matrix) is looked at, and named, once."""
    first_names: dict[int, str] = {}  # data pointer -> first name
    for name, t in tensors.items():
        if isinstance(t, Tensor) and t.dtype.is_floating_point:
            first_names.setdefault(t.data_ptr(), name)
    return [name for name in first_names.values() if not is_finite(tensors[name])]


def non_finite_parameters(module: nn.Module) -> list[str]:
    """Names of the module's parameters and buffers that hold a NaN or an inf (a shared matrix once)."""
    return non_finite_tensors({**dict(module.named_parameters()), **dict(module.named_buffers())})


def check_features(x: Tensor, d_model: int, name: str = "input", dtype: torch.dtype | None = None,
                   hint: str = "", finite: bool = False) -> None:
    """Raise ValueError unless `x` is a float tensor of shape (batch, length, d_model) and, if given, `dtype`;
    with finite=True (a stack's entry, not every layer: see the module docstring), NonFiniteError unless
    every value is finite."""
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
    if finite and not is_finite(x):
        raise NonFiniteError(f"{name} holds {describe_non_finite(x)}. Usual causes: non-finite weights where it "
                             f"was computed (a diverged training run; inside a Transformer, the embedding table), "
                             f"a float16 overflow (values above 65,504), or a NaN in the data it came from")


def check_finite_output(model: nn.Module, out: Tensor, name: str) -> None:
    """NonFiniteError unless every value of `out`, computed by `model`, is finite. The message says whether
    some of the model's weights are NaN or inf (and which) or an overflow made them; the weights are searched
    only once something is wrong."""
    if is_finite(out):
        return
    broken = non_finite_parameters(model)
    if broken:
        why = (f"The model's weights hold NaN or inf, in {len(broken)} tensor(s): {', '.join(broken[:5])}"
               f"{', ...' if len(broken) > 5 else ''}. Usual causes: a training run that diverged (a learning "
               f"rate too high, no warm-up, a float16 overflow in the gradients) or weights set by hand "
               f"(load_checkpoint refuses non-finite weights)")
    else:
        why = ("The weights are finite, so a value overflowed on the way: in float16 (values above 65,504: "
               "compute in float32 or bfloat16), or in a training run whose weights have grown huge (a learning "
               "rate too high, no warm-up)")
    raise NonFiniteError(f"{name} holds {describe_non_finite(out)}. {why}")


def check_real_tokens(ids: Tensor, pad_id: int, name: str = "src_ids") -> None:
    """Raise ValueError if a row of the (B, L) ids is padding only: such a source has nothing to attend to,
    and a decoder would still answer it with something."""
    only_padding = (ids == pad_id).all(dim=1)  # (B,)
    if bool(only_padding.any()):
        rows = only_padding.nonzero()[:, 0].tolist()
        raise ValueError(f"{name} row(s) {rows[:10]}{' ...' if len(rows) > 10 else ''} of the batch of shape "
                         f"{tuple(ids.shape)} hold only padding (pad_id {pad_id}): every sequence needs at least "
                         f"one real token")
