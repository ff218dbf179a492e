"""Input checks for the whole package (no paper section: this is the book's own guard rail).

A wrong input should fail at the boundary with a message that names what was expected and what came, not
deep inside torch with a shape or dtype error. Every validator lives here, once.

Check once. A module's `forward` is decorated with `@checked_by("check_inputs")`: its inputs are checked,
and its body then runs *trusted*, so the modules it calls skip their own checks (they would check the same
tensors again). A module a reader calls directly still checks; Transformer.forward checks token ids, masks
and lengths once for the whole model. (torch's nn.Transformer.forward checks batch sizes and widths at its
top, and its attention modules check shapes and masks again in every layer.)

Non-finite numbers (NaN, inf) spread: one NaN in a key makes every attention row that sees it NaN, and
argmax takes a NaN for the largest logit. Looking for them costs a pass over the data, so they are looked for
at a few places only, each named in its error: the input of a block or stack called directly, the memory a
reader passes to Transformer.decode, the model's outputs (memory, logits), the training loss and a
checkpoint's weights. Inside a model call, non-finite weights show up at the outputs, and that error names them. The test is one aminmax pass (NaN propagates through min and max),
about 10 to 20 times faster on CPU than torch.isfinite(x).all().
"""
from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Mapping
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from .protocol import MODEL_NAMES, SEQ2SEQ_NAMES, Model, Seq2SeqModel

# --- trusted inputs: check once per call of a public entry point ------------------------------------------
_TRUSTED = contextvars.ContextVar("transformer_edu_inputs_trusted", default=False)


def is_trusted() -> bool:
    """True inside an entry point that has already checked its inputs (see the module docstring)."""
    return _TRUSTED.get()


@contextmanager
def trusted():
    """Within the block, decorated modules skip their input checks: the caller has checked what they get."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def checked_by(check):
    """Decorate a function (or a module's forward) so that `check` sees its arguments first, unless it runs
    inside an entry point that already checked; the body then runs trusted. `check` is a function taking the
    same arguments, or the name of a method of the module (called without self in the argument list)."""
    def decorate(function):
        @functools.wraps(function)
        def checked(*args, **kwargs):
            if _TRUSTED.get():
                return function(*args, **kwargs)
            if isinstance(check, str):
                getattr(args[0], check)(*args[1:], **kwargs)
            else:
                check(*args, **kwargs)
            with trusted():
                return function(*args, **kwargs)
        return checked
    return decorate


# --- plain values -------------------------------------------------------------------------------------------
def is_number(value) -> bool:
    """True for an int or a float, False for a bool (which Python counts as an int) and everything else."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(name: str, value, low: int = 1, high: int | None = None, why: str = "") -> None:
    """Raise ValueError unless `value` is an int (not a bool) in [low, high] (no upper bound if high is None).
    `why` is added to the message after the range, e.g. " (at most the vocabulary size)"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        expected = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {expected}{why}, got {value!r}")


def check_number(name: str, value, low: float | None = None, high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> None:
    """Raise ValueError unless `value` is a finite int or float within the bounds (open where said); NaN
    and the infinities are refused whatever the bounds."""
    ok = is_number(value) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = [f"{'>' if low_open else '>='} {low}" if low is not None else "",
                  f"{'<' if high_open else '<='} {high}" if high is not None else ""]
        raise ValueError(f"{name} must be a finite number {' and '.join(b for b in bounds if b)}, got {value!r}")


def check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_texts(texts, name: str = "texts") -> list[str]:
    if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a non-empty list of str, got {texts!r:.80}")
    return list(texts)


def check_text_pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    if not isinstance(pairs, (list, tuple)) or not pairs or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in pairs):
        raise ValueError(f"{name} must be a non-empty list of (source, target) str pairs, got {pairs!r:.80}")
    return [tuple(p) for p in pairs]


def check_text(text, name: str = "text") -> None:
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a str, got {type(text).__name__}")


def check_corpus(texts) -> list[str]:
    """A training corpus: one str or an iterable of str, with at least one character in total."""
    texts = [texts] if isinstance(texts, str) else texts
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(f"texts must be a str or an iterable of str, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        check_text(text, f"texts[{i}]")
    if not any(texts):
        raise ValueError(f"the training corpus is empty: expected at least one non-empty text, got {len(texts)} "
                         "text(s) with no characters")
    return texts


# --- models and tokenizers: anything with the right methods -------------------------------------------------
def check_model(model, seq2seq: bool = True) -> None:
    """Raise ValueError unless `model` is an nn.Module with the Seq2SeqModel protocol's attributes (with
    seq2seq=False, the Model protocol's: what checkpoints and ablation need, which a GPT has too)."""
    protocol, names = (Seq2SeqModel, SEQ2SEQ_NAMES) if seq2seq else (Model, MODEL_NAMES)
    if not (isinstance(model, nn.Module) and isinstance(model, protocol)):
        raise ValueError(f"model must be an nn.Module with the {protocol.__name__} protocol's attributes "
                         f"({', '.join(names)}), as transformer_edu.Transformer has; "
                         f"got {type(model).__name__}")


def check_tokenizer_pair(tokenizers) -> tuple:
    """Return (source, target) unless `tokenizers` is not a pair of tokenizers (encode, decode, vocab_size)."""
    if not (isinstance(tokenizers, (tuple, list)) and len(tokenizers) == 2 and all(
            all(hasattr(t, name) for name in ("encode", "decode", "vocab_size", "to_dict")) for t in tokenizers)):
        raise ValueError(f"tokenizers must be a (source, target) pair of transformer_edu Tokenizers, "
                         f"got {tokenizers!r:.80}")
    return tokenizers[0], tokenizers[1]


# --- tensors ------------------------------------------------------------------------------------------------
def check_features(x: Tensor, d_model: int, name: str = "input", dtype: torch.dtype | None = None,
                   hint: str = "", finite: bool = False) -> None:
    """Raise ValueError unless `x` is a float tensor of shape (batch, length, d_model) and, if given, `dtype`;
    with finite=True (a stack's entry, not every layer), NonFiniteError unless every value is finite."""
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


def check_token_ids(ids: Tensor, vocab_size: int | None = None, name: str = "ids") -> None:
    """Raise ValueError unless `ids` is a non-empty (B, L) integer tensor of ids in [0, vocab_size).

    On the CPU the range is checked at once. On a GPU, reading a value back would make the CPU wait for the
    device, so the range is asserted on the device instead; a bad id then fails at the next synchronisation
    (a RuntimeError with the same message)."""
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.long, torch.int32):
        raise ValueError(f"{name} must hold integer token ids of dtype torch.long (or torch.int32), got dtype "
                         f"{ids.dtype}" + ("" if ids.dtype.is_floating_point or ids.dtype == torch.bool
                                           else "; convert with ids.long()"))
    if ids.dim() != 2:
        raise ValueError(f"{name} must have shape (batch, length), got shape {tuple(ids.shape)}")
    if ids.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(ids.shape)}): need at least one token per sequence")
    if vocab_size is None:
        return
    expected = f"{name} must be in [0, {vocab_size - 1}] for a vocabulary of {vocab_size}"
    if ids.device.type != "cpu":
        torch._assert_async(((ids >= 0) & (ids < vocab_size)).all(), expected)
        return
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{expected}, got values from {low} to {high}")


def check_real_tokens(ids: Tensor, pad_id: int, name: str = "src_ids") -> None:
    """Raise ValueError if a row of the (B, L) ids is padding only: such a source has nothing to attend to,
    and a decoder would still answer it with something."""
    only_padding = (ids == pad_id).all(dim=1)  # (B,)
    if bool(only_padding.any()):
        rows = only_padding.nonzero()[:, 0].tolist()
        raise ValueError(f"{name} row(s) {rows[:10]}{' ...' if len(rows) > 10 else ''} of the batch of shape "
                         f"{tuple(ids.shape)} hold only padding (pad_id {pad_id}): every sequence needs at least "
                         f"one real token")


def check_mask(mask, scores_shape: tuple[int, ...], name: str = "mask", four_dims: bool = True) -> None:
    """Raise ValueError unless `mask` is boolean and broadcasts to the scores' shape (..., T_q, T_k). With
    four_dims (every module's mask) it must have all four axes (batch, heads, queries, keys): a 2-D or 3-D mask
    would broadcast from the right and could silently be read as a per-head or per-query mask."""
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a bool tensor (True = may attend), got {got}")
    pairs = zip(reversed(mask.shape), reversed(scores_shape))
    if (four_dims and mask.dim() != 4) or mask.dim() > len(scores_shape) or any(m not in (1, s) for m, s in pairs):
        raise ValueError(f"{name} of shape {tuple(mask.shape)} does not broadcast to attention scores of shape "
                         f"{tuple(scores_shape)} (batch, heads, queries, keys){' with all four axes' * four_dims}; "
                         f"a padding mask is (B, 1, 1, S) (masks.padding_mask), a causal mask (1, 1, T, T) "
                         f"(masks.causal_mask)")


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise ValueError unless q (..., T, d_k), k (..., S, d_k), v (..., S, d_v) fit one attention."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., length, width), got {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width d_k, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length, got k {tuple(k.shape)} and v {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the leading (batch, head) dimensions of q, k and v must match or broadcast, got "
                         f"q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)}") from None
    if k.shape[-2] == 0 or q.shape[-2] == 0:
        raise ValueError(f"attention needs at least one query and one key, got q {tuple(q.shape)} and k {tuple(k.shape)}")


def check_weights_computed(config, return_attention: bool) -> None:
    """Raise ValueError if attention weights are asked of a model whose kernel never computes them."""
    check_bool("return_attention", return_attention)
    if return_attention and getattr(config, "attention_kernel", "ours") != "ours":
        raise ValueError(f"attention_kernel={config.attention_kernel!r} (torch's fused kernel) never computes the "
                         f"attention weights: build the model with attention_kernel='ours' to get them")


def check_positions(start, length: int, max_len: int) -> None:
    """Raise ValueError unless positions start .. start + length - 1 fit a table of max_len positions."""
    check_int("start", start, 0, why=" (the first position)")
    if start + length > max_len:
        raise ValueError(f"positions {start}..{start + length - 1} exceed max_len={max_len}; "
                         f"build the model with a larger max_len")


# --- non-finite numbers -------------------------------------------------------------------------------------
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
