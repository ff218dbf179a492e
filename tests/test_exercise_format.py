"""Every chapter's exercises follow the course kit's format (scripts/course_kit.py), every checker hides the
answer on a first wrong try, and every chapter has its self-check quiz."""
from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import course_kit  # noqa: E402

CHAPTERS = course_kit.chapter_paths()


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_follow_the_format(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    exercises = course_kit.parse_exercises(nb, path.name)  # raises with the reason
    assert 2 <= len(exercises) <= 5, f"{path.name}: {len(exercises)} exercises, expected 2 to 5"
    kinds = {e.kind for e in exercises}
    assert kinds != {"write code"}, f"{path.name}: every exercise is 'write code'; mix in another kind"
    for e in exercises:
        assert 1 <= e.minutes <= 90, f"{path.name} exercise {e.number}: {e.minutes} min is not an estimate"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_starters_report_not_yet_and_solutions_correct(path):
    """The committed outputs: a starter says "Not yet" (it never stops the notebook) and never shows the
    expected values (the checker keeps them for later tries); the worked solution says "Correct"."""
    cells = _cells(path)
    nb = {"cells": cells}
    for e in course_kit.parse_exercises(nb, path.name):
        if e.starter is None:
            continue
        text = "".join("".join(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in cells[e.starter]["outputs"])
        assert "Not yet:" in text, f"{path.name} exercise {e.number}: the starter's output is {text[:200]!r}"
        assert "Error" not in "".join(o.get("output_type", "") for o in cells[e.starter]["outputs"])
        solved = "".join("".join(o.get("data", {}).get("text/plain", o.get("text", "")))
                         for o in cells[e.solutions[-1]]["outputs"])
        assert "Correct:" in solved, f"{path.name} exercise {e.number}: the solution's output is {solved[:200]!r}"


@pytest.mark.parametrize("number", [int(p.name[:2]) for p in CHAPTERS])
def test_every_checker_is_wrapped(number):
    module = importlib.import_module(f"transformer_edu.exercises.ch{number:02d}")
    checks = [name for name, fn in inspect.getmembers(module, inspect.isfunction)
              if name.startswith("check_") and fn.__module__ == module.__name__]
    assert checks, f"ch{number:02d} has no checkers"
    unwrapped = [name for name in checks if not getattr(getattr(module, name), "checks_answers", False)]
    assert not unwrapped, f"ch{number:02d}: decorate with @checker: {unwrapped}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_shows_its_quiz(path):
    number = int(path.name[:2])
    cells = _cells(path)
    heading = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and "".join(c["source"]).lstrip().startswith("## Self-check")]
    assert len(heading) == 1, f"{path.name}: expected one '## Self-check' section"
    quiz = cells[heading[0] + 1]
    assert "".join(quiz["source"]).strip() == (f"from transformer_edu.viz.views import Quiz\n\n"
                                               f"Quiz.for_chapter({number})")
    exercises = [i for i, c in enumerate(cells) if "## Exercises" in "".join(c["source"])]
    assert exercises and exercises[0] > heading[0], f"{path.name}: the self-check comes before the exercises"
    views = [o for o in quiz["outputs"] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, f"{path.name}: the quiz cell has no stored view (execute the chapter)"
