"""The book's table of contents, chapter titles and notebooks agree (what scripts/build_book.py checks first)."""
from __future__ import annotations

import json
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
    assert len(CHAPTERS) == 14


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
