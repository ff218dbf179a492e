"""The built book in a real browser (headless Debian chromium driven by playwright), with no network.

For every page of _build/html (or $TE_BOOK_HTML), served from 127.0.0.1 at the site root and again under a
sub-path: no request leaves 127.0.0.1, no request fails, no JavaScript error, every image, widget, view and
bertviz diagram renders, and one interaction per kind of view changes what is drawn. Full-page screenshots
go to _build/screenshots/ (light) and _build/screenshots/dark/ (dark theme, pages with views).

Interactions follow the protocol documented in transformer_edu/viz/views/__init__.py (data-te-view roots,
data-te-control controls); bertviz diagrams and plain ipywidgets have their own (see INTERACT_JS).

Run: make book && .venv/bin/python -m pytest tests/test_book_browser.py -q
Without chromium these tests skip ("install Debian's chromium: apt-get install chromium"), unless the
environment variable CI is set: then a missing browser or book is a failure.
"""
from __future__ import annotations

from contextlib import contextmanager

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from transformer_edu.viz.widgets import LIVE_NOTE  # every live explorer shows it

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("TE_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SHOTS = BUILD.parent / "screenshots"
CHROMIUM = os.environ.get("TE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PREFIX = "/some/prefix/"
XSS_TOKEN = "<img src=x onerror=alert(1)>"
XSS_PAGE = "book/__te_xss_check__.html"  # served from memory next to the real pages, never written to disk
RENDER_TIMEOUT_MS = 30_000


def _pages() -> list[str]:
    if not BUILD.is_dir():
        return []
    skip = ("_static/", "_sources/", "_images/", "_downloads/")
    return sorted(p.relative_to(BUILD).as_posix() for p in BUILD.rglob("*.html")
                  if not p.relative_to(BUILD).as_posix().startswith(skip))


PAGES = _pages() or ["(no built book)"]
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


def _unavailable(message: str):
    """Skip with the reason, or fail under CI, where a missing browser or book is a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


# ---------------------------------------------------------------------------------------------- serving

class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `directory` under `mount` only (404 elsewhere), plus in-memory pages."""

    mount = "/"
    virtual: dict[str, bytes] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self):
        path = urlsplit(self.path).path
        if path in self.virtual:
            body = self.virtual[path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not path.startswith(self.mount):
            self.send_error(404, "outside the mount point")
            return
        self.path = "/" + self.path[len(self.mount):]
        super().do_GET()


class _Server:
    def __init__(self, mount: str):
        handler = type("Handler", (_Handler,), {"mount": mount, "virtual": {}})
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(handler, directory=str(BUILD)))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}{mount}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def servers():
    if not BUILD.is_dir() or not (BUILD / "index.html").exists():
        _unavailable(f"no built book at {BUILD}: run `make book` first")
    made = {"root": _Server("/"), "prefix": _Server(PREFIX)}
    yield made
    for server in made.values():
        server.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _unavailable("chromium not found: install Debian's chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed (it is in requirements.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# ---------------------------------------------------------------------------------------------- page checks

class PageLog:
    """Everything a page did: requests, failed responses, JavaScript errors, dialogs."""

    def __init__(self, page, allowed_host: str = "127.0.0.1"):
        self.requests, self.foreign, self.failed, self.errors, self.dialogs = [], [], [], [], []
        self.allowed_host = allowed_host
        page.on("request", self._request)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.on("requestfailed", lambda r: self.failed.append(f"failed ({r.failure}) {r.url}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console.error: {m.text}"))
        page.on("dialog", self._dialog)
        # Anything not on 127.0.0.1 is recorded (above) and then refused, so a stray request fails fast.
        page.route("**/*", lambda route: route.continue_() if self._local(route.request.url) else route.abort())

    def _local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return parts.scheme in ("http", "https") and parts.hostname == self.allowed_host

    def _request(self, request):
        self.requests.append(request.url)
        if not self._local(request.url):
            self.foreign.append(request.url)

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self):
        problems = ([f"request to another host: {u}" for u in self.foreign] + self.failed + self.errors
                    + [f"dialog opened: {d}" for d in self.dialogs])
        # requests to other hosts are aborted on purpose; do not report them twice as failures
        problems = [p for p in problems if not (p.startswith("failed (net::ERR_FAILED)")
                                                and any(u in p for u in self.foreign))]
        assert not problems, "\n".join(problems)


@contextmanager
def opened_page(browser, url: str, ready=None, settle_ms: int = 0):
    """(page, log) of `url` in a fresh 1280 x 900 context. `ready(page)`, if given, waits until the page is
    ready for the test; after the test (and `settle_ms` more) the log must be clean."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog(page)
    try:
        page.goto(url, wait_until="load")
        if ready is not None:
            ready(page)
        yield page, log
        if settle_ms:
            page.wait_for_timeout(settle_ms)
        log.assert_clean()
    finally:
        context.close()


WAIT_RENDERED_JS = """() => {
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const widgetsDone = views.every(s => {
    const area = s.previousElementSibling;
    return area && area.classList.contains('widget-subarea') && area.childElementCount > 0;
  });
  const bertviz = [...document.querySelectorAll('[data-bertviz-view], div[id^="bertviz-"]')];
  const bertvizDone = bertviz.every(el => el.querySelector('#vis svg *') ||
                                          (el.querySelector('#vis') && el.querySelector('#vis').textContent.trim()));
  const mathDone = !window.MathJax || !document.querySelector('.math') ||
                   document.querySelector('mjx-container') !== null;
  // a live view (views/live.py) says "Loading the model..." until the page has loaded the model's asset
  const liveDone = [...document.querySelectorAll('[data-te-role=message]')].every(m => !m.textContent.startsWith('Loading'));
  return widgetsDone && bertvizDone && mathDone && liveDone && document.readyState === 'complete';
}"""

CHECK_RENDERED_JS = """() => {
  const LIVE_NOTE = LIVE_NOTE_JSON;
  const problems = [];
  const big = el => { const r = el.getBoundingClientRect(); return r.width > 4 && r.height > 4; };
  const drawn = el => el.querySelector('svg *, canvas, img, input, select, button, table') !== null
                      || el.textContent.trim().length > 0;
  document.querySelectorAll('img').forEach(img => {
    if (!img.complete || img.naturalWidth === 0) problems.push('image not loaded: ' + img.getAttribute('src'));
  });
  document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').forEach((s, i) => {
    const area = s.previousElementSibling;
    if (!area || !area.classList.contains('widget-subarea') || !drawn(area) || !big(area))
      problems.push('widget view ' + i + ' did not render');
  });
  document.querySelectorAll('.te-live').forEach((el, i) => {  // a live explorer says it needs a kernel
    if (!el.textContent.includes(LIVE_NOTE)) problems.push('live explorer #' + i + ' does not show its note');
  });
  document.querySelectorAll('[data-te-view]').forEach((el, i) => {
    if (!big(el) || !drawn(el)) problems.push('view ' + el.dataset.teView + ' #' + i + ' is empty');
    const message = el.querySelector('[data-te-role=message]');  // a live view whose model did not load
    if (message && message.textContent.includes('could not be loaded')) problems.push(message.textContent);
    el.querySelectorAll('svg').forEach(svg => {
      if (svg.childElementCount === 0 && big(svg)) problems.push('view ' + el.dataset.teView + ' has an empty svg');
    });
  });
  document.querySelectorAll('[data-bertviz-view], div[id^="bertviz-"]').forEach((el, i) => {
    const svg = el.querySelector('#vis svg');
    if (!svg || svg.querySelectorAll('line, rect, text').length === 0)
      problems.push('bertviz view ' + (el.dataset.bertvizView || el.id) + ' drew nothing: ' +
                    (el.querySelector('#vis') || el).textContent.trim().slice(0, 200));
    else if (svg.getBoundingClientRect().right > el.getBoundingClientRect().right + 1)
      problems.push('bertviz view ' + (el.dataset.bertvizView || el.id) + ' is wider than the page (' +
                    Math.round(svg.getBoundingClientRect().width) + ' px)');
  });
  document.querySelectorAll('.cell_output .output.text_html canvas').forEach((c, i) => {
    if (c.width === 0 || c.height === 0) problems.push('empty canvas ' + i);
  });
  return problems;
}""".replace("LIVE_NOTE_JSON", json.dumps(LIVE_NOTE))


# What a view currently shows: markup plus the live values of its controls and canvas pixels.
SERIALIZE_JS = """(el) => {
  const parts = [el.innerHTML];
  el.querySelectorAll('input, select, textarea').forEach(i =>
    parts.push(i.type === 'checkbox' || i.type === 'radio' ? String(i.checked) : i.value));
  el.querySelectorAll('canvas').forEach(c => { try { parts.push(c.toDataURL()); } catch (e) { parts.push('?'); } });
  return parts.join('\\u0000');
}"""

# One interaction for a view. Returns a description of what it did, or null if it found nothing to do.
INTERACT_JS = """([el, family, kind]) => {
  const fire = (node, type, Cls) => node.dispatchEvent(new (Cls || Event)(type, {bubbles: true}));
  function setTo(node, wanted) {
    if (node.tagName === 'SELECT') {
      const values = [...node.options].filter(o => !o.disabled).map(o => o.value);
      const v = values.includes(wanted) && wanted !== node.value ? wanted : values.find(x => x !== node.value);
      if (v === undefined) return null;
      node.value = v; fire(node, 'change'); return 'select ' + v;
    }
    if (node.type === 'text') {  // a live view's text box: type into it
      node.value = wanted; fire(node, 'input'); return 'type ' + wanted;
    }
    if (node.type === 'range' || node.type === 'number') {
      let v = wanted;
      if (v === undefined || v === node.value || isNaN(Number(v))) v = node.value === node.min ? node.max : node.min;
      node.value = v; fire(node, 'input'); fire(node, 'change'); return node.type + ' ' + v;
    }
    node.click(); return 'click';
  }
  function focusOrClick(node, how) {
    if (how === 'focus') {
      if (typeof node.focus === 'function' && node.tabIndex >= 0) node.focus(); else fire(node, 'focus', FocusEvent);
      return 'focus';
    }
    node.click(); return 'click';
  }
  if (family === 'te') {
    // transformer_edu/viz/views/__init__.py documents one interaction per kind:
    const documented = {
      'attention': [['select[data-te-control=head]', '1'], ['g[data-te-control=query]', 'focus']],
      'masked-attention': [['input[data-te-control=causal-mask]', 'click']],
      'positional-encoding': [['input[data-te-control=dimension]', '5'], ['input[data-te-control=position]', '3']],
      'embedding': [['select[data-te-control=point]', '0']],
      'tokens': [['select[data-te-control=text]', '1'], ['select[data-te-control=tokenizer]', undefined]],
      'distribution': [['input[data-te-control=temperature]', '0']],
      'layer-statistics': [['select[data-te-control=metric]', '1'], ['input[data-te-control=series]', 'click']],
      // live views (views/live.py): the model runs in the page
      'live-translator': [['input[data-te-control=text]', 'Sat 4 Jul 2026']],
      'live-attention': [['input[data-te-control=ablate]', 'click']],
      'live-decoding': [['input[data-te-control=text]', 'Sat 4 Jul 2026']],
      'token-journey': [['button[data-te-control=next]', 'click']],
      'live-generation': [['button[data-te-control=generate]', 'click']],
      // a quiz: Check with nothing picked asks for an answer (tests/test_quiz_browser.py answers for real)
      'quiz': [['button[data-te-control=check]', 'click']],
    };
    for (const [selector, how] of documented[kind] || []) {
      const node = el.querySelector(selector);
      if (!node || node.disabled) continue;
      const done = how === 'click' || how === 'focus' ? focusOrClick(node, how) : setTo(node, how);
      if (done) return selector + ': ' + done;
    }
    for (const node of el.querySelectorAll('[data-te-control]')) {  // any other kind: first usable control
      if (node.disabled) continue;
      const isValue = node.tagName === 'SELECT' || node.type === 'range' || node.type === 'number';
      const done = isValue ? setTo(node) : focusOrClick(node, node.tagName === 'g' ? 'focus' : 'click');
      if (done) return '[data-te-control=' + node.dataset.teControl + ']: ' + done;
    }
    return null;
  }
  if (family === 'bertviz') {
    for (const id of ['layer', 'filter']) {
      const select = el.querySelector('select#' + id);
      if (select && select.options.length > 1) return 'select#' + id + ': ' + setTo(select);
    }
    if (kind === 'model') {  // click the first thumbnail: the enlarged head appears
      const region = el.querySelector('.attn_background');
      const target = region && [...region.parentNode.children].filter(n => n.tagName === 'rect').pop();
      if (target) { fire(target, 'click', MouseEvent); return 'click thumbnail'; }
      return null;
    }
    const boxes = el.querySelectorAll('#vis svg > g:last-of-type > rect');
    if (boxes.length > 1) { fire(boxes[0], 'click', MouseEvent); return 'toggle head 0'; }
    const token = el.querySelector('#vis svg #left > g:nth-of-type(2) > g');
    if (token) { fire(token, 'mouseover', MouseEvent); return 'hover first token'; }
    return null;
  }
  // plain ipywidgets: a slider's handle, else a dropdown, else a checkbox or a button
  const handle = el.querySelector('.noUi-handle');
  if (handle) {
    handle.focus();
    handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', keyCode: 39, which: 39, bubbles: true}));
    return 'slider ArrowRight';
  }
  const other = el.querySelector('select, input[type=checkbox], button, input[type=range]');
  return other ? setTo(other) : null;
}"""

VIEWS_JS = """() => {
  const found = [];
  const seen = new Set();
  const add = (el, family, kind) => {
    if (seen.has(kind + '|' + family)) return;
    seen.add(kind + '|' + family);
    el.setAttribute('data-te-test-target', String(found.length));
    found.push({family, kind});
  };
  document.querySelectorAll('[data-te-view]').forEach(el => add(el, 'te', el.dataset.teView));
  document.querySelectorAll('[data-bertviz-view], div[id^="bertviz-"]').forEach(el =>
    add(el, 'bertviz', el.dataset.bertvizView || (el.querySelector('#layer') ? 'head' : 'model')));
  // plain ipywidgets with a control; display-only ones (chapter 11's progress bar) only have to render, and so
  // do the live explorers of viz/widgets.py (class te-live): their controls need a kernel (see LIVE_JS)
  document.querySelectorAll('.widget-subarea').forEach(el => {
    if (!el.querySelector('[data-te-view], .te-live') && el.querySelector('.jupyter-widgets')
        && el.querySelector('select, input, textarea, button, .noUi-handle'))
      add(el, 'ipywidgets', 'ipywidgets');
  });
  return found;
}"""


# WCAG contrast of each view's text colour against the first opaque background behind it (>= 4.5 : 1).
CONTRAST_JS = """() => {
  const parse = c => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null;
    const v = m[1].split(',').map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  const lum = ({r, g, b}) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  const background = el => { for (let n = el; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor); if (c && c.a > 0.5) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  document.querySelectorAll('[data-te-view], .te-bertviz').forEach(el => {
    const fg = parse(getComputedStyle(el).color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) low.push((el.dataset.teView || 'bertviz') + ': ' + ratio.toFixed(2) + ' : 1 (text ' +
      getComputedStyle(el).color + ' on ' + JSON.stringify(bg) + ')');
  });
  return low;
}"""


def _wait_rendered(page, log: "PageLog"):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url = page.url
    if page.locator('meta[http-equiv="Refresh" i]').count():  # the root index.html only redirects
        page.wait_for_url(lambda u: u != url)
    page.wait_for_load_state("load")
    try:
        page.wait_for_function(WAIT_RENDERED_JS, timeout=RENDER_TIMEOUT_MS)
    except PlaywrightTimeout:
        problems = page.evaluate(CHECK_RENDERED_JS)
        log.assert_clean()
        raise AssertionError(f"views did not finish rendering in {RENDER_TIMEOUT_MS / 1000:.0f} s: {problems}")
    page.wait_for_load_state("networkidle")


def _interact_with_each_kind(page) -> list[str]:
    """One interaction per kind of view on the page; assert each changes what the view shows."""
    done = []
    for i, view in enumerate(page.evaluate(VIEWS_JS)):
        target = page.locator(f'[data-te-test-target="{i}"]')
        handle = target.element_handle()
        handle.scroll_into_view_if_needed()
        before = page.evaluate(SERIALIZE_JS, handle)
        action = page.evaluate(INTERACT_JS, [handle, view["family"], view["kind"]])
        label = f"{view['family']} view {view['kind']!r}"
        assert action, f"{label}: found no control to interact with"
        deadline = time.monotonic() + 5
        while page.evaluate(SERIALIZE_JS, handle) == before and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert page.evaluate(SERIALIZE_JS, handle) != before, f"{label}: nothing changed after {action}"
        done.append(f"{label}: {action}")
    return done


def _visit(browser, url: str, *, color_scheme: str = "light", screenshot: Path | None = None):
    context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog(page)
    try:
        page.goto(url, wait_until="load")
        _wait_rendered(page, log)
        problems = page.evaluate(CHECK_RENDERED_JS)
        assert not problems, "\n".join(problems)
        actions = _interact_with_each_kind(page)
        if screenshot is not None:
            page.evaluate("window.scrollTo(0, 0)")  # sticky header and sidebar are drawn where the view is
            page.wait_for_timeout(100)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        page.wait_for_timeout(200)  # let late errors from the interactions arrive
        log.assert_clean()
        return page, context, log, actions
    except BaseException:
        context.close()
        raise


def _page_id(page: str) -> str:
    return page.removesuffix(".html")


# ---------------------------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_offline_renders_and_reacts(browser, servers, page):
    page_obj, context, log, actions = _visit(browser, servers["root"].base + page,
                                             screenshot=SHOTS / f"{_page_id(page)}.png")
    try:
        assert log.requests and all(urlsplit(u).hostname in (None, "127.0.0.1") for u in log.requests)
        # a theme that loads: the page got its stylesheet and scripts from the book's own _static/
        assert any("/_static/" in u for u in log.requests)
    finally:
        context.close()


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_under_a_sub_path(browser, servers, page):
    """The same checks with the book mounted at /some/prefix/ (and nothing served at /)."""
    _, context, log, _ = _visit(browser, servers["prefix"].base + page)
    try:
        local_paths = [urlsplit(u).path for u in log.requests if urlsplit(u).scheme in ("http", "https")]
        assert all(p.startswith(PREFIX) for p in local_paths), [p for p in local_paths if not p.startswith(PREFIX)]
    finally:
        context.close()


def _pages_with_views() -> list[str]:
    marks = ("data-te-view", 'id="bertviz-', "application/vnd.jupyter.widget-view+json")  # not a heading's anchor
    return [p for p in PAGES if p != "(no built book)" and any(m in (BUILD / p).read_text(errors="replace")
                                                                  for m in marks)]


@pytest.mark.parametrize("page", _pages_with_views() or ["book/intro.html"], ids=_page_id)
def test_dark_theme(browser, servers, page):
    """With the reader's system in dark mode the book follows it, and views still render and react."""
    if not (BUILD / page).exists():
        _unavailable(f"{page} is not in the build")
    page_obj, context, _, _ = _visit(browser, servers["root"].base + page, color_scheme="dark",
                                     screenshot=SHOTS / "dark" / f"{_page_id(page)}.png")
    try:
        assert page_obj.evaluate("document.documentElement.dataset.theme") == "dark"
        low = page_obj.evaluate(CONTRAST_JS)
        assert not low, "text too faint on its background in the dark theme:\n" + "\n".join(low)
    finally:
        context.close()


@pytest.mark.parametrize("page", CHAPTERS or ["(no chapters)"], ids=_page_id)
def test_chapter_offers_its_notebook_for_download(browser, servers, page):
    if page == "(no chapters)":
        _unavailable("the build has no chapters")
    context = browser.new_context()
    try:
        p = context.new_page()
        p.goto(servers["prefix"].base + page)
        links = p.eval_on_selector_all(".dropdown-download-buttons a[href$='.ipynb']", "as => as.map(a => a.href)")
        assert len(links) == 1, f"expected one .ipynb download link, got {links}"
        assert links[0].endswith(f"_sources/{page.removesuffix('.html')}.ipynb")
        response = p.request.get(links[0])
        assert response.status == 200
        notebook = json.loads(response.body())
        assert notebook["nbformat"] == 4 and notebook["cells"]
    finally:
        context.close()


def _xss_page() -> bytes:
    """A real page of the book with a bertviz view and an anywidget view of a hostile token inserted."""
    from ipywidgets.embed import embed_data

    import torch
    from transformer_edu.viz.bertviz_views import head_view

    template = (BUILD / "book" / "intro.html").read_text()
    tokens = ["the", XSS_TOKEN, "</script><script>alert(2)</script>"]
    weights = [torch.softmax(torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(0)), -1)]
    parts = [head_view(weights, tokens).data]
    head = ""
    try:
        from transformer_edu.viz.views import AttentionExplorer, LayerStatisticsExplorer
    except ImportError:  # the views package not written yet: the bertviz view alone
        AttentionExplorer = None
    if AttentionExplorer is not None:
        explorer = AttentionExplorer(weights[0][0], tokens)
        stats = LayerStatisticsExplorer({"std": {XSS_TOKEN: [1.0, 2.0], "plain": [0.5, 0.25]},
                                         tokens[2]: {XSS_TOKEN: [1e-9, 1e3], "plain": [1.0, 1.0]}}, x_label=tokens[2])
        data = embed_data(views=[explorer, stats], drop_defaults=False)
        state = json.dumps(data["manager_state"]).replace("</", "<\\/")
        head = (f'<script type="application/vnd.jupyter.widget-state+json">{state}</script>'
                f'<script src="../_static/offline/html-manager/embed-amd.js"></script>')
        parts += [f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(spec)}</script>'
                  for spec in data["view_specs"]]
    body = "\n".join(f'<div class="cell_output docutils container"><div class="output text_html">{p}</div></div>'
                     for p in parts)
    marker = re.search(r"<article[^>]*>", template)
    assert marker, "the theme's <article> element was not found in book/intro.html"
    page = template[:marker.end()] + body + template[marker.end():]
    return page.replace("</head>", head + "</head>", 1).encode()


@pytest.mark.parametrize("mount", ["root", "prefix"])
def test_hostile_token_is_shown_as_text(browser, servers, mount):
    """The views draw a hostile token as text. The widget state here is written by the test, already escaped, so
    it does not go through myst-nb or the build: tests/test_injection_browser.py takes hostile labels through
    execution, the build and the page."""
    if not (BUILD / "book" / "intro.html").exists():
        _unavailable("book/intro.html is not in the build")
    server = servers[mount]
    path = urlsplit(server.base).path + XSS_PAGE
    server.handler.virtual[path] = _xss_page()
    context = browser.new_context()
    page = context.new_page()
    log = PageLog(page)
    try:
        page.goto(server.base + XSS_PAGE, wait_until="load")
        _wait_rendered(page, log)
        assert page.evaluate(CHECK_RENDERED_JS) == []
        assert page.evaluate("document.querySelectorAll('img[src=x], img[src=\"x\"]').length") == 0
        bertviz_texts = page.evaluate("[...document.querySelectorAll('[data-bertviz-view] text')]"
                                      ".map(n => n.textContent)")
        assert XSS_TOKEN in bertviz_texts, f"the token is not shown literally by bertviz: {bertviz_texts}"
        if page.locator("[data-te-view]").count():  # views may shorten long tokens, so look for its start
            te_text = page.evaluate("[...document.querySelectorAll('[data-te-view]')]"
                                    ".map(n => n.textContent).join(' ')")
            assert "<img src=x" in te_text, "the token is not shown literally by the anywidget view"
            legend = page.evaluate("document.querySelector('[data-te-view=layer-statistics] .te-legend').textContent")
            assert XSS_TOKEN in legend, f"the series name is not shown literally in the legend: {legend!r}"
            page.select_option("[data-te-view=layer-statistics] select[data-te-control=metric]", "1")
            shown = page.evaluate("document.querySelector('[data-te-view=layer-statistics]').textContent")
            assert "</script><script>alert(2)</script>" in shown  # the metric and axis names, literally
        page.wait_for_timeout(300)
        log.assert_clean()  # includes: no dialog (alert) opened, no request for "x"
        assert not any(urlsplit(u).path.endswith("/x") for u in log.requests)
    finally:
        context.close()
        server.handler.virtual.pop(path, None)


def test_vendored_anywidget_matches_the_installed_wheel():
    if not BUILD.is_dir():
        _unavailable(f"no built book at {BUILD}: run `make book` first")
    import anywidget

    wheel = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    built = BUILD / "_static" / "offline" / "anywidget" / "index.js"
    assert built.read_bytes() == wheel.read_bytes(), "rebuild with `make book` (it re-copies anywidget's front-end)"


@pytest.mark.parametrize("page", CHAPTERS or ["(no built book)"])
def test_chapter_page_weighs_under_2_mb(page):
    """The chapter's HTML plus the figures it shows (the shared _static/ assets are cached across pages)."""
    if not BUILD.is_dir():
        _unavailable(f"no built book at {BUILD}: run `make book` first")
    html = (BUILD / page).read_text(encoding="utf-8")
    images = {BUILD / page.rsplit("/", 1)[0] / src for src in re.findall(r'src="(\.\./_images/[^"]+)"', html)}
    total = len(html.encode()) + sum(p.resolve().stat().st_size for p in images)
    assert total < 2_000_000, f"{page}: {total / 1e6:.2f} MB with its {len(images)} figures"
