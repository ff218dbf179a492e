"""The package as a wheel, and chapters run alone from it (scripts/check_wheel.py; all chapters: run the script).

A fresh virtual environment sees the book environment's third-party packages through one .pth line but not
transformer_edu, so each chapter below runs from the installed wheel, copied alone into an empty folder.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_wheel  # noqa: E402
import setup_cells  # noqa: E402


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return check_wheel.build_wheel(tmp_path_factory.mktemp("dist"))


def _chapter(number: int) -> Path:
    return next((ROOT / "chapters").glob(f"{number:02d}_*.ipynb"))


def test_the_wheel_carries_what_the_chapters_load(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = ["checkpoints/dates.pt", "checkpoints/dates.json", "checkpoints/dates_blind_spot.pt",
              "checkpoints/shakespeare.pt", "results/since_2017.json", "viz/views/engine.js", "viz/views/views.css",
              "viz/views/view_quiz.js", "quizzes/ch05.json", "exercises/ch05.py", "track/skeleton/attention.py"]
    missing = [n for n in needed if f"transformer_edu/{n}" not in names]
    assert not missing, missing
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "transformer_edu").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert not shipped - names, f"in the source tree but not in the wheel: {sorted(shipped - names)[:10]}"


@pytest.mark.slow
@pytest.mark.parametrize("number", [5, 13, 17])
def test_a_chapter_copied_alone_runs_from_the_installed_wheel(wheel, tmp_path, number):
    python = check_wheel.fresh_environment(tmp_path / "env")
    env = check_wheel.environment(python)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, env=env)
    assert check_wheel.kernel_python(python, env) == str(python)
    check_wheel.run_chapter(python, _chapter(number), tmp_path / "alone", env)
    assert sorted(p.name for p in (tmp_path / "alone").iterdir()) == [_chapter(number).name]


@pytest.mark.slow
def test_the_setup_cell_installs_the_package_in_a_bare_environment(wheel, tmp_path):
    """Chapter 4 alone in an environment without transformer_edu: its first cell installs it (here from the
    wheel, as TRANSFORMER_EDU_SOURCE names it; pip may not use the network), and the chapter runs."""
    python = check_wheel.fresh_environment(tmp_path / "env")
    env = check_wheel.environment(python, TRANSFORMER_EDU_SOURCE=wheel.as_uri())
    check_wheel.run_chapter(python, _chapter(4), tmp_path / "alone", env)
    probe = subprocess.run([str(python), "-c", "import transformer_edu, pathlib; print(transformer_edu.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert str(tmp_path / "env") in probe.stdout, probe.stdout + probe.stderr


def test_the_setup_cell_without_a_repository_says_how_to_install(tmp_path):
    """With repository.url unset and no TRANSFORMER_EDU_SOURCE, a bare environment gets a clear error, not a
    made-up address; in the book's environment the same cell does nothing and prints nothing."""
    python = check_wheel.fresh_environment(tmp_path / "env")
    code = setup_cells.setup_cell(5, "")
    assert "git+" not in code and "http" not in code
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=check_wheel.environment(python))
    assert done.returncode != 0 and "transformer_edu is not installed: pip install the book's wheel" in done.stderr
    here = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert here.returncode == 0 and here.stdout == "" and here.stderr == ""


def test_every_chapter_starts_with_the_setup_cell_for_the_setting():
    assert setup_cells.write(check=True) == [], "run .venv/bin/python scripts/setup_cells.py"
    url = "https://github.com/example/book"
    with_url = setup_cells.setup_cell(14, url)
    assert f'"TRANSFORMER_EDU_SOURCE", "git+{url}"' in with_url and "bertviz" in with_url
    for path in setup_cells.chapter_paths():
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert "".join(first["source"]).startswith(setup_cells.MARK) and first["outputs"] == []
        assert max(len(line) for line in first["source"]) <= 88
