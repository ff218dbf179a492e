"""Build the HTML book (what `make book` runs): check the table of contents, then

    jupyter-book build . -W -n --keep-going

Before building it checks that every page listed in _toc.yml exists, that every notebook in chapters/ is
listed (with only_build_toc_files it would silently not be built), and that each chapter's title starts with
its number ("# 5. ..." for 05_*.ipynb). It refreshes book/_static/offline/anywidget/ from the installed
anywidget wheel (no network), so the front-end always matches the Python package that wrote the widget state,
and rewrites the live views' model assets (book/_static/live/<name>.js) from the checkpoints they are made from
(transformer_edu/web_export.py), so the pages never run stale weights.
Every warning is an error. Prints the build time and where to open the book.

    .venv/bin/python scripts/build_book.py                  # this repository into _build/html (`make book`)
    .venv/bin/python scripts/build_book.py --source DIR     # another book folder into DIR/_build/html

`--source DIR` builds DIR's own _toc.yml and notebooks with this repository's _config.yml (or `--config FILE`)
and its extensions (the same command, with `--config` and `--path-output`): tests build small fixture books with
it, and `make student` the student edition (scripts/course_kit.py). After building this repository it writes the
session slides into _build/html/slides/ (scripts/course_kit.py slides). The config's
paths (book/_static, book/references.bib) are relative to the source folder, so DIR gets a symbolic link
`book` to this repository's book/ folder if it has no `book` of its own (and `transformer_edu`, whose files
book/ pages include).
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
# the checkpoints the live views run in the page, transformer_edu/checkpoints/<name>.pt: the date model, the GPT
LIVE_ASSETS = ("dates", "shakespeare")


def write_live_assets() -> None:
    """book/_static/live/<name>.js from each checkpoint in LIVE_ASSETS (unchanged bytes when up to date)."""
    sys.path.insert(0, str(ROOT))
    from transformer_edu.web_export import write_asset
    for name in LIVE_ASSETS:
        checkpoint = ROOT / "transformer_edu" / "checkpoints" / f"{name}.pt"
        path = write_asset(checkpoint, ROOT / "book" / "_static" / "live" / f"{name}.js")
        print(f"live model asset {path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="book folder with its own _toc.yml (default: this repository); built with this "
                             "repository's _config.yml into SOURCE/_build/html")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml",
                        help="the Jupyter Book config (default: this repository's _config.yml); with --source only")
    args = parser.parse_args(argv)
    source, config = args.source.resolve(), args.config.resolve()
    if not (source / "_toc.yml").is_file():
        parser.error(f"--source: expected a folder with a _toc.yml, got {source}")
    for folder in ("book", "transformer_edu") if source != ROOT else ():
        # before the toc check (the toc may list book/ pages): the config's asset and bibliography paths are in
        # book/, and book/ pages include source files from ../transformer_edu/
        if not (source / folder).exists():
            (source / folder).symlink_to(ROOT / folder, target_is_directory=True)
            print(f"linked {source / folder} -> {ROOT / folder}")
    missing, unlisted = check_toc(source)
    if unlisted:
        print(f"error: chapters/ has notebooks that _toc.yml does not list: {', '.join(unlisted)}\n"
              f"add each as `- file: <path without .ipynb>` to its part in _toc.yml", file=sys.stderr)
        return 1
    titles = check_chapter_titles(source)
    if titles:
        print("error: chapter titles and file numbers disagree:\n  " + "\n  ".join(titles), file=sys.stderr)
        return 1
    if missing:
        print(f"error: pages listed in _toc.yml do not exist: {', '.join(missing)}", file=sys.stderr)
        return 1
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source), "-W", "-n", "--keep-going"]
    if source != ROOT:
        command += ["--config", str(config), "--path-output", str(source)]
    vendor_assets.main(["--anywidget"])
    write_live_assets()
    if not shutil.which(command[0]):
        command[0] = "jupyter-book"
    start = time.perf_counter()
    status = subprocess.run(command, cwd=source).returncode
    print(f"jupyter-book build: {time.perf_counter() - start:.1f} s, exit status {status}")
    html = source / "_build" / "html"
    if status == 0 and source == ROOT:
        import course_kit
        course_kit.write_slides(html / "slides")
    if status == 0:
        print(f"open {html / 'index.html'}, or serve it: python3 -m http.server --directory {html} 8000")
    return status


if __name__ == "__main__":
    sys.exit(main())
