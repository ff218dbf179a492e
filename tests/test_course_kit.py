"""The course kit (scripts/course_kit.py): the exercise format, the student edition, the nbgrader course and the
session slides, each through the real route (the chapters, nbgrader's own commands, the built book)."""
from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import course_kit  # noqa: E402

NBGRADER = Path(sys.executable).with_name("nbgrader")


def _md(text, tags=None):
    return {"cell_type": "markdown", "metadata": {"tags": tags} if tags else {}, "source": text}


def _code(text, tags=None, outputs=None):
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags} if tags else {},
            "outputs": outputs or [], "source": text}


def _notebook():
    """A small chapter: one exercise with a checker, one without."""
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        _md("# 5. Attention"),
        _code("import math"),
        _md("## Exercises\n\n**Exercise 1** (write code; medium; about 15 min). Write `double(x)`."),
        _code("from transformer_edu.exercises import ch05\n\n\ndef double(x):\n    return None  # your code here\n\n\n"
              "ch05.check_double(double)", ["exercise"]),
        _code("# Solution\ndef double(x):\n    \"\"\"Twice x.\"\"\"\n    y = 2 * x  # the secret line\n    return y\n\n\n"
              "ch05.check_double(double)", ["hide-cell", "solution"]),
        _md("**Exercise 2** (experiment; easy; about 5 min). Try it."),
        _code("# Solution\nprint('the secret experiment')", ["hide-cell", "solution"]),
        _md("**Next:** chapter 6."),
    ]}


def test_parse_reads_kind_level_minutes_and_cells():
    first, second = course_kit.parse_exercises(_notebook())
    assert (first.number, first.kind, first.level, first.minutes, first.points) == (1, "write code", "medium", 15, 2)
    assert (first.prompt, first.starter, first.solutions, first.check) == (2, 3, [4], "ch05.check_double(double)")
    assert (second.kind, second.starter, second.solutions) == ("experiment", None, [6])


@pytest.mark.parametrize("edit, message", [
    (lambda nb: nb["cells"][2].update(source="## Exercises\n\n**Exercise 1** Write it."), "starting `**Exercise N**"),
    (lambda nb: nb["cells"][2].update(source="**Exercise 1** (guess; easy; about 5 min)."), "kind must be one of"),
    (lambda nb: nb["cells"][2].update(source="**Exercise 3** (experiment; easy; about 5 min)."), "expected exercise 1"),
    (lambda nb: nb["cells"][3].update(source="def double(x):\n    return None"), "the last statement must be a checker"),
    (lambda nb: nb["cells"][4].update(source="def double(x):\n    return 2 * x\nch05.check_double(double)"),
     "must start with '# Solution'"),
    (lambda nb: nb["cells"][4].update(source="# Solution\ndouble = None\nch05.check_other(double)"),
     "should end with the starter's ch05.check_double(double)"),
    (lambda nb: nb["cells"].pop(6), "exercise 2: no worked solution"),
    (lambda nb: nb["cells"].insert(1, _code("# Solution\nx = 1", ["solution"])), "follow no exercise"),
])
def test_parse_says_what_is_wrong(edit, message):
    nb = _notebook()
    edit(nb)
    with pytest.raises(ValueError, match=re.escape(message)):
        course_kit.parse_exercises(nb)


def test_student_notebook_drops_solutions_and_keeps_starters():
    nb = _notebook()
    student = course_kit.student_notebook(nb)
    text = json.dumps(student)
    assert "the secret line" not in text and "the secret experiment" not in text
    assert "ch05.check_double(double)" in text and "return None  # your code here" in text
    assert course_kit.STUDENT_NOTE in "".join(student["cells"][2]["source"])
    assert len(student["cells"]) == len(nb["cells"]) - 2
    assert nb == _notebook(), "the full edition must not change"


def test_graded_answer_keeps_signatures_outside_the_solution_region():
    answer = course_kit.graded_answer("# Solution\nimport math\n\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    y = x\n"
                                      "    return y\n\n\nLIMIT = 3\nch05.check_f(f)", "ch05.check_f(f)")
    assert answer.splitlines() == ["import math", "", "", "def f(x):", '    """Doc."""', "    ### BEGIN SOLUTION",
                                   "    y = x", "    return y", "    ### END SOLUTION", "", "", "### BEGIN SOLUTION",
                                   "LIMIT = 3", "### END SOLUTION"]
    ast.parse(answer)


def test_nbgrader_notebook_has_answer_and_locked_test_cells():
    out = course_kit.nbgrader_notebook(_notebook())
    graded = [c for c in out["cells"] if "nbgrader" in c["metadata"]]
    answer, test = graded
    assert answer["metadata"]["nbgrader"] == {"grade": False, "grade_id": "exercise-1-answer", "locked": False,
                                              "schema_version": 3, "solution": True, "task": False}
    assert test["metadata"]["nbgrader"]["points"] == 2 and test["metadata"]["nbgrader"]["locked"]
    assert "".join(test["source"]) == ("feedback = ch05.check_double(double)\nprint(feedback)\n"
                                      "assert feedback, repr(feedback)\n")
    assert "from transformer_edu.exercises import ch05" in "".join(answer["source"])
    assert "the secret experiment" not in json.dumps(out)


def test_every_chapter_converts():
    """All chapters: a student edition without a line of any worked solution, and an nbgrader notebook
    whose graded cells are valid Python."""
    for path in course_kit.chapter_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        student = json.dumps(course_kit.student_notebook(nb, path.name), ensure_ascii=False)
        for line in course_kit.solution_lines(nb, path.name):
            assert json.dumps(line, ensure_ascii=False)[1:-1] not in student, (
                f"{path.name}: solution line {line!r} in the student edition")
        for cell in course_kit.nbgrader_notebook(nb, path.name)["cells"]:
            if cell["cell_type"] == "code" and "nbgrader" in cell["metadata"]:
                ast.parse("".join(cell["source"]))


def test_slides_are_offline_and_cover_every_session(tmp_path):
    decks = course_kit.write_slides(tmp_path / "slides")
    assert [p.name for p in decks] == [f"session-{n}.html" for n in course_kit.SESSIONS]
    for deck in decks:
        html = deck.read_text(encoding="utf-8")
        loaded = re.findall(r"""(?:src|href)=["']([^"'#][^"']*)["']|import [\w{} ,]+ from ['"]([^'"]+)['"]""", html)
        urls = [a or b for a, b in loaded]
        remote = [u for u in urls if re.match(r"(https?:)?//", u)]
        assert not remote, f"{deck.name} loads {remote}"
        assert "../_static/offline/reveal/dist/reveal.js" in html
        assert "{cite}" not in html and "```{" not in html
        assert 'class="te-bertviz"' not in html  # bertviz diagrams need the book's scripts: they stay in the book
        assert html.count("<section") >= 10


def _run(args, cwd):
    # nbgrader starts helpers (alembic) by name, so the environment's bin folder goes first on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PATH": path}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_nbgrader_round_trip(tmp_path):
    """Release chapter 5 with nbgrader, autograde a correct submission (full marks) and one with its last exercise
    left as the starter (partial marks, our checker's "Not yet" in the feedback report)."""
    course = tmp_path / "course"
    assert course_kit.write_nbgrader_course(course, [5]) == ["ch05"]
    name = "05_attention.ipynb"
    _run([NBGRADER, "generate_assignment", "ch05", "--force"], course)
    released = json.loads((course / "release" / "ch05" / name).read_text())
    assert "### BEGIN SOLUTION" not in json.dumps(released) and "raise NotImplementedError()" in json.dumps(released)
    source = json.loads((course / "source" / "ch05" / name).read_text())
    chapter = json.loads((ROOT / "chapters" / name).read_text())
    last = course_kit.parse_exercises(chapter, name)[-1]
    stub = "\n".join(course_kit.source(chapter["cells"][last.starter]).splitlines()[:-1])  # without the check
    wrong = json.loads(json.dumps(released))
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c for c in source["cells"] if "nbgrader" in c["metadata"]}
    for cell in wrong["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
        if grade_id.endswith("-answer"):
            cell["source"] = answers[grade_id]["source"]
            if grade_id == f"exercise-{last.number}-answer":
                cell["source"] = stub
    for student, nb in (("alice", released | {"cells": [
            answers.get(c["metadata"].get("nbgrader", {}).get("grade_id"), c) for c in released["cells"]]}),
                        ("bob", wrong)):
        folder = course / "submitted" / student / "ch05"
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(nb))
    _run([NBGRADER, "autograde", "ch05", "--create"], course)
    _run([NBGRADER, "generate_feedback", "ch05"], course)
    _run([NBGRADER, "export", "--to", str(course / "grades.csv")], course)
    grades = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    total = sum(c["metadata"]["nbgrader"].get("points", 0) for c in source["cells"] if "nbgrader" in c["metadata"])
    assert float(grades["alice"]["max_score"]) == total
    assert float(grades["alice"]["score"]) == total, grades["alice"]
    assert 0 < float(grades["bob"]["score"]) == total - last.points, grades["bob"]
    report = (course / "feedback" / "bob" / "ch05").glob("*.html")
    html = next(report).read_text()
    assert "Not yet:" in html, "the feedback report should carry our checker's message"
    assert html.count("Not yet:") >= 1 and "AssertionError" in html
