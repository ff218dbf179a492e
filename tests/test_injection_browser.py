"""Hostile token labels through the book's real route (issue 11): executed, built, opened in Chromium.

One fixture notebook shows every kind of view the package draws, each fed labels spelled to break out of the
page: end tags in upper and mixed case and with a space, tab or `/` before `>`, `<!--<script>`, event-handler
markup, `javascript:` URLs, entities. It is executed by scripts/execute_notebooks.py (so the labels reach the
notebook's stored widget state exactly as in a chapter), built by scripts/build_book.py --source (the project's
_config.yml and extensions, the same jupyter-book command as `make book`), served from 127.0.0.1 and opened in
headless Chromium with a trap: every payload calls window.teInjected(...) or alert(...). The test asserts that
no payload ran, no dialog opened, no error occurred, every view rendered, and every label is shown, literally,
as text inside its view. The SVG figure (matplotlib, text kept as <text>) is opened on its own too: a reader can
open an image in a tab of its own, where an SVG's scripts would run.

The build's part is book/_ext/safe_widget_state.py; the last two tests check that extension alone (no browser).

Run: .venv/bin/python -m pytest tests/test_injection_browser.py -q   (about 30 s: one kernel, one build)
Skip and failure conventions, browser and flags as tests/test_book_browser.py; a failed execution or build is a
failure, never a skip.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from test_book_browser import CHECK_RENDERED_JS, CHROMIUM, CHROMIUM_ARGS, WAIT_RENDERED_JS, PageLog, _unavailable

ROOT = Path(__file__).resolve().parents[1]
PAGE = "hostile.html"
# Every payload calls window.teInjected(name) or alert(name) if it runs: the trap below records both.
HOSTILE = [
    "</SCRIPT><SCRIPT>window.teInjected('upper')</SCRIPT>",
    "</ScRiPt><sCrIpT>window.teInjected('mixed')</sCrIpT>",
    "</script ><script >window.teInjected('space')</script >",
    "</script/><script/>window.teInjected('slash')</script/>",
    "</script\t><img src=x onerror=window.teInjected('tab')>",
    "</script><script>window.teInjected('lower')</script>",
    "<!--<script>",
    "<!-- --!> <script>window.teInjected('comment')</script> -->",
    "<img src=x onerror=alert('img')>",
    "<svg/onload=window.teInjected('svg')>",
    "<a href=\"javascript:window.teInjected('href')\">link</a>",
    "javascript:alert('url')",
    "]]><script>window.teInjected('cdata')</script>",
    "a & b &lt; c &#60;",
    "line\u2028separator\u2029paragraph",
]
TRAP_JS = """
window.teTrap = [];
window.teInjected = (what) => window.teTrap.push(String(what));
"""
# Markup that must not exist in the page: elements built from a label instead of text showing it.
MARKUP_JS = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase(), value = a.value.trim().toLowerCase();
      if (name.startsWith('on') && /teinjected|alert/.test(value)) found.push(el.tagName + ' ' + name + '=' + a.value);
      const url = ['href', 'xlink:href', 'src', 'action', 'formaction', 'data'].includes(name);
      if (url && value.startsWith('javascript:')) found.push(el.tagName + ' ' + name + '=' + a.value);
    }
  }
  document.querySelectorAll('img[src="x"]').forEach(el => found.push('img src=x'));
  return found;
}"""


def _notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("# Hostile labels\n\nEvery view below shows labels that try to end "
                                           "the page's scripts early; each must show as text.")]
    code = [
        f"""
        import torch
        from transformer_edu.config import TransformerConfig
        from transformer_edu.model import Transformer
        from transformer_edu.viz import plots
        from transformer_edu.viz.bertviz_views import head_view
        from transformer_edu.viz.views import (AttentionExplorer, DistributionExplorer, EmbeddingExplorer,
                                               LayerStatisticsExplorer, LiveAttention, LiveDecoding, LiveGeneration,
                                               LiveTranslator, MaskedAttentionExplorer, TokenExplorer, TokenJourney)
        from transformer_edu.viz.widgets import live_attention, live_tokenizer

        HOSTILE = {HOSTILE!r}
        n = len(HOSTILE)
        g = torch.Generator().manual_seed(0)
        scores = torch.randn(2, n, n, generator=g)  # (H, T, T)
        weights = scores.softmax(-1)
        """,
        """
        TokenExplorer({"every spelling": [(h, i) for i, h in enumerate(HOSTILE)], HOSTILE[0]: [(HOSTILE[1], 1)]},
                      title=HOSTILE[2], note=HOSTILE[3])
        """,
        "AttentionExplorer(weights, HOSTILE, title=HOSTILE[4])",
        "MaskedAttentionExplorer(scores[0], HOSTILE, title=HOSTILE[5])",
        """
        EmbeddingExplorer(torch.randn(n, 2, generator=g), HOSTILE, groups=[HOSTILE[i % 3] for i in range(n)],
                          title=HOSTILE[6])
        """,
        "DistributionExplorer(scores[0, :2], HOSTILE, top_k=n, position_labels=HOSTILE[:2], title=HOSTILE[7])",
        """
        LayerStatisticsExplorer({HOSTILE[8]: {h: [1.0, 2.0, 0.5] for h in HOSTILE[:8]},
                                 HOSTILE[9]: {h: [0.1, 0.2, 0.3] for h in HOSTILE[:8]}},
                                x_label=HOSTILE[10], title=HOSTILE[11], note=HOSTILE[12])
        """,
        "head_view([weights[None]], HOSTILE)",
        # the live views run the date model in the page on the hostile text, and show the title and measured_on
        """
        LiveAttention(HOSTILE[0], title=HOSTILE[1], measured_on=HOSTILE[2], measured=[{"heads": [], "exact_match": 1}])
        """,
        "LiveTranslator(HOSTILE[3], title=HOSTILE[4])",
        "LiveDecoding(HOSTILE[5], title=HOSTILE[6])",
        "TokenJourney(HOSTILE[7], title=HOSTILE[8])",
        "LiveGeneration(HOSTILE[9], title=HOSTILE[10])",  # the GPT: a prompt of characters it has never seen
        """
        live_tokenizer({HOSTILE[13]: lambda text: [(p, i) for i, p in enumerate(text.split("|"))]}, "|".join(HOSTILE))
        """,
        """
        import ipywidgets

        def tokenize(text):
            if text == "ok":
                return [("ok", 1)]
            raise ValueError(" ".join(HOSTILE))

        explorer = live_attention(Transformer(TransformerConfig.small(vocab_size=8)), tokenize, text="ok")
        next(c for c in explorer.children if isinstance(c, ipywidgets.Text)).value = HOSTILE[0]  # shows the error
        explorer
        """,
        """
        %config InlineBackend.figure_formats = ["svg"]
        import matplotlib
        matplotlib.rcParams["svg.fonttype"] = "none"  # labels as <text> elements, not glyph outlines
        plots.attention_heatmap(weights[0], HOSTILE, HOSTILE, title=HOSTILE[14])
        """,
    ]
    cells += [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in code]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _run(args: list[str], cwd: Path, what: str) -> None:
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", MKL_CBWR="COMPATIBLE")
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The fixture notebook, executed and built as a chapter is; returns the folder of the built HTML."""
    source = tmp_path_factory.mktemp("hostile_book")
    nbformat.write(_notebook(), source / "hostile.ipynb")
    (source / "_toc.yml").write_text("format: jb-book\nroot: hostile\n")
    _run([str(ROOT / "scripts" / "execute_notebooks.py"), str(source / "hostile.ipynb")], ROOT, "execute_notebooks.py")
    _run([str(ROOT / "scripts" / "build_book.py"), "--source", str(source)], ROOT, "build_book.py --source")
    html = source / "_build" / "html"
    assert (html / PAGE).is_file(), sorted(p.name for p in html.iterdir())
    return html


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server(book):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(book)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        _unavailable("chromium not found: install Debian's chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed (it is in requirements.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(TRAP_JS)
    page = context.new_page()
    log = PageLog(page)
    page.goto(url, wait_until="load")
    return context, page, log


def _assert_nothing_ran(page, log) -> None:
    page.wait_for_timeout(300)  # let late handlers (an image's onerror) fire
    assert page.evaluate("window.teTrap") == [], "an injected script ran"
    assert page.evaluate(MARKUP_JS) == [], "a label was parsed as markup"
    log.assert_clean()  # no dialog (alert), no page error, no failed request (an <img src=x>)


# What each view shows of the labels: the full text of the view (SVG tooltips and <option>s included), the chips
# of the token views, the texts bertviz draws, the text box and the message of the live explorers.
SHOWN_JS = """() => {
  const text = el => el.textContent;
  return {
    te: [...document.querySelectorAll('[data-te-view]')].map(el => ({kind: el.dataset.teView, text: text(el),
      live: el.closest('.te-live') !== null,
      typed: el.querySelector('[data-te-control=text]') && el.querySelector('[data-te-control=text]').value,
      chips: [...el.querySelectorAll('[data-te-role=chip] .te-piece')].map(text),
      title: el.querySelector('.te-title') && text(el.querySelector('.te-title')),
      note: el.querySelector('.te-note') && text(el.querySelector('.te-note'))})),
    bertviz: [...document.querySelectorAll('[data-bertviz-view]')].map(el => ({kind: el.dataset.bertvizView,
      texts: [...el.querySelectorAll('#vis svg text')].map(text)})),
    live: [...document.querySelectorAll('.te-live')].map(el => ({text: text(el),
      inputs: [...el.querySelectorAll('input[type=text]')].map(i => i.value)})),
    svgImages: [...document.images].map(i => i.getAttribute('src')).filter(s => s.endsWith('.svg')),
  };
}"""


@pytest.mark.browser
def test_the_built_page_has_no_label_as_markup(book):
    """Statically: no label containing `<` occurs unescaped anywhere in the page, and the stored widget state
    (the JSON in its <script>) contains no `<` at all."""
    html = (book / PAGE).read_text(encoding="utf-8")
    raw = [h for h in HOSTILE if "<" in h and h in html]
    assert not raw, f"labels written into the page as they are: {raw}"
    start = html.index('<script type="application/vnd.jupyter.widget-state+json">')
    state = html[start:html.index("</script>", start)].split(">", 1)[1]
    assert "<" not in state and len(state) > 10_000


@pytest.mark.browser
def test_hostile_labels_are_text_in_every_view(browser, server):
    context, page, log = _open(browser, server + PAGE)
    try:
        page.wait_for_function(WAIT_RENDERED_JS, timeout=30_000)
        page.wait_for_timeout(300)  # let late handlers (an image's onerror) fire
        assert page.evaluate("window.teTrap") == [], "injected scripts ran"
        assert page.evaluate(MARKUP_JS) == [], "labels were parsed as markup"
        assert page.evaluate(CHECK_RENDERED_JS) == []
        shown = page.evaluate(SHOWN_JS)
        kinds = sorted(v["kind"] for v in shown["te"])
        assert kinds == sorted(["tokens", "attention", "masked-attention", "embedding", "distribution",
                                "layer-statistics", "tokens", "live-attention", "live-translator", "live-decoding",
                                "token-journey", "live-generation"]), f"views rendered: {kinds}"
        uses = {"layer-statistics": HOSTILE[:13],  # the series (8), metric and axis names, title and note
                # the live views: the title (and what the numbers were measured on)
                "live-attention": HOSTILE[1:3], "live-translator": [HOSTILE[4]], "live-decoding": [HOSTILE[6]],
                "token-journey": [HOSTILE[8]], "live-generation": [HOSTILE[10]]}
        typed_in_page = [v["typed"] for v in shown["te"] if v["kind"].startswith(("live-", "token-journey"))]
        assert typed_in_page == [HOSTILE[0], HOSTILE[3], HOSTILE[5], HOSTILE[7], HOSTILE[9]], typed_in_page
        generation = next(v for v in shown["te"] if v["kind"] == "live-generation")
        assert "Not in the model's vocabulary" in generation["text"]  # the GPT refuses characters it never saw
        for view in shown["te"]:
            if view["live"]:
                continue
            missing = [h for h in uses.get(view["kind"], HOSTILE) if h not in view["text"]]
            assert not missing, f"{view['kind']} view does not show these labels as text: {missing}"
        tokens = next(v for v in shown["te"] if v["kind"] == "tokens" and not v["live"])
        assert tokens["chips"] == HOSTILE and (tokens["title"], tokens["note"]) == (HOSTILE[2], HOSTILE[3])
        assert [v["kind"] for v in shown["bertviz"]] == ["head"]
        assert set(HOSTILE) <= set(shown["bertviz"][0]["texts"]), "bertviz does not draw every label as text"
        typed, refused = shown["live"]
        assert typed["inputs"] == ["|".join(HOSTILE)]
        live_tokens = next(v for v in shown["te"] if v["live"])
        assert live_tokens["chips"] == HOSTILE
        assert refused["inputs"] == [HOSTILE[0]] and "Could not compute: " + " ".join(HOSTILE) in refused["text"]
        assert len(shown["svgImages"]) == 1
        log.assert_clean()  # no dialog (alert), no page error, no failed request (an <img src=x>)
    finally:
        context.close()


@pytest.mark.browser
def test_svg_figure_keeps_labels_as_text(browser, server, book):
    """matplotlib escapes the labels in the SVG it writes; opened on its own, the figure runs nothing."""
    from transformer_edu.viz.plots import display_token

    svgs = sorted((book / "_images").glob("*.svg"))
    assert len(svgs) == 1, svgs
    tree = ET.parse(svgs[0])  # well-formed XML: no label ended an element or a comment
    elements = list(tree.iter())
    tags = {el.tag.rsplit("}", 1)[-1] for el in elements}
    assert not tags & {"script", "foreignObject", "a", "iframe"}, tags
    attributes = [(name.rsplit("}", 1)[-1].lower(), value) for el in elements for name, value in el.attrib.items()]
    assert not [name for name, _ in attributes if name.startswith("on")]
    links = [value for name, value in attributes if name == "href"]  # matplotlib's own: the heatmap, glyph uses
    assert all(v.startswith(("data:image/png;base64,", "#")) for v in links), [v[:40] for v in links]
    texts = ["".join(el.itertext()) for el in elements if el.tag.endswith("}text")]
    lines = {0x2028: "\n", 0x2029: "\n"}  # matplotlib breaks lines where str.splitlines does, U+2028/9 included
    missing = [h for h in HOSTILE if display_token(h).translate(lines) not in texts]
    assert not missing and HOSTILE[14].translate(lines) in texts, f"labels not drawn as text in the SVG: {missing}"
    context, page, log = _open(browser, server + f"_images/{svgs[0].name}")
    try:
        assert page.evaluate("document.documentElement.localName") == "svg"
        _assert_nothing_ran(page, log)
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------- the extension alone

def _extension():
    spec = importlib.util.spec_from_file_location("safe_widget_state", ROOT / "book" / "_ext" / "safe_widget_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_myst_nb_writes_it(data) -> str:
    return json.dumps(data).replace("</script>", "<\\/script>")  # myst_nb.core.render.sanitize_script_content


def test_widget_state_is_rewritten_with_no_lt():
    from sphinx.builders.html._assets import _JavaScript

    ext = _extension()
    state = {"version_major": 2, "state": {"m": {"state": {"data": {"texts": HOSTILE}}}}}
    stored = _JavaScript(None, priority=500, type=ext.WIDGET_STATE, body=_as_myst_nb_writes_it(state))
    context = {"script_files": [_JavaScript("theme.js", priority=200), stored]}
    ext.escape_widget_state(None, "page", "page.html", context, None)
    theme, written = context["script_files"]
    assert theme == _JavaScript("theme.js", priority=200)
    assert (written.filename, written.priority, written.attributes["type"]) == (None, 500, ext.WIDGET_STATE)
    body = written.attributes["body"]
    assert not set("<>&\u2028\u2029") & set(body) and json.loads(body) == state


def test_widget_view_elements_are_rewritten_with_no_lt():
    from docutils import nodes
    from docutils.utils import new_document
    from sphinx.errors import ExtensionError

    ext = _extension()
    view = {"model_id": HOSTILE[0], "version_major": 2, "version_minor": 0}
    doctree = new_document("page")
    doctree += nodes.raw("", f'<script type="{ext.WIDGET_VIEW}">{_as_myst_nb_writes_it(view)}</script>', format="html")
    doctree += nodes.raw("", "<p>other HTML output: left as it is</p>", format="html")
    ext.escape_widget_views(None, doctree, "page")
    first, second = (raw.astext() for raw in doctree.findall(nodes.raw))
    start, end = f'<script type="{ext.WIDGET_VIEW}">', "</script>"
    assert first.startswith(start) and first.endswith(end) and first.count("<") == 2
    assert json.loads(first[len(start):-len(end)]) == view
    assert second == "<p>other HTML output: left as it is</p>"
    doctree += nodes.raw("", f'<script type="{ext.WIDGET_VIEW}">{{"model_id": "a"}}</script><b>', format="html")
    with pytest.raises(ExtensionError, match="not in myst-nb's layout"):
        ext.escape_widget_views(None, doctree, "page")
