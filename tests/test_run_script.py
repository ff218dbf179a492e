"""The route without `make` (scripts/run.py): it runs what the Makefile runs, and `book` works from scratch.

The slow test copies the repository's files (what git tracks, and new files it does not ignore) into an empty
folder and runs `python scripts/run.py book` there with the Python this environment was made from: a new
.venv, the installation, the build, as a Windows or macOS reader without `make` would.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import run as run_script  # noqa: E402


def _makefile_recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    block = re.search(rf"^{re.escape(target)}: .*?\n((?:\t.*\n)+)", text, re.M)[1]
    return [line.strip() for line in block.splitlines()]


def test_test_runs_the_makefiles_commands():
    """Each line of the Makefile's test recipe has its counterpart in run.py's, in the same order."""
    expand = {"$(MAKE) student": "$(PY) scripts/course_kit.py student", "$(MAKE) book": "$(PY) scripts/build_book.py"}
    nbval = " ".join(run_script.NBVAL)
    make_lines = [expand.get(line, line).replace("$(NBVAL)", nbval).replace('"not browser"', "not browser")
                  for line in _makefile_recipe("test")]
    ours = [" ".join(str(part) for part in command) for command in run_script.target_commands("test", "$(PY)")]
    assert make_lines == ours
    assert run_script.venv_python().parent.name in ("bin", "Scripts")


@pytest.mark.slow
def test_book_without_make_from_a_fresh_copy(tmp_path):
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    copy = tmp_path / "book"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run([python, "scripts/run.py", "book"], cwd=copy, capture_output=True, text=True, env=env,
                          timeout=2400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (copy / ".venv" / ".installed").is_file()
    assert (copy / "_build" / "html" / "chapters" / "05_attention.html").is_file()
    assert "+ " in done.stdout and "scripts/build_book.py" in done.stdout


@pytest.mark.parametrize("target, device", [("test", "cpu"), ("execute", "cpu"), ("checkpoint", "cpu"),
                                            ("gpt-checkpoint", "cpu"), ("book", ""), ("student", "")])
def test_targets_that_check_stored_outputs_run_on_the_cpu(tmp_path, target, device):
    """`make test` and the targets that rewrite the stored outputs see TRANSFORMER_EDU_DEVICE=cpu (a GPU's
    numbers differ in the last digits); the others leave the choice to the machine. The Makefile runs with its
    interpreter replaced by a probe that prints the variable and stops; run.py is driven the same way."""
    probe = tmp_path / "probe"
    probe.write_text('#!/bin/sh\necho "device=[$TRANSFORMER_EDU_DEVICE]"\nexit 3\n')
    probe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMER_EDU_DEVICE"}
    done = subprocess.run(["make", "-o", ".venv/.installed", target, f"PY={probe}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert f"device=[{device}]" in done.stdout, done.stdout + done.stderr
    done = subprocess.run(["make", "-o", ".venv/.installed", target, f"PY={probe}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**env, "TRANSFORMER_EDU_DEVICE": "mps"})
    assert "device=[mps]" in done.stdout, "a reader's own setting wins"
    assert (target in run_script.CPU_TARGETS) == (device == "cpu")


def test_run_script_sets_the_same_device(monkeypatch):
    seen = []
    monkeypatch.delenv("TRANSFORMER_EDU_DEVICE", raising=False)
    monkeypatch.setattr(run_script, "setup", lambda torch_index=None: "python")
    monkeypatch.setattr(run_script, "run", lambda *args: seen.append(os.environ.get("TRANSFORMER_EDU_DEVICE")))
    assert run_script.main(["book"]) == 0 and seen == [None]
    assert run_script.main(["execute"]) == 0 and seen == [None, "cpu"]


def test_the_train_command_runs_without_a_load_average(tmp_path, monkeypatch):
    """Windows has no os.getloadavg: `run.py checkpoint` trains through python -m transformer_edu.train there."""
    import importlib
    train_cli = importlib.import_module("transformer_edu.train")
    monkeypatch.delattr(os, "getloadavg")
    record = train_cli.main(["--task", "copy", "--steps", "2", "--n-test", "4", "--device", "cpu", "--no-progress",
                             "--out", str(tmp_path / "copy.pt")])
    assert record["load_average_before"] is None and (tmp_path / "copy.json").is_file()
