"""Quiz: a chapter's self-check questions (multiple choice and numeric), answered and explained in the browser,
so it works in the static book with no kernel and in JupyterLab alike.

The questions of chapter N live in transformer_edu/quizzes/chNN.json (package data); `Quiz.for_chapter(N)` loads
them. The format, checked here so a mistake in a question file fails loudly in the tests, not silently in a page:

    {"chapter": 5, "questions": [
      {"id": "short-name", "kind": "choice", "prompt": "...", "options": ["...", "..."], "answer": 1,
       "explanations": ["why option 0 is wrong", "why option 1 is right"]},
      {"id": "other-name", "kind": "number", "prompt": "...", "answer": 1050624, "tolerance": 0,
       "hint": "shown after a wrong answer; never the value", "explanation": "how the answer is worked out"}]}

Text is plain (Unicode symbols such as √, ×, ≤, subscripts written d_k): it is set with textContent, never parsed
as HTML or LaTeX. A choice question explains the option picked, right or wrong; a numeric one gives its hint after
a wrong answer, and its explanation once answered right or after "Show the answer".
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .base import View, front_end

_HERE = Path(__file__).parent
QUIZ_FOLDER = _HERE.parent.parent / "quizzes"
MIN_QUESTIONS, MAX_QUESTIONS = 3, 6


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string, got {value!r}")
    return value.strip()


def check_question(question, index: int) -> dict:
    """One question, checked and normalised (the dict the page gets); ValueError names what is wrong."""
    where = f"question {index}"
    if not isinstance(question, dict):
        raise ValueError(f"{where} must be a dict, got {type(question).__name__}")
    kind = question.get("kind")
    allowed = {"choice": {"id", "kind", "prompt", "options", "answer", "explanations"},
               "number": {"id", "kind", "prompt", "answer", "tolerance", "hint", "explanation"}}
    if kind not in allowed:
        raise ValueError(f"{where}: kind must be 'choice' or 'number', got {kind!r}")
    extra, missing = set(question) - allowed[kind], allowed[kind] - set(question)
    if extra or missing:
        raise ValueError(f"{where} ({kind}): unexpected keys {sorted(extra)}, missing keys {sorted(missing)}")
    out = {"id": _text(question["id"], f"{where}'s id"), "kind": kind,
           "prompt": _text(question["prompt"], f"{where}'s prompt")}
    if kind == "choice":
        options, explanations, answer = question["options"], question["explanations"], question["answer"]
        if not isinstance(options, list) or not 2 <= len(options) <= 6:
            raise ValueError(f"{where}: options must be a list of 2 to 6 strings, got {options!r}")
        if not isinstance(explanations, list) or len(explanations) != len(options):
            raise ValueError(f"{where}: explanations must give one string per option ({len(options)}), "
                             f"got {explanations!r}")
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(options):
            raise ValueError(f"{where}: answer must be the index of the right option, 0 to {len(options) - 1}, "
                             f"got {answer!r}")
        out.update(options=[_text(o, f"{where}'s option {i}") for i, o in enumerate(options)],
                   explanations=[_text(e, f"{where}'s explanation {i}") for i, e in enumerate(explanations)],
                   answer=answer)
        if len(set(out["options"])) != len(out["options"]):
            raise ValueError(f"{where}: two options are the same text")
    else:
        answer, tolerance = question["answer"], question["tolerance"]
        for name, value in (("answer", answer), ("tolerance", tolerance)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
        if tolerance < 0:
            raise ValueError(f"{where}: tolerance must be >= 0, got {tolerance}")
        hint = _text(question["hint"], f"{where}'s hint")
        if _number_in(hint, answer, tolerance):
            raise ValueError(f"{where}: the hint must not give the answer away, but it contains {answer!r}")
        out.update(answer=answer, tolerance=tolerance, hint=hint,
                   explanation=_text(question["explanation"], f"{where}'s explanation"))
    return out


def _number_in(text: str, answer: float, tolerance: float) -> bool:
    """Whether `text` writes a number within tolerance of answer (commas between thousands allowed)."""
    import re
    for match in re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", text):
        try:
            value = float(match.replace(",", ""))
        except ValueError:
            continue
        if abs(value - answer) <= tolerance and abs(answer) >= 10:  # small numbers (2, 0.5) occur in any text
            return True
    return False


def load_quiz(chapter: int) -> dict:
    """The checked questions of one chapter, from transformer_edu/quizzes/chNN.json."""
    if isinstance(chapter, bool) or not isinstance(chapter, int) or chapter < 1:
        raise ValueError(f"chapter must be a chapter number (an int >= 1), got {chapter!r}")
    path = QUIZ_FOLDER / f"ch{chapter:02d}.json"
    if not path.exists():
        known = sorted(p.stem for p in QUIZ_FOLDER.glob("ch*.json"))
        raise ValueError(f"no quiz for chapter {chapter}: expected {path.name}; the quizzes are {known}")
    content = json.loads(path.read_text(encoding="utf-8"))
    if content.get("chapter") != chapter:
        raise ValueError(f"{path.name} says chapter {content.get('chapter')!r}, expected {chapter}")
    return {"chapter": chapter, "questions": content.get("questions")}


class Quiz(View):
    """Self-check questions answered in the page: radio buttons or a number box, a Check button per question,
    the explanation of every answer, and a running score. `Quiz(questions, title=...)`, or
    `Quiz.for_chapter(5)` for a chapter's own quiz (see this module's docstring for the question format)."""

    _esm = front_end("view_quiz.js")
    _css = (_HERE / "views.css").read_text(encoding="utf-8") + (_HERE / "quiz.css").read_text(encoding="utf-8")

    @classmethod
    def data_for(cls, questions, *, title: str | None = None):
        if not isinstance(questions, list) or not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
            raise ValueError(f"questions must be a list of {MIN_QUESTIONS} to {MAX_QUESTIONS} questions, got "
                             f"{questions!r:.80}")
        checked = [check_question(q, i) for i, q in enumerate(questions)]
        ids = [q["id"] for q in checked]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question ids must be unique, got {ids}")
        return {"title": title, "questions": checked}

    @classmethod
    def for_chapter(cls, chapter: int) -> "Quiz":
        quiz = load_quiz(chapter)
        return cls(quiz["questions"], title=f"Self-check: chapter {chapter}")

    def _summary(self) -> str:
        return f"{len(self.data['questions'])} questions"
