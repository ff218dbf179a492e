"""Build the HTML book (what `make book` runs): check the table of contents, then

    jupyter-book build . -W -n --keep-going

Before building it checks that every page listed in _toc.yml exists, that every notebook in chapters/ is
listed (with only_build_toc_files it would silently not be built), and that each chapter's title starts with
its number ("# 5. ..." for 05_*.ipynb). It refreshes book/_static/offline/anywidget/ from the installed
anywidget wheel (no network), so the front-end always matches the Python package that wrote the widget state,
and rewrites the live views' model assets (book/_static/live/<name>.js) from the checkpoints they are made from
(transformer_edu/web_export.py), so the pages never run stale weights.
It reads the one setting for where the book is published, _config.yml's repository.url: set, the book gets
the repository button and a "launch in Colab" link on every chapter (plain links: no page makes a request);
empty, it says so and the book shows neither. It also writes that address into each chapter's setup cell
(scripts/setup_cells.py) and the README's links (between its "repository" markers).
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
import setup_cells  # noqa: E402
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


COLAB = "https://colab.research.google.com"
README_START, README_END = "<!-- repository: written by scripts/build_book.py -->", "<!-- /repository -->"


def effective_config(config: Path, out: Path) -> tuple[Path, str]:
    """The config the build uses: `config` with the repository button and the Colab launch link switched on
    when repository.url is set and off when it is not. Returns (its path, the URL or "")."""
    url = setup_cells.repository_url(config)
    values = yaml.safe_load(config.read_text(encoding="utf-8"))
    html, launch = values.setdefault("html", {}), values.setdefault("launch_buttons", {})
    html["use_repository_button"] = bool(url)
    if url:
        launch["colab_url"] = COLAB
    else:
        launch.pop("colab_url", None)
        values["repository"] = {k: v for k, v in values.get("repository", {}).items() if k != "url"}
    local = values.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():  # Jupyter Book reads these relative to the config file: make them absolute
        local[name] = str((ROOT / folder).resolve()) if not Path(folder).is_absolute() else folder
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Written by scripts/build_book.py from " + config.name + "; edit that file instead.\n"
                   + yaml.safe_dump(values, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out, url


def readme_block(url: str) -> str:
    """The README's lines about where the book lives, from repository.url."""
    if not url:
        body = ("The repository's address is not set yet (`repository.url` in `_config.yml`). Once it is, `make "
                "book` writes here the links to the repository and to each chapter on Colab.")
    else:
        name = url.split("://", 1)[1].split("/", 1)[1]
        body = (f"Repository: <{url}>. Open a chapter on Colab: "
                f"[chapter 1]({COLAB}/github/{name}/blob/main/chapters/01_big_picture.ipynb), or any other from "
                f"its page in the book (the rocket icon). Each chapter's first cell installs what it needs.")
    return f"{README_START}\n{body}\n{README_END}"


def write_readme_block(url: str, readme: Path = ROOT / "README.md") -> bool:
    """Rewrite the README's block for `url`; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    new = text[:start] + readme_block(url) + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


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
    config, url = effective_config(config, source / "_build" / "_config.effective.yml")
    if not url:
        print("note: _config.yml's repository.url is not set: the book shows no repository button and no Colab "
              "links, and the chapters' setup cells install only from TRANSFORMER_EDU_SOURCE")
    if source == ROOT:
        for name in setup_cells.write(url):
            print(f"setup cell rewritten for repository.url: chapters/{name}")
        if write_readme_block(url):
            print("README.md: repository links rewritten for repository.url")
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source), "-W", "-n", "--keep-going",
               "--config", str(config)]
    if source != ROOT:
        command += ["--path-output", str(source)]
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
