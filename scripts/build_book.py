"""Build the HTML book (what `make book` runs): check the table of contents, then

    jupyter-book build . -W -n --keep-going

_toc.yml lists every chapter of the finished book. While some listed chapter is not written yet, the build
still has to pass, so this script:

- fails if a notebook in chapters/ is missing from _toc.yml (with only_build_toc_files it would silently
  not be built), or if a chapter's title does not start with its number ("# 5. ..." for 05_*.ipynb);
- if some file listed in _toc.yml does not exist yet, names them and builds with a copy of _config.yml
  (written to _build/_config.partial.yml) that suppresses exactly the two warnings this causes:
  `etoc.ref` (toc entry without a file) and `ref.doc` (a {doc} link to such a file). With every listed
  file present, it builds with _config.yml itself and every warning is an error. `--strict` refuses to
  build while anything is missing.

Before building it refreshes book/_static/offline/anywidget/ from the installed anywidget wheel (no network),
so the front-end always matches the Python package that wrote the widget state. Prints the build time.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vendor_assets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".ipynb", ".md")


def toc_files(toc: dict) -> list[str]:
    """Every `file:` entry of a jb-book toc, in order (root first)."""
    found = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                found.append(item["file"])
            walk(item.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return found


def check_toc(root: Path = ROOT) -> tuple[list[str], list[str]]:
    """(listed files that do not exist yet, chapter notebooks not listed in the toc)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    listed = toc_files(toc)
    missing = [f for f in listed if not any((root / f"{f}{s}").is_file() for s in SUFFIXES)]
    unlisted = [p.relative_to(root).with_suffix("").as_posix() for p in sorted((root / "chapters").glob("*.ipynb"))
                if p.relative_to(root).with_suffix("").as_posix() not in listed]
    return missing, unlisted


def check_chapter_titles(root: Path = ROOT) -> list[str]:
    """Each chapters/NN_name.ipynb must open with a title "# N. ..." whose N is its file number."""
    problems = []
    for path in sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        first = next((c for c in cells if c.get("cell_type") == "markdown"), None)
        text = "".join(first["source"]) if first else ""
        title = next((line for line in text.splitlines() if line.startswith("# ")), "")
        number = int(path.name[:2])
        if not re.match(rf"# {number}\. \S", title):
            problems.append(f"{path.relative_to(root)}: expected a first title '# {number}. ...', got {title!r}")
    return problems


def partial_config(root: Path = ROOT) -> Path:
    config = yaml.safe_load((root / "_config.yml").read_text())
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["suppress_warnings"] = [*sphinx_config.get("suppress_warnings", []), "etoc.ref", "ref.doc"]
    out = root / "_build" / "_config.partial.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Written by scripts/build_book.py while some chapters are missing; do not edit.\n"
                   + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail if a file listed in _toc.yml is missing")
    args = parser.parse_args(argv)
    missing, unlisted = check_toc()
    if unlisted:
        print(f"error: chapters/ has notebooks that _toc.yml does not list: {', '.join(unlisted)}\n"
              f"add each as `- file: <path without .ipynb>` to its part in _toc.yml", file=sys.stderr)
        return 1
    titles = check_chapter_titles()
    if titles:
        print("error: chapter titles and file numbers disagree:\n  " + "\n  ".join(titles), file=sys.stderr)
        return 1
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "-W", "-n", "--keep-going"]
    if missing:
        print(f"note: {len(missing)} page(s) in _toc.yml are not written yet and are left out of this build: "
              f"{', '.join(missing)}")
        if args.strict:
            print("error: --strict build needs every page listed in _toc.yml", file=sys.stderr)
            return 1
        command += ["--config", str(partial_config())]
    vendor_assets.main(["--anywidget"])
    if not shutil.which(command[0]):
        command[0] = "jupyter-book"
    start = time.perf_counter()
    status = subprocess.run(command, cwd=ROOT).returncode
    print(f"jupyter-book build: {time.perf_counter() - start:.1f} s, exit status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
