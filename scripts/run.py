"""The Makefile's targets without `make` (Windows, or a Mac without the developer tools): the same set-up, the
same commands, the same kernel pin. Run it with any Python 3.10 or newer from the repository's root:

    python scripts/run.py book      # Windows: py scripts\\run.py book
    python scripts/run.py test
    python scripts/run.py lab | student | course | execute [NOTEBOOK] | checkpoint | gpt-checkpoint | setup | clean

`setup` (run first by every other target) creates .venv with this Python and installs requirements.txt,
requirements-nodeps.txt (without their dependencies) and the package (editable), again only when one of those
three files changed since the last installation, as the Makefile's stamp file does. `--torch-index URL` adds a
package index for PyTorch (the Makefile's TORCH_INDEX). The kernel pin (ATEN_CPU_CAPABILITY=avx2,
MKL_CBWR=COMPATIBLE) is set unless the environment already sets those variables, and so is
TRANSFORMER_EDU_DEVICE=cpu for the targets that check or rewrite the stored outputs (CPU_TARGETS). tests/test_run_script.py runs
`book` this way on a copy of the repository.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
INPUTS = [ROOT / "requirements.txt", ROOT / "requirements-nodeps.txt", ROOT / "pyproject.toml"]
CPU_TARGETS = ("test", "execute", "checkpoint", "gpt-checkpoint")  # the Makefile's TRANSFORMER_EDU_DEVICE line
NBVAL = ["--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-current-env", "--nbval-cell-timeout=900",
         "-p", "no:cacheprovider", "-q"]


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*args, **kwargs) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def setup(torch_index: str | None = None) -> Path:
    python = venv_python()
    if STAMP.exists() and all(p.stat().st_mtime <= STAMP.stat().st_mtime for p in INPUTS):
        return python
    if not python.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "-q", "-r", "requirements.txt",
        *(["--extra-index-url", torch_index] if torch_index else []))
    run(python, "-m", "pip", "install", "-q", "--no-deps", "-r", "requirements-nodeps.txt")
    run(python, "-m", "pip", "install", "-q", "--no-deps", "-e", ".")
    STAMP.touch()
    return python


def target_commands(target: str, python, notebook: str | None = None) -> list[list]:
    """The commands a target runs, in order, with `python` the environment's interpreter."""
    return {
        "setup": [],
        "book": [[python, "scripts/build_book.py"]],
        "student": [[python, "scripts/course_kit.py", "student"]],
        "course": [[python, "scripts/course_kit.py", "nbgrader", "--out", "_build/nbgrader"]],
        "execute": [[python, "scripts/execute_notebooks.py", *([notebook] if notebook else [])]],
        "checkpoint": [[python, "-m", "transformer_edu.train", "--task", "dates", "--steps", "1500", "--seed", "0",
                        "--threads", "1", "--out", "transformer_edu/checkpoints/dates.pt", "--no-progress"]],
        "gpt-checkpoint": [[python, "-m", "transformer_edu.train", "--task", "shakespeare", "--steps", "1800",
                            "--seed", "0", "--threads", "2", "--out", "transformer_edu/checkpoints/shakespeare.pt",
                            "--no-progress"]],
        "lab": [[python, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/chapters",
                 *(["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else [])]],
        "test": [[python, "-m", "pytest", "tests", "-q", "-m", "not browser"],
                 [python, "-m", "pytest", "--nbval", "chapters/", *NBVAL],
                 [python, "scripts/course_kit.py", "student"],
                 [python, "-m", "pytest", "--nbval", "_build/student/chapters/", *NBVAL, "--rootdir=."],
                 [python, "scripts/build_book.py"],
                 [python, "-m", "pytest", "tests", "-q", "-rs", "-m", "browser"]],
    }[target]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["setup", "book", "test", "student", "course", "lab", "execute",
                                           "checkpoint", "gpt-checkpoint", "clean"])
    parser.add_argument("notebook", nargs="?", help="execute: one notebook (default: every chapter)")
    parser.add_argument("--torch-index", help="an extra package index for PyTorch, used when installing")
    args = parser.parse_args(argv)
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    os.environ.setdefault("MKL_CBWR", "COMPATIBLE")
    if args.target in CPU_TARGETS:
        os.environ.setdefault("TRANSFORMER_EDU_DEVICE", "cpu")
    if args.target == "clean":
        for path in (ROOT / "_build", VENV, ROOT / ".pytest_cache"):
            shutil.rmtree(path, ignore_errors=True)
        return 0
    python = setup(args.torch_index)
    commands = target_commands(args.target, python, args.notebook)
    try:
        for command in commands:
            run(*command)
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
