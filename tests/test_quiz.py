"""The self-check quizzes: every chapter's question file is well formed, and bad questions are refused clearly."""
from __future__ import annotations

import json

import pytest

from transformer_edu.viz.views import Quiz, load_quiz
from transformer_edu.viz.views.quiz import QUIZ_FOLDER, check_question

FILES = sorted(QUIZ_FOLDER.glob("ch*.json"))
GOOD_CHOICE = {"id": "a", "kind": "choice", "prompt": "Which?", "options": ["x", "y"], "answer": 1,
               "explanations": ["x is wrong because ...", "y is right because ..."]}
GOOD_NUMBER = {"id": "b", "kind": "number", "prompt": "How many?", "answer": 1050624, "tolerance": 0,
               "hint": "Count the weights and the biases of the four projections.",
               "explanation": "4 × 512 × 512 + 4 × 512 = 1,050,624."}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_quiz_loads_with_both_kinds(path):
    quiz = Quiz.for_chapter(int(path.stem[2:]))
    questions = quiz.data["questions"]
    assert 3 <= len(questions) <= 6
    kinds = [q["kind"] for q in questions]
    assert "choice" in kinds and "number" in kinds, f"{path.name}: needs multiple choice and numeric questions"
    for q in questions:
        if q["kind"] == "choice":
            right = q["explanations"][q["answer"]]
            assert all(len(e) >= 20 for e in q["explanations"]), f"{path.name} {q['id']}: explain every option"
            assert right not in [e for i, e in enumerate(q["explanations"]) if i != q["answer"]]
        assert "$" not in json.dumps(q), f"{path.name} {q['id']}: plain text, no LaTeX (the page shows it as typed)"


def test_every_chapter_has_a_quiz(tmp_path):
    from pathlib import Path
    chapters = sorted(Path(__file__).resolve().parents[1].joinpath("chapters").glob("[0-9][0-9]_*.ipynb"))
    assert [f"ch{p.name[:2]}" for p in chapters] == [p.stem for p in FILES]


def test_a_quiz_view_round_trips_its_questions():
    view = Quiz([GOOD_CHOICE, GOOD_NUMBER, dict(GOOD_CHOICE, id="c")], title="t")
    assert [q["id"] for q in view.data["questions"]] == ["a", "b", "c"]
    assert repr(view) == "Quiz(3 questions)"


@pytest.mark.parametrize("change, message", [
    ({"kind": "essay"}, "kind must be 'choice' or 'number'"),
    ({"answer": 2}, "answer must be the index of the right option, 0 to 1"),
    ({"answer": True}, "answer must be the index"),
    ({"explanations": ["only one"]}, "explanations must give one string per option (2)"),
    ({"options": ["same", "same"]}, "two options are the same text"),
    ({"prompt": "  "}, "prompt must be a non-empty string"),
    ({"extra": 1}, "unexpected keys ['extra']"),
])
def test_bad_choice_questions_are_refused(change, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        check_question({**GOOD_CHOICE, **change}, 0)


@pytest.mark.parametrize("change, message", [
    ({"answer": float("nan")}, "answer must be a finite number"),
    ({"tolerance": -1}, "tolerance must be >= 0"),
    ({"hint": "It is 1,050,624."}, "the hint must not give the answer away"),
    ({"explanation": None}, "explanation must be a non-empty string"),
])
def test_bad_numeric_questions_are_refused(change, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        check_question({**GOOD_NUMBER, **change}, 0)


def test_quiz_size_and_ids_are_checked():
    with pytest.raises(ValueError, match="3 to 6 questions"):
        Quiz([GOOD_CHOICE])
    with pytest.raises(ValueError, match="ids must be unique"):
        Quiz([GOOD_CHOICE, GOOD_CHOICE, GOOD_NUMBER])


@pytest.mark.parametrize("chapter, message", [(0, "chapter must be a chapter number"), (99, "no quiz for chapter 99"),
                                              ("5", "chapter must be a chapter number")])
def test_unknown_chapters_are_refused(chapter, message):
    with pytest.raises(ValueError, match=message):
        load_quiz(chapter)
