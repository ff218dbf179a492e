"""The track's two commands: `init` writes the skeleton, `grade` checks a learner's package part by part.

A learner's package is DIR/mytransformer, imported fresh at every grading. `grade --reference` runs the same
checks on the book's own modules, which the skeleton mirrors name for name.
"""
from __future__ import annotations

import importlib
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from . import checks_parts, checks_stack, checks_training
from .components import COMPONENTS, pointer

PACKAGE = "mytransformer"
SKELETON = Path(__file__).resolve().parent / "skeleton"
MODULES = ("positional_encoding", "attention", "masks", "kv_cache", "multi_head_attention", "feed_forward",
           "encoder", "decoder", "model", "training", "label_smoothing", "decoding", "beam")
CHECKS = {
    "positional-encoding": checks_parts.check_positional_encoding, "attention": checks_parts.check_attention,
    "masks": checks_parts.check_masks, "multi-head-attention": checks_parts.check_multi_head_attention,
    "feed-forward": checks_parts.check_feed_forward, "encoder-layer": checks_stack.check_encoder_layer,
    "encoder": checks_stack.check_encoder, "decoder-layer": checks_stack.check_decoder_layer,
    "decoder": checks_stack.check_decoder, "model": checks_stack.check_model,
    "teacher-forcing": checks_training.check_teacher_forcing, "label-smoothing": checks_training.check_label_smoothing,
    "warm-up-schedule": checks_training.check_warm_up_schedule,
    "greedy-decoding": checks_training.check_greedy_decoding, "beam-search": checks_training.check_beam_search,
    "kv-cache": checks_stack.check_kv_cache,
}
CAPSTONE_TARGET = 0.99


@dataclass
class Result:
    key: str
    title: str
    chapter: int
    status: str  # "passed", "not yet", "not started", "error", "waiting"
    message: str
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def init(directory) -> Path:
    """Write the skeleton to DIR/mytransformer (DIR is created; an existing package is never overwritten)."""
    target = Path(directory).expanduser().resolve() / PACKAGE
    if target.exists():
        raise ValueError(f"{target} exists already: grade it (python -m transformer_edu.track grade "
                         f"{target.parent}), or init another folder; your work is never overwritten")
    target.mkdir(parents=True)
    for source in sorted(SKELETON.glob("*.py")):
        shutil.copyfile(source, target / source.name)
    return target


def load(directory) -> SimpleNamespace:
    """The learner's modules, imported fresh from DIR/mytransformer; a module that fails to import is replaced
    by an object that raises the import error when any part of it is checked."""
    folder = Path(directory).expanduser().resolve()
    if not (folder / PACKAGE / "__init__.py").is_file():
        raise ValueError(f"no package {PACKAGE}/ in {folder}: start with python -m transformer_edu.track init "
                         f"{folder}")
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        importlib.invalidate_caches()
        modules = {}
        for name in MODULES:
            try:
                modules[name] = importlib.import_module(f"{PACKAGE}.{name}")
            except Exception as exc:  # the learner's code: report it where it is used
                modules[name] = _Broken(f"{PACKAGE}/{name}.py could not be imported: {exc!r}")
        return SimpleNamespace(**modules)
    finally:
        sys.path.remove(str(folder))


class _Broken:
    def __init__(self, message: str):
        self._message = message

    def __getattr__(self, name):
        raise ImportError(self._message)


def reference() -> SimpleNamespace:
    """The book's own modules under the skeleton's module names."""
    from .. import (attention, beam, decoder, decoding, encoder, feed_forward, kv_cache, label_smoothing, masks,
                    model, multi_head_attention, positional_encoding)
    from ..data import teacher_forcing
    from ..training import noam_lr
    return SimpleNamespace(positional_encoding=positional_encoding, attention=attention, masks=masks,
                           kv_cache=kv_cache, multi_head_attention=multi_head_attention, feed_forward=feed_forward,
                           encoder=encoder, decoder=decoder, model=model, label_smoothing=label_smoothing,
                           training=SimpleNamespace(teacher_forcing=teacher_forcing, noam_lr=noam_lr),
                           decoding=decoding, beam=beam)


def _where(exc: BaseException) -> str:
    """The last line of the traceback that is in the learner's package (or the last line)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f"{PACKAGE}/" in f.filename.replace("\\", "/")] or frames[-1:]
    return f" ({Path(mine[-1].filename).name}, line {mine[-1].lineno})" if mine else ""


def run_checks(mine, upto: int | None = None) -> list[Result]:
    """Every part in dependency order (or only the parts of chapters up to `upto`)."""
    results: dict[str, Result] = {}
    for component in COMPONENTS:
        if upto is not None and component.chapter > upto:
            continue
        waiting = [d for d in component.depends if not results[d].passed]
        if waiting:
            names = ", ".join(results[d].title for d in waiting)
            results[component.key] = Result(component.key, component.title, component.chapter, "waiting",
                                            f"needs {names} first")
            continue
        start = time.perf_counter()
        torch.manual_seed(0)
        try:
            feedback = CHECKS[component.key](mine)
            status, message = ("passed" if feedback.passed else "not yet"), feedback.message
        except NotImplementedError as exc:
            status, message = "not started", str(exc) or f"not implemented yet: {pointer(component.key)}"
        except Exception as exc:  # the learner's code raised: report it, go on with the next part
            status, message = "error", f"your code raised {type(exc).__name__}: {exc}{_where(exc)}"
        results[component.key] = Result(component.key, component.title, component.chapter, status, message,
                                        time.perf_counter() - start)
    return list(results.values())


def capstone(mine, steps: int = 1500, seed: int = 0, progress: bool = False) -> Result:
    """The learner's Transformer trained on dates by the book's own loop (the settings of `make checkpoint`),
    stopping early once held-out exact match reaches 99.5%; passes at >= 99% on 1,000 held-out dates."""
    from ..config import TransformerConfig
    from ..data import build_tokenizers, make_dataset
    from ..evaluation import exact_match, held_out_evaluator
    from ..training import train

    start = time.perf_counter()
    train_pairs, test_pairs = make_dataset("dates", steps * 128, 1000, seed=0)
    tokenizers = build_tokenizers("dates")
    config = TransformerConfig(src_vocab_size=tokenizers[0].vocab_size, tgt_vocab_size=tokenizers[1].vocab_size,
                               d_model=64, n_heads=4, d_ff=256, n_encoder_layers=2, n_decoder_layers=2, dropout=0.1,
                               max_len=64)
    torch.manual_seed(seed)
    try:
        model = mine.model.Transformer(config)
        history = train(model, train_pairs, tokenizers=tokenizers, steps=steps, batch_size=128, warmup_steps=400,
                        lr_factor=0.5, smoothing=0.1, eval_every=250, eval_fn=held_out_evaluator(test_pairs, tokenizers),
                        stop_when=lambda metrics: metrics["exact_match"] >= 0.995, seed=seed, progress=progress)
        accuracy = exact_match(model, test_pairs, *tokenizers)
    except Exception as exc:
        return Result("capstone", "capstone: dates", 11, "error", f"training raised {type(exc).__name__}: {exc}"
                      f"{_where(exc)}", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    message = (f"{accuracy:.1%} exact match on 1,000 held-out dates after {history['step'][-1]} steps "
               f"({seconds:.0f} s; target {CAPSTONE_TARGET:.0%})")
    return Result("capstone", "capstone: dates", 11, "passed" if accuracy >= CAPSTONE_TARGET else "not yet", message,
                  seconds)


def table(results: list[Result]) -> str:
    lines = [f"  {'part':<31} {'chapter':>7}   result"]
    for r in results:
        shown = {"passed": "passed", "waiting": f"waiting ({r.message})",
                 "not started": "not started: " + r.message.split(": ", 1)[-1]}.get(r.status, f"{r.status}: {r.message}")
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"  {r.title:<31} {r.chapter:>7}   {shown}")
    return "\n".join(lines)


def grade(directory=None, *, reference_package: bool = False, with_capstone: bool = True,
          upto: int | None = None, out=print) -> list[Result]:
    """Grade DIR/mytransformer (or, with reference_package=True, the book's own package): the progress table,
    then the first failing part's full message; the capstone runs once every part passes. With `upto=N`,
    only the parts built in chapters up to N are graded, and the capstone runs only if that is all of them."""
    if upto is not None and (isinstance(upto, bool) or not isinstance(upto, int) or upto < 1):
        raise ValueError(f"upto must be a chapter number (a positive int), got {upto!r}")
    mine = reference() if reference_package else load(directory)
    results = run_checks(mine, upto)
    if upto is not None and upto < max(c.chapter for c in COMPONENTS):
        with_capstone = False
    if with_capstone and all(r.passed for r in results):
        out("every part passes: the capstone trains your model on dates (a few minutes) ...")
        results.append(capstone(mine))
    out(table(results))
    first = next((r for r in results if not r.passed and r.status != "waiting"), None)
    done = sum(r.passed for r in results)
    if first is None:
        skipped = (f" (parts up to chapter {upto}; no capstone)" if upto is not None and not with_capstone
                   else "" if with_capstone else " (capstone not run: --no-capstone)")
        out(f"\nall {done} passed.{skipped}")
    else:
        out(f"\n{done} of {len(results)} passed. First to fix: {first.title} (chapter {first.chapter})\n  "
            f"{first.message}")
    return results
