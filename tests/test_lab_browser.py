"""The chapters in live JupyterLab (headless Debian chromium driven by playwright), with no network.

`make lab` starts JupyterLab at the repository root; a learner opens a chapter and runs it. Here the same
server (same root, so bertviz's loader finds book/_static/offline/ under the server's files/ route) runs two
chapters cell by cell in a real kernel, and the page must show what the static book shows: every anywidget
view and bertviz diagram drawn, no request to another host, no JavaScript error. Then the live parts: a view
reacts to its control, and a live explorer recomputes in Python when the reader types (the one thing the
static book cannot do). The notebooks on disk must be left as they were (autosave is switched off).

Run: .venv/bin/python -m pytest tests/test_lab_browser.py -q   (about a minute; skipped without chromium,
a failure when the environment variable CI is set).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from test_book_browser import browser  # noqa: F401  (the headless chromium fixture)
from transformer_edu.viz.widgets import LIVE_NOTE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).parent / "jupyter"
RUN_TIMEOUT_S = 240  # chapter 13 runs in about 12 s on 2 cores; a busy CI machine gets ample margin

# JupyterLab settings for the test only: no autosave (the committed notebooks must not change), no news fetch
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server rooted at the repository, as `make lab` starts it, on a free local port."""
    if not JUPYTER.exists():
        pytest.fail(f"{JUPYTER} not found: JupyterLab is in requirements.txt")
    home = tmp_path_factory.mktemp("lab")
    for name, values in SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_PLATFORM_DIRS="1")
    args = [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={ROOT}", "--IdentityProvider.token=", "--allow-root",
            "--LabApp.expose_app_in_browser=True", f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
            f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    log = open(home / "server.log", "w")
    server = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.3)
    yield base
    os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


# What the page shows once every cell has run: views, diagrams, live explorers, widget errors, failed cells.
STATE_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  return {
    views: [...panel.querySelectorAll('[data-te-view]')].map(v => ({kind: v.dataset.teView,
            marks: v.querySelectorAll('svg *, canvas, [role=listitem], [data-te-role=question]').length})),
            // drawn marks, token chips or a quiz's questions
    bertviz: [...panel.querySelectorAll('div[id^="bertviz-"]')].map(v => ({id: v.id,
              marks: v.querySelectorAll('#vis svg line, #vis svg rect, #vis svg text').length,
              text: (v.querySelector('#vis') || v).textContent.trim().slice(0, 200)})),
    live: [...panel.querySelectorAll('.te-live')].map(v => v.textContent.includes(LIVE_NOTE)),
    widgetErrors: [...panel.querySelectorAll('.jp-OutputArea-output')]
                  .filter(o => /Error displaying widget|Model not found|Failed to load model/i.test(o.textContent))
                  .map(o => o.textContent.slice(0, 200)),
    tracebacks: [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(o => o.textContent).filter(t => /Error|Traceback/.test(t)).map(t => t.slice(0, 400)),
  };
}""".replace("LIVE_NOTE", json.dumps(LIVE_NOTE))


# Code cells of the open notebook that have not run yet, from JupyterLab's own model of it (the server is started
# with expose_app_in_browser, so the page has window.jupyterapp).
PENDING_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = [...panel.content.model.cells].filter(c => c.type === 'code');
  return cells.filter(c => c.executionCount === null).length
         + (panel.sessionContext.session.kernel.status === 'idle' ? 0 : 1);
}"""


def _run_notebook(browser, base: str, notebook: str):  # noqa: F811
    """Open `notebook` in a fresh JupyterLab workspace, run all cells; return (page, context, state, log)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = {"foreign": [], "errors": []}
    page.on("request", lambda r: urlsplit(r.url).hostname not in (None, "127.0.0.1")
            and log["foreign"].append(r.url))
    page.on("pageerror", lambda e: log["errors"].append(f"pageerror: {e}"))
    page.route(lambda url: urlsplit(url).hostname not in (None, "127.0.0.1"), lambda route: route.abort())
    workspace = Path(notebook).stem.replace("_", "-")
    page.goto(f"{base}lab/workspaces/{workspace}/tree/{notebook}?reset")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel", timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")  # counts too
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        state = page.evaluate(STATE_JS)
        assert not state["tracebacks"], f"{notebook}: a cell failed in JupyterLab:\n" + "\n".join(state["tracebacks"])
        pending = page.evaluate(PENDING_JS)
        if pending == 0:
            break
        assert time.monotonic() < deadline, f"{notebook}: {pending} code cells still to run after {RUN_TIMEOUT_S} s"
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)  # widget views and bertviz diagrams draw after their cell has finished
    return page, context, page.evaluate(STATE_JS), log


def _assert_drawn(notebook: str, state: dict, log: dict, *, views: set[str], bertviz: int, live: int) -> None:
    assert {v["kind"] for v in state["views"]} >= views, f"{notebook}: views found: {state['views']}"
    assert all(v["marks"] > 0 for v in state["views"]), f"{notebook}: an empty view: {state['views']}"
    assert len(state["bertviz"]) == bertviz, f"{notebook}: bertviz diagrams found: {state['bertviz']}"
    assert all(b["marks"] > 0 for b in state["bertviz"]), f"{notebook}: bertviz drew nothing: {state['bertviz']}"
    assert state["live"] == [True] * live, f"{notebook}: live explorers (showing their note): {state['live']}"
    assert not state["widgetErrors"], state["widgetErrors"]
    assert not log["foreign"], f"{notebook}: requests to other hosts: {log['foreign']}"
    assert not log["errors"], f"{notebook}: JavaScript errors: {log['errors']}"


def _type(page, explorer, text: str) -> None:
    box = explorer.locator("input[type=text]").first
    box.fill(text)
    box.press("Enter")


def _wait_for_change(page, locator, before: str, what: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while (now := locator.inner_html()) == before:
        assert time.monotonic() < deadline, f"{what}: nothing changed in {timeout_s:.0f} s"
        page.wait_for_timeout(200)
    return now


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_chapter_13_runs_in_jupyterlab_and_its_explorers_are_live(browser, lab):  # noqa: F811
    notebook = "chapters/13_inside_the_model.ipynb"
    stored = _sha(ROOT / notebook)
    page, context, state, log = _run_notebook(browser, lab, notebook)
    try:
        # the live views get the model from the kernel (a widget message), then draw
        page.wait_for_function("""() => [...document.querySelectorAll('[data-te-view^=live] [data-te-role=message]')]
                                  .every(m => !m.textContent.startsWith('Loading'))""", timeout=60_000)
        state = page.evaluate(STATE_JS)
        _assert_drawn(notebook, state, log, views={"attention", "embedding", "live-attention"}, bertviz=2, live=0)
        # an anywidget view reacts to its control, as in the static book
        view = page.locator("[data-te-view='attention']").first
        view.scroll_into_view_if_needed()
        before = view.inner_html()
        view.locator("select").first.select_option(index=1)
        _wait_for_change(page, view, before, "AttentionExplorer after choosing another kind")
        # a live view: the model runs in the page with weights the kernel sent; typing a date decodes it
        live = page.locator("[data-te-view='live-attention']").first
        live.scroll_into_view_if_needed()
        assert "could not be loaded" not in live.inner_text()
        live.locator("input[data-te-control=text]").fill("Saturday, 4 July 2026")
        page.wait_for_function("el => el.querySelector('[data-te-role=output-intact]')?.textContent === '2026-07-04'",
                               arg=live.element_handle(), timeout=30_000)
        live.locator("input[data-te-kind=cross][data-te-layer='1']").nth(0).click()
        page.wait_for_function("el => el.querySelector('[data-te-role=output-ablated]') !== null",
                               arg=live.element_handle(), timeout=30_000)
        assert "1 head off" in live.inner_text()
        assert not log["errors"], log["errors"]
    finally:
        context.close()
    assert _sha(ROOT / notebook) == stored, f"{notebook} was changed on disk by the test"


def test_chapter_2_runs_in_jupyterlab_and_retokenizes_typed_text(browser, lab):  # noqa: F811
    notebook = "chapters/02_tokenization.ipynb"
    stored = _sha(ROOT / notebook)
    page, context, state, log = _run_notebook(browser, lab, notebook)
    try:
        _assert_drawn(notebook, state, log, views={"tokens"}, bertviz=0, live=1)
        explorer = page.locator(".te-live").first
        explorer.scroll_into_view_if_needed()
        view = explorer.locator("[data-te-view]").first
        before = view.inner_html()
        _type(page, explorer, "Wherefore art thou")
        _wait_for_change(page, view, before, "live_tokenizer after typing")
        page.wait_for_function("el => el.textContent.includes('Wherefore')", arg=view.element_handle(),
                               timeout=30_000)
        assert not log["errors"], log["errors"]
    finally:
        context.close()
    assert _sha(ROOT / notebook) == stored, f"{notebook} was changed on disk by the test"
