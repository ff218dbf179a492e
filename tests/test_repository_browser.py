"""The one setting for where the book is published (_config.yml's repository.url), through the real build.

A one-chapter book (a short chapter 5 with its setup cell) is built by scripts/build_book.py --source twice: with the repository's own
config, where the URL is unset, and with a copy that sets it. Unset: the build says so and the page links to
no repository and no Colab. Set: the page has the repository button and a "launch in Colab" link to that
chapter, and, opened from file:// in headless Chromium, still makes no request to another host.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from test_book_browser import CHROMIUM, CHROMIUM_ARGS, _unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import setup_cells  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
URL = "https://github.com/example-owner/example-book"
CHAPTER = "05_attention"
COLAB = f"https://colab.research.google.com/github/example-owner/example-book/blob/main/chapters/{CHAPTER}.ipynb"


def _build(tmp: Path, url: str | None) -> tuple[str, str]:
    """Build the one-chapter book; (the chapter page's HTML, the build's output)."""
    source = tmp / "book"
    (source / "chapters").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 5. A chapter\n\nIts text."),
                                         nbformat.v4.new_code_cell(setup_cells.setup_cell(5, url or ""))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, source / "chapters" / f"{CHAPTER}.ipynb")
    (source / "_toc.yml").write_text(f"format: jb-book\nroot: chapters/{CHAPTER}\n")
    config = ROOT / "_config.yml"
    if url is not None:
        values = yaml.safe_load(config.read_text())
        values["repository"]["url"] = url
        config = tmp / "_config.yml"
        config.write_text(yaml.safe_dump(values, sort_keys=False))
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", MKL_CBWR="COMPATIBLE")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_book.py"), "--source", str(source),
                           "--config", str(config)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = source / "_build" / "html" / "chapters" / f"{CHAPTER}.html"
    return page.read_text(encoding="utf-8"), done.stdout


@pytest.fixture(scope="module")
def unset(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("unset"), None)


@pytest.fixture(scope="module")
def with_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("set")
    html, out = _build(tmp, URL)
    return tmp / "book" / "_build" / "html" / "chapters" / f"{CHAPTER}.html", html, out


def test_unset_the_build_says_so_and_links_nowhere(unset):
    html, out = unset
    assert "repository.url is not set" in out
    assert "colab.research.google.com" not in html and "github.com" not in html and "git+" not in html


def test_set_the_chapter_links_to_its_repository_and_to_colab(with_url):
    _, html, out = with_url
    assert "repository.url is not set" not in out
    assert f'href="{COLAB}"' in html, "no Colab link to the chapter"
    assert f'href="{URL}"' in html, "no repository button"
    assert f"git+{URL}" in html  # the setup cell shown on the page installs from the repository


def test_set_the_page_still_makes_no_request_to_another_host(with_url):
    page_path, _, _ = with_url
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        _unavailable("chromium not found: install Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            foreign, errors = [], []
            page.on("request", lambda r: r.url.startswith(("http:", "https:")) and foreign.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_timeout(1500)
            assert foreign == [] and errors == [], (foreign, errors)
            link = page.locator(f'a[href="{COLAB}"]')
            assert link.count() >= 1
        finally:
            browser.close()
