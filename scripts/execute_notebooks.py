"""Execute chapters in place, store their outputs and widget state, and keep the diff clean.

    .venv/bin/python scripts/execute_notebooks.py                          # every chapters/*.ipynb
    .venv/bin/python scripts/execute_notebooks.py chapters/05_attention.ipynb [more.ipynb ...]

Each notebook runs from a fresh `python3` kernel (the one in this Python's environment: nbclient started
with .venv/bin/python finds ipykernel's spec there), with the notebook's own folder as the working
directory and `store_widget_state=True`, so ipywidgets and anywidget views render in the static book.

Written back without volatile metadata: no per-cell timings (`execution`, `ExecuteTime`); consecutive
pieces of one stream are joined (where a print was cut in two depends on when the kernel flushed, which a
busy machine changes); and the random
widget model ids are renamed to ids derived from the notebook's name and the order of the widgets, so
executing an unchanged notebook twice gives the same file. A failing cell stops that notebook; the file is
left untouched and the script exits non-zero after trying the others.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 900  # seconds per cell; chapter 11 trains for about two minutes in one cell
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
VOLATILE_CELL_KEYS = ("execution", "ExecuteTime", "papermill")


def _stable_widget_ids(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Rename the random 32-hex widget model ids in order of first appearance in the widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb, ensure_ascii=False)
    for i, old in enumerate(list(state)):
        if not re.fullmatch(r"[0-9a-f]{32}", old):
            continue
        new = hashlib.sha256(f"{name}:{i}".encode()).hexdigest()[:32]
        text = text.replace(old, new)
    return nbformat.from_dict(json.loads(text))


def _joined_streams(outputs: list) -> list:
    """Consecutive stdout (or stderr) outputs as one output, in order."""
    joined = []
    for out in outputs:
        if out.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream" \
                and joined[-1]["name"] == out["name"]:
            joined[-1]["text"] += out["text"]
        else:
            joined.append(out)
    return joined


def clean(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Drop timing and other per-run metadata, join split streams, make widget ids deterministic."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)
    nb.metadata.pop("papermill", None)
    return _stable_widget_ids(nb, name)


def execute(path: Path) -> float:
    """Run one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", store_widget_state=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb = clean(nb, path.stem)
    nbformat.validate(nb)
    nbformat.write(nb, path)  # the same layout JupyterLab writes
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/*.ipynb")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        parser.error(f"expected existing .ipynb files, got {missing}")
    if not paths:
        print("no notebooks in chapters/ yet")
        return 0
    failed, total = [], 0.0
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown} ...", end=" ", flush=True)
        try:
            seconds = execute(path)
        except CellExecutionError as err:
            print("FAILED")
            print(str(err)[-3000:], file=sys.stderr)
            failed.append(str(shown))
            continue
        total += seconds
        print(f"{seconds:6.1f} s")
    print(f"total {total:.1f} s for {len(paths) - len(failed)} notebook(s)")
    if failed:
        print(f"failed (left unchanged): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
