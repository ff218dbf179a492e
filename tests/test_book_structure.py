"""The book's table of contents, chapter titles and notebooks agree (what scripts/build_book.py checks first)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_book  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_every_listed_page_exists_and_every_chapter_is_listed():
    missing, unlisted = build_book.check_toc()
    assert missing == [] and unlisted == []
    assert len(CHAPTERS) >= 15


def test_chapter_titles_carry_their_file_numbers():
    assert build_book.check_chapter_titles() == []


def test_a_wrong_title_is_reported(tmp_path):
    (tmp_path / "chapters").mkdir()
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["# 4. Positional encoding\n"]}
    (tmp_path / "chapters" / "05_attention.ipynb").write_text(json.dumps({"cells": [cell]}))
    problems = build_book.check_chapter_titles(tmp_path)
    assert len(problems) == 1 and "expected a first title '# 5. ...'" in problems[0]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_executed_with_the_python3_kernel_and_no_error_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code if "".join(c["source"]).strip())
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_solutions_are_hidden_in_the_book_and_collapsed_in_jupyterlab(path):
    """A worked solution is a code cell starting "# Solution": the book hides it behind a toggle (hide-cell),
    JupyterLab opens it collapsed, input and output, so its printed "Correct: ..." does not give it away."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    solutions = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith("# Solution")]
    hidden = [c for c in nb["cells"] if "hide-cell" in c["metadata"].get("tags", [])]
    assert solutions and len(hidden) == len(solutions), f"{path.name}: {len(solutions)} solutions, {len(hidden)} hidden"
    for cell in solutions:
        assert "hide-cell" in cell["metadata"].get("tags", []), "".join(cell["source"])[:80]
        assert cell["metadata"].get("jupyter") == {"source_hidden": True, "outputs_hidden": True}, \
            "".join(cell["source"])[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_keeps_the_chapter_standard(path):
    """What every chapter promises its reader (STYLE.md, "Chapters"): a summary, 2 or more exercises whose
    answers go to this chapter's checker module, worked solutions, a common-confusions box, and
    (from chapter 2 on, where the package's components are built) the package's own source shown, not pasted."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    number = path.name[:2]
    assert "\n## Summary" in markdown and "\n## Exercises" in markdown, path.name
    exercises = re.findall(r"\*\*Exercise \d+\*\* \(", markdown)  # the course kit's format (scripts/course_kit.py)
    assert 2 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercises"
    assert f"from transformer_edu.exercises import ch{number}" in code, path.name
    solutions = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith("# Solution")]
    assert len(solutions) >= 2, f"{path.name}: {len(solutions)} worked solutions"
    assert re.search(r"admonition\}[^\n]*(confusion|mistake)", markdown, re.IGNORECASE), path.name
    if number != "01":
        assert "inspect.getsource(" in code or "literalinclude" in markdown, path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stored_views_carry_the_current_javascript(path):
    """The book's pages run the JavaScript and CSS stored with each view when the chapter was executed (the
    live views' copy of engine.js included): a chapter executed before a view's code changed would publish
    the old code. Every stored transformer_edu view must carry its class's current _esm and _css."""
    import importlib

    notebook = json.loads(path.read_text(encoding="utf-8"))
    state = notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    stale = []
    for model_id, widget in state.get("state", {}).items():
        name = widget["state"].get("_anywidget_id", "")
        if not name.startswith("transformer_edu."):
            continue
        module, cls = name.rsplit(".", 1)
        view = getattr(importlib.import_module(module), cls)
        if widget["state"].get("_esm") != view._esm or widget["state"].get("_css") != view._css:
            stale.append(cls)
    assert not stale, (f"{path.name} stores an older front-end of {sorted(set(stale))}: re-execute it with "
                       f"`make execute NB=chapters/{path.name}`")
