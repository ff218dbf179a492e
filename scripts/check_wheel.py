"""The package as a distribution: build the wheel, install it into a fresh environment, and run chapter
notebooks copied alone into an empty folder there (what a reader who downloads one chapter does).

    .venv/bin/python scripts/check_wheel.py                 # every chapter (about 15 minutes on two cores)
    .venv/bin/python scripts/check_wheel.py 5 13 17         # some chapters (tests/test_wheel.py runs a few)
    .venv/bin/python scripts/check_wheel.py --setup-cell 4  # install through the chapter's own setup cell

The fresh environment is a new virtual environment (python -m venv) whose only view of the book's environment
is one .pth line naming .venv's site-packages: the third-party packages (torch, matplotlib, ...) are found
there without a download, but transformer_edu is not (.venv holds it as an editable install, whose hook is a
.pth file that Python does not read from a folder named in another .pth). So `import transformer_edu` works
only once the wheel is installed. With --setup-cell the wheel is not installed beforehand: the chapter's first
cell installs it, from TRANSFORMER_EDU_SOURCE (file:///...whl), with pip told not to use the network.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, path)
"""


def build_wheel(out: Path) -> Path:
    """`pip wheel .` (no dependencies, no build isolation: setuptools comes from .venv); the wheel's path."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' working folder: a stale build/lib could put
    # a file deleted from the package into the wheel
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out)], check=True, env={**os.environ, "PIP_NO_INDEX": "1"})
    finally:
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    return next(out.glob("transformer_edu-*.whl"))


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment that sees .venv's third-party packages but not transformer_edu; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    target = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    (target / "book-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('transformer_edu'))"],
                           capture_output=True, text=True, check=True, cwd=folder)
    if probe.stdout.strip() != "None":
        raise RuntimeError(f"the fresh environment already sees transformer_edu: {probe.stdout.strip()}")
    return python


def environment(python: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    bin_dir = str(python.parent)
    return {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", ""), "PIP_NO_INDEX": "1",
            "PYTHONWARNINGS": "ignore", "MPLBACKEND": "agg", **extra}


def run_chapter(python: Path, chapter: Path, folder: Path, env: dict) -> float:
    """Copy one chapter alone into `folder` and execute it there with the fresh environment's kernel."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / chapter.name
    shutil.copyfile(chapter, copy)
    runner = folder.parent / "run_notebook.py"
    runner.write_text(RUNNER, encoding="utf-8")
    start = time.perf_counter()
    done = subprocess.run([str(python), str(runner), str(copy), str(folder)], capture_output=True, text=True,
                          cwd=folder, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{chapter.name} failed in the fresh environment:\n{done.stderr[-4000:]}")
    return time.perf_counter() - start


def kernel_python(python: Path, env: dict) -> str:
    """The interpreter a notebook's python3 kernel runs in, as seen from the fresh environment."""
    code = "from jupyter_client.kernelspec import KernelSpecManager as K; print(K().get_kernel_spec('python3').argv[0])"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, env=env).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=int, help="chapter numbers (default: all)")
    parser.add_argument("--setup-cell", action="store_true",
                        help="do not install the wheel first: each chapter's setup cell installs it")
    args = parser.parse_args(argv)
    paths = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    chosen = [p for p in paths if not args.chapters or int(p.name[:2]) in args.chapters]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = build_wheel(tmp / "dist")
        print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")
        for path in chosen:  # a fresh environment per chapter: each starts without the package
            python = fresh_environment(tmp / f"env-{path.name[:2]}")
            env = environment(python, TRANSFORMER_EDU_SOURCE=wheel.as_uri())
            if not args.setup_cell:
                subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                               env=env)
            print(f"  {path.name}: kernel {kernel_python(python, env)}", end="", flush=True)
            seconds = run_chapter(python, path, tmp / f"alone-{path.name[:2]}", env)
            print(f", ran in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
