"""The live views of the built book (views/live.py): the trained model runs in the page, with no kernel.

Each test opens a built page in headless Chromium, types into a view as a reader would, and compares what the
view shows with what the Python package computes for the same input (greedy decoding, beam search, head
ablation). Also: bad input gets a message, hostile text stays text, the pages work from file://, and only
pages with a live view load the model's asset. The engine itself is checked number by number against torch
in test_engine_browser.py; the other checks every page gets (offline, sub-path, dark theme) are in
test_book_browser.py.
"""
from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import torch

from test_book_browser import BUILD, PageLog, browser, servers  # noqa: F401 (fixtures)
from transformer_edu import greedy_decode
from transformer_edu.ablation import ablate_heads
from transformer_edu.beam import beam_search
from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.viz.views.live import CHECKPOINTS

pytestmark = pytest.mark.browser
ASSET = "_static/live/dates.js"
DATES = ["Sat 4 Jul 2026", "December 31, 1999", "01/02/1903", "Tuesday, 29 February 2000"]
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def dates_model():
    model, (src_tok, tgt_tok), _ = load_checkpoint(CHECKPOINTS / "dates.pt")
    return model, src_tok, tgt_tok


def _python(dates_model, text: str, method: str = "greedy", heads=()) -> str:
    model, src_tok, tgt_tok = dates_model
    src = torch.tensor([src_tok.encode(text)])
    with ablate_heads(model, heads):
        ids = greedy_decode(model, src) if method == "greedy" else beam_search(model, src, beam_size=4)
    return tgt_tok.decode(ids[0])


@contextmanager
def _opened(browser, url: str):  # noqa: F811
    """(page, log) of a built page whose live views have loaded the model; the log must stay clean."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog(page)
    try:
        page.goto(url, wait_until="load")
        _wait_loaded(page)
        yield page, log
        log.assert_clean()
    finally:
        context.close()


def _wait_loaded(page) -> None:
    page.wait_for_function("""() => {
      const m = [...document.querySelectorAll('[data-te-role=message]')];
      return m.length > 0 && m.every(x => !x.textContent.startsWith('Loading'));
    }""", timeout=30_000)


def _type(view, text: str) -> None:
    view.locator("input[data-te-control=text]").fill(text)  # fill sends the input event


def _text(view, role: str) -> str:
    return view.locator(f"[data-te-role={role}]").first.inner_text().strip()


def _chapter(page_name: str) -> str:
    path = BUILD / "chapters" / page_name
    if not path.exists():
        pytest.fail(f"no built page {path}: run `make book`")
    return f"chapters/{page_name}"


def test_attention_view_translates_typed_dates_as_python_does(browser, servers, dates_model):  # noqa: F811
    with _opened(browser, servers["root"].base + _chapter("13_inside_the_model.html")) as (page, log):
        view = page.locator("[data-te-view=live-attention]").first
        for text in DATES:
            _type(view, text)
            assert _text(view, "output-intact") == _python(dates_model, text), text


@pytest.mark.parametrize("heads", [
    [("encoder_self", 1, 1)],
    [("cross", 1, h) for h in range(4)],
    [("cross", 1, 0), ("cross", 1, 2)],
    [("encoder_self", 0, 3), ("decoder_self", 0, 1), ("cross", 0, 2)],
], ids=["one-encoder-head", "cross-layer-1", "two-cross-heads", "three-kinds"])
def test_head_ablation_in_the_page_equals_python(browser, servers, dates_model, heads):  # noqa: F811
    with _opened(browser, servers["root"].base + _chapter("13_inside_the_model.html")) as (page, log):
        view = page.locator("[data-te-view=live-attention]").nth(1)
        view.scroll_into_view_if_needed()
        view.locator("[data-te-control=clear]").click()
        for kind, layer, head in heads:
            view.locator(f"input[data-te-kind={kind}][data-te-layer='{layer}'][data-te-head='{head}']").click()
        for text in DATES[:2]:
            _type(view, text)
            assert _text(view, "output-intact") == _python(dates_model, text)
            assert _text(view, "output-ablated") == _python(dates_model, text, heads=heads), (text, heads)
        verdict = _text(view, "verdict")
        if heads == [("cross", 1, h) for h in range(4)]:  # a block the chapter measured: its figure is shown
            assert "0.0% exact match on the 1,000 held-out dates" in verdict, verdict


@pytest.mark.parametrize("view_name", ["live-attention", "live-translator", "live-decoding", "token-journey"])
def test_bad_input_gets_a_message_and_hostile_text_stays_text(browser, servers, view_name):  # noqa: F811
    page_name = {"live-attention": "13_inside_the_model.html", "live-decoding": "12_decoding.html"}.get(
        view_name, "10_transformer.html")
    with _opened(browser, servers["root"].base + _chapter(page_name)) as (page, log):
        view = page.locator(f"[data-te-view={view_name}]").first
        view.scroll_into_view_if_needed()
        images = page.locator("img").count()
        for text, expected in [("", "Type something"), ("   ", "Type something"),
                               (" ".join(["7"] * 70), "positions for 64 at most"),
                               (HOSTILE, "read as <unk>"), ("JULY 3, 2026", "\u201cJULY\u201d"),
                               ("\u2603\u2603", "is in the model's vocabulary")]:
            _type(view, text)
            message = _text(view, "message")
            assert expected in message, (text, message)
        _type(view, HOSTILE)
        assert page.locator("img").count() == images, "typed markup became an element"
        assert not log.dialogs
        _type(view, "Sat 4 Jul 2026")  # and it recovers
        assert _text(view, "message") == ""


def test_live_views_work_from_file_url(browser, dates_model):  # noqa: F811
    """Opened from disk, as a reader who downloaded the built book would: the asset loads by <script>."""
    context = browser.new_context()
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto((BUILD / _chapter("13_inside_the_model.html")).as_uri(), wait_until="load")
        _wait_loaded(page)
        view = page.locator("[data-te-view=live-attention]").first
        _type(view, DATES[1])
        assert _text(view, "output-intact") == _python(dates_model, DATES[1])
        assert any(u.endswith(ASSET) for u in requests)
        assert all(urlsplit(u).scheme in ("file", "data", "blob") for u in requests), requests
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("page_name, loads", [("05_attention.html", 0), ("13_inside_the_model.html", 1)])
def test_only_pages_with_a_live_view_load_the_model_once(browser, servers, page_name, loads):  # noqa: F811
    """The asset is shared: a browser fetches it once for every page that uses it, and pages without a live
    view never do. (test_book_browser's page-weight test counts each chapter's HTML and figures; this asset is
    counted here, once, against its own budget.)"""
    size = (BUILD / ASSET).stat().st_size
    assert size < 1_500_000, f"{ASSET}: {size:,} bytes, over the 1.5 MB budget"
    context = browser.new_context()
    page = context.new_page()
    log = PageLog(page)
    try:
        page.goto(servers["root"].base + _chapter(page_name), wait_until="networkidle")
        if loads:
            _wait_loaded(page)  # chapter 13 has two live views: they share one load
        assert sum(u.endswith(ASSET) for u in log.requests) == loads, log.requests
        log.assert_clean()
    finally:
        context.close()


def test_decoding_view_decodes_as_python_and_samples_reproducibly(browser, servers, dates_model):  # noqa: F811
    with _opened(browser, servers["root"].base + _chapter("12_decoding.html")) as (page, log):
        view = page.locator("[data-te-view=live-decoding]").first
        view.scroll_into_view_if_needed()
        for text in DATES:
            _type(view, text)
            assert _text(view, "output-greedy") == _python(dates_model, text), text
            assert _text(view, "output-beam") == _python(dates_model, text, "beam"), text
        sampled = _text(view, "output-sample")
        seed = view.locator("input[data-te-control=seed]")
        seed.fill("5")
        seed.fill("0")
        assert _text(view, "output-sample") == sampled, "the same seed gave another sample"
        view.locator("select[data-te-control=beam-size]").select_option("2")
        view.locator("input[data-te-control=beam-step]").fill("0")  # the first step: two live hypotheses
        view.locator("input[data-te-control=beam-step]").dispatch_event("input")
        assert view.locator("table[data-te-role=beam] tr[data-te-role=live]").count() == 2


def test_translator_shapes_and_the_journey_keys(browser, servers, dates_model):  # noqa: F811
    with _opened(browser, servers["root"].base + _chapter("10_transformer.html")) as (page, log):
        translator = page.locator("[data-te-view=live-translator]").first
        _type(translator, DATES[1])
        assert _text(translator, "output").endswith(_python(dates_model, DATES[1]))
        n_source = len(dates_model[1].encode(DATES[1]))
        shapes = translator.locator("table[data-te-role=shapes]").inner_text()
        assert f"(1, {n_source}, 64)" in shapes and "(1, 11, 55)" in shapes  # memory; the logits: T = 11, V = 55
        journey = page.locator("[data-te-view=token-journey]").first
        journey.scroll_into_view_if_needed()
        first = _text(journey, "step-name")
        journey.locator("button[data-te-control=next]").focus()
        page.keyboard.press("ArrowRight")
        second = _text(journey, "step-name")
        page.keyboard.press("ArrowLeft")
        assert second != first and _text(journey, "step-name") == first
