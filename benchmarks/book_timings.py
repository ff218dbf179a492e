"""How long each chapter takes to execute from a fresh kernel, and how long the book takes to build.

    .venv/bin/python benchmarks/book_timings.py                 # every chapter, then a clean build
    .venv/bin/python benchmarks/book_timings.py --no-build chapters/05_attention.ipynb

Chapters run as `make execute` runs them (scripts/execute_notebooks.py: nbclient, a fresh python3 kernel, the
chapter's folder as working directory, widget state stored), but the executed copy is thrown away: the
committed notebooks are not touched. The build is `make book`'s (scripts/build_book.py) after removing
_build/html and the cached doctrees, so it is a full build from the stored outputs, not an incremental one.
Prints a Markdown table for book/performance.md, with the machine's load average, which slows everything.
It has no --device and runs the chapters on the CPU, as `make execute` does (TRANSFORMER_EDU_DEVICE=cpu unless
already set), because their stored outputs are the CPU's numbers.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"11": 240}  # seconds; chapter 11 trains live under the COMPATIBLE kernel pin (182 s measured), others: 60


def execute_copy(path: Path) -> float:
    """Seconds to execute the notebook at `path` from a fresh kernel; the result is discarded."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def clean_build() -> float:
    """Seconds for scripts/build_book.py after removing the previous HTML and doctrees."""
    for name in ("html", ".doctrees", "jupyter_execute"):
        shutil.rmtree(ROOT / "_build" / name, ignore_errors=True)
    start = time.perf_counter()
    status = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_book.py")], cwd=ROOT,
                            stdout=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the book build failed (exit status {status}); run `make book` to see why")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/*.ipynb")
    parser.add_argument("--no-build", action="store_true", help="time the chapters only")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    os.environ.setdefault("TRANSFORMER_EDU_DEVICE", "cpu")  # the kernels inherit it, as under `make execute`
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"torch {torch.__version__}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| Chapter | Budget (s) | Measured (s) |\n|---|---|---|")
    total, over = 0.0, []
    for path in paths:
        seconds = execute_copy(path)
        total += seconds
        budget = BUDGET.get(path.name[:2], 60)
        if seconds > budget:
            over.append(path.name)
        print(f"| {path.stem} | {budget} | {seconds:.1f} |", flush=True)
    print(f"| all {len(paths)} chapters | | {total:.1f} |")
    if not args.no_build:
        print(f"| building the book (clean, from stored outputs) | 60 | {clean_build():.1f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if over:
        print(f"over budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
