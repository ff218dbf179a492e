"""Shared pieces for the exercise checkers: a feedback object and tensor comparisons that explain themselves."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch


# A wrong try first gets a hint, never the answer: the expected values (`answer=` of `not_yet`) are added to the
# message only from this many wrong tries of the same checker on (counted per checker, per Python process).
REVEAL_AFTER = 3
_wrong_tries: dict[str, int] = {}


@dataclass(frozen=True)
class Feedback:
    """The answer to one check. Shows as a short sentence in a notebook; `bool(feedback)` is `passed`.

    `answer` holds the expected values of a wrong try; a checker wrapped in `checker` folds it into the message
    only from the REVEAL_AFTER-th wrong try on, so the first tries get hints only."""

    passed: bool
    message: str
    answer: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("Correct: " if self.passed else "Not yet: ") + self.message


def correct(message: str) -> Feedback:
    return Feedback(True, message)


def not_yet(message: str, answer: str = "") -> Feedback:
    """A wrong try: `message` is the hint (what differs, where to look) and must not give the answer away;
    `answer` (optional) names the expected values, shown only after repeated wrong tries."""
    return Feedback(False, message, answer)


def checker(fn):
    """Decorate every public check_* function: counts its wrong tries and reveals `answer` only from the
    REVEAL_AFTER-th wrong try on (the message then ends with it); before that, says how to see it."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs) -> Feedback:
        feedback = fn(*args, **kwargs)
        if feedback.passed:
            return feedback
        tries = _wrong_tries[fn.__qualname__] = _wrong_tries.get(fn.__qualname__, 0) + 1
        if not feedback.answer:
            return Feedback(False, feedback.message)
        if tries >= REVEAL_AFTER:
            return Feedback(False, f"{feedback.message} {feedback.answer}")
        left = REVEAL_AFTER - tries
        return Feedback(False, f"{feedback.message} (Try again: after {left} more wrong "
                               f"tr{'y' if left == 1 else 'ies'} this checker also shows the expected values.)")

    wrapped.checks_answers = True
    return wrapped


def reset_tries() -> None:
    """Forget every checker's count of wrong tries (a fresh start, as in a new kernel)."""
    _wrong_tries.clear()


def _shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def call_learner(fn, *args, show_tensor=_shape):
    """(result, None), or (None, Feedback) naming the arguments if the learner's function raised.
    Tensor arguments are shown by `show_tensor` (default: their shape), others by repr."""
    try:
        return fn(*args), None
    except Exception as exc:  # the learner's code: report, do not crash
        shown = ", ".join(show_tensor(a) if isinstance(a, torch.Tensor) else repr(a) for a in args)
        return None, not_yet(f"calling your function with ({shown}) raised {exc!r}")


def compare_tensors(name: str, got, expected: torch.Tensor, atol: float = 1e-5, hint: str = "") -> Feedback | None:
    """None if `got` equals `expected` within atol; otherwise Feedback saying how they differ."""
    hint = f" {hint}" if hint else ""
    if not isinstance(got, torch.Tensor):
        return not_yet(f"{name} should be a torch.Tensor, got {type(got).__name__}.{hint}")
    if tuple(got.shape) != tuple(expected.shape):
        return not_yet(f"{name} should have shape {tuple(expected.shape)}, got {tuple(got.shape)}.{hint}")
    if got.dtype.is_floating_point != expected.dtype.is_floating_point:
        return not_yet(f"{name} should have a dtype like {expected.dtype}, got {got.dtype}.{hint}")
    diff = (got.detach().to(torch.float64) - expected.detach().to(torch.float64)).abs()
    if torch.isnan(diff).any():
        return not_yet(f"{name} contains NaN values (a fully masked softmax row gives NaN, for example).{hint}")
    worst = diff.max().item() if diff.numel() else 0.0
    if worst > atol:
        where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
        return not_yet(f"{name} has the right shape but its values differ: the largest difference is "
                       f"{worst:.3g} at index {where} (tolerance {atol:g}).{hint}")
    return None
