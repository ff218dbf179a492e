"""The live views of the built book (views/live.py): the trained model runs in the page, with no kernel.

Each test opens a built page in headless Chromium, types into a view as a reader would, and compares what the
view shows with what the Python package computes for the same input (greedy decoding, beam search, head
ablation). Also: bad input gets a message, hostile text stays text, the pages work from file://, and only
pages with a live view load the model's asset. Chapter 15's LiveGeneration (the GPT) is checked in a page of its
own, so it needs no built book (see its section). The engine itself is checked number by number against torch
in test_engine_browser.py; the other checks every page gets (offline, sub-path, dark theme) are in
test_book_browser.py.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch

from test_book_browser import BUILD, PageLog, browser, opened_page, servers  # noqa: F401 (fixtures)
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


def _wait_loaded(page) -> None:
    page.wait_for_function("""() => {
      const m = [...document.querySelectorAll('[data-te-role=message]')];
      return m.length > 0 && m.every(x => !x.textContent.startsWith('Loading'));
    }""", timeout=30_000)


_opened = partial(opened_page, ready=_wait_loaded)  # (page, log) once the live views have loaded the model


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


# ---------------------------------------------------------------------------------------------- LiveGeneration
# The view in a page of its own, opened from file:// (no built book needed): the view's module (its `export`
# dropped, so a classic script, which a file:// page may run), the live views' CSS, the shipped GPT asset, and a
# stand-in for the widget that hands the view its data. What the view shows is compared with gpt.generate and
# decoding.next_token_probabilities; the keyboard drives it; hostile prompts stay text; both themes are legible.

GENERATION_NAME = "shakespeare"
GENERATION_ASSET = Path(__file__).resolve().parents[1] / "book" / "_static" / "live" / f"{GENERATION_NAME}.js"
GENERATION_CHECKPOINT = CHECKPOINTS / f"{GENERATION_NAME}.pt"
GENERATION_PAGE = """<!doctype html>
<html{theme}><head><meta charset="utf-8"><title>LiveGeneration</title>
<style>{css} body {{ background: {background}; margin: 8px; }}</style>
<script src="{asset}"></script>
<script>{module}
window.teRender = (data) => {{
  const el = document.createElement('div');
  document.body.appendChild(el);
  const widget = {{ get: () => data, on() {{}}, off() {{}}, send() {{}} }};
  render({{ model: widget, el: el }});
}};
</script></head><body></body></html>
"""
# every element that shows text, against the first opaque background behind it: WCAG contrast >= 4.5 : 1
TEXT_CONTRAST_JS = """(root) => {
  const parse = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null;
    const v = m[1].split(',').map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  const lum = ({r, g, b}) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  const background = (el) => { for (let n = el; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor); if (c && c.a > 0.5) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  for (const el of root.querySelectorAll('*')) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.closest('svg') && el.tagName !== 'text') continue;
    const style = getComputedStyle(el);
    const fill = el.tagName === 'text' ? parse(style.fill) : null;
    const fg = fill || parse(style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) low.push(el.tagName + ' "' + el.textContent.slice(0, 30) + '": ' + ratio.toFixed(2));
  }
  return low;
}"""


class _FileLog(PageLog):
    """PageLog for a page opened from file://: files on this machine are local too; anything else is refused."""

    def _local(self, url: str) -> bool:
        return urlsplit(url).scheme == "file" or super()._local(url)


@pytest.fixture(scope="module")
def gpt_model():
    model, (tokenizer, _), _ = load_checkpoint(GENERATION_CHECKPOINT)
    return model, tokenizer


def _generation_data(**changes) -> dict:
    from transformer_edu.viz.views.live import GENERATION_MAX
    data = {"asset": GENERATION_NAME, "text": "**ROMEO**  \n", "title": "Live generation", "max_chars": 200,
            "label": "Prompt:", "temperature": None, "top_k": None, "top_p": None, "seed": 0, "max_new_tokens": 30,
            "generation_max": GENERATION_MAX}
    return {**data, **changes}


@contextmanager
def _generation_page(browser, tmp_path, data: dict, dark: bool = False):  # noqa: F811
    """(page, view, log): the view rendered with `data` in a page opened from file://, its first run done."""
    from transformer_edu.viz.views.live import LiveGeneration

    assert GENERATION_ASSET.exists(), f"{GENERATION_ASSET} is missing: `make book` writes it"
    html = tmp_path / f"generation{'-dark' if dark else ''}.html"
    html.write_text(GENERATION_PAGE.format(
        theme=' data-theme="dark"' if dark else "", background="#121212" if dark else "#ffffff",
        css=LiveGeneration._css, asset=GENERATION_ASSET.as_uri(),
        module=LiveGeneration._esm.replace("export default { render };", "")), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    log = _FileLog(page)
    try:
        page.goto(html.as_uri(), wait_until="load")
        page.evaluate("(data) => window.teRender(data)", data)
        view = page.locator("[data-te-view=live-generation]").first
        _wait_generated(view)
        yield page, view, log
        assert all(urlsplit(u).scheme in ("file", "data", "blob") for u in log.requests), log.requests
        log.assert_clean()
    finally:
        context.close()


def _wait_generated(view) -> None:
    view.locator("[data-te-role=status][data-te-state=done]").wait_for(timeout=120_000)


def _generated(view) -> str:
    return view.locator("[data-te-role=output]").text_content()


def _python_generation(gpt_model, prompt: str, n: int) -> str:
    from transformer_edu.gpt import generate
    model, tokenizer = gpt_model
    return tokenizer.decode(generate(model, torch.tensor([tokenizer.encode(prompt)]), n, temperature=None)[0])


def test_generation_view_writes_what_gpt_generate_writes(browser, tmp_path, gpt_model):  # noqa: F811
    """Greedy generation past the context (the default prompt + 70 tokens > max_len), shown in the page as
    gpt.generate writes it; then the keyboard: Ctrl+Enter in the prompt box runs a new prompt, the Generate
    button runs on Enter, and the arrow keys on the step slider walk the steps."""
    model, _ = gpt_model
    data = _generation_data(max_new_tokens=70)
    with _generation_page(browser, tmp_path, data) as (page, view, log):
        assert _generated(view) == _python_generation(gpt_model, data["text"], 70)
        assert view.locator("[data-te-role=status]").text_content().startswith("Generated 70 tokens in ")
        box = view.locator("[data-te-control=text]")
        box.fill("JULIET")
        assert "press Generate" in view.locator("[data-te-role=status]").text_content()
        box.press("Control+Enter")
        _wait_generated(view)
        assert _generated(view) == _python_generation(gpt_model, "JULIET", 70)
        view.locator("[data-te-control=tokens]").fill("12")
        view.locator("[data-te-control=generate]").focus()
        page.keyboard.press("Enter")
        _wait_generated(view)
        assert _generated(view) == _python_generation(gpt_model, "JULIET", 12)
        slider = view.locator("input[data-te-control=step]")
        slider.focus()
        page.keyboard.press("End")
        assert view.locator("[data-te-role=step]").text_content().startswith("Step 12: the model sees 17 tokens")
        page.keyboard.press("ArrowLeft")
        assert view.locator("[data-te-role=step]").text_content().startswith("Step 11: ")
        assert view.locator(".te-generation-current").get_attribute("data-te-step") == "11"


def test_generation_view_shows_next_token_probabilities(browser, tmp_path, gpt_model):  # noqa: F811
    """At every step of a seeded sample with temperature, top-k and top-p, past the context, the bars show
    decoding.next_token_probabilities of torch's logits on the window of that step, and the chosen token."""
    from transformer_edu.decoding import next_token_probabilities

    model, tokenizer = gpt_model
    data = _generation_data(temperature=0.7, top_k=20, top_p=0.9, seed=3, max_new_tokens=70)
    prompt = tokenizer.encode(data["text"])
    with _generation_page(browser, tmp_path, data) as (page, view, log):
        slider = view.locator("input[data-te-control=step]")
        text = _generated(view)
        ids = tokenizer.encode(text)
        assert ids[:len(prompt)] == prompt and len(ids) == len(prompt) + 70
        worst = 0.0
        for k in (1, 2, 40, 60, 70):
            slider.fill(str(k))
            slider.dispatch_event("input")
            bars = view.locator("[data-te-role=step] rect[data-te-role=bar]")
            shown = {int(b.get_attribute("data-te-token")): (float(b.get_attribute("data-te-p")),
                                                            b.get_attribute("data-te-chosen") == "true")
                     for b in bars.all()}
            end = len(prompt) + k - 1
            window = ids[max(0, end - model.config.max_len):end]
            with torch.no_grad():
                want = next_token_probabilities(model(torch.tensor([window]))[0, -1], 0.7, 20, 0.9).double()
            top = [i for i in want.argsort(descending=True)[:5].tolist() if want[i] > 0]  # (the filters cut)
            assert set(top) <= set(shown), (k, top, shown)
            worst = max(worst, *(abs(p - float(want[i])) for i, (p, _) in shown.items()))
            assert [i for i, (_, chosen) in shown.items() if chosen] == [ids[end]]
            context = view.locator("[data-te-role=context]").text_content()
            assert context == ("\u2026" if end > model.config.max_len else "") + tokenizer.decode(window)
        assert worst < 1e-5, worst


def test_generation_view_samples_reproducibly(browser, tmp_path):  # noqa: F811
    data = _generation_data(temperature=1.0, seed=0, max_new_tokens=20)
    with _generation_page(browser, tmp_path, data) as (page, view, log):
        first = _generated(view)
        seed = view.locator("input[data-te-control=seed]")
        outputs = []
        for value in ("5", "0"):
            seed.fill(value)
            seed.press("Enter")
            _wait_generated(view)
            outputs.append(_generated(view))
        assert outputs[1] == first != outputs[0], "the same seed gave another text (or another seed the same)"
        view.locator("input[data-te-control=temperature]").fill("0")  # the slider's first position: greedy
        view.locator("input[data-te-control=temperature]").dispatch_event("input")
        assert view.locator("select[data-te-control=top-k]").is_disabled()  # greedy ignores top-k and top-p
        view.locator("[data-te-control=generate]").click()
        _wait_generated(view)
        assert "greedy" in view.locator("[data-te-role=status]").text_content()


def test_generation_view_refuses_bad_prompts_as_text(browser, tmp_path):  # noqa: F811
    with _generation_page(browser, tmp_path, _generation_data(max_new_tokens=5)) as (page, view, log):
        box = view.locator("[data-te-control=text]")
        for text, expected in [("", "Type a prompt"), (HOSTILE, "Not in the model's vocabulary: \u201c<\u201d"),
                               ("caf\u00e9", "\u201c\u00e9\u201d"), ("\u2603", "Not in the model's vocabulary")]:
            box.fill(text)
            message = view.locator("[data-te-role=message]").text_content()
            assert expected in message, (text, message)
            assert view.locator(".te-live-area").is_hidden()
            view.locator("[data-te-control=generate]").click()  # nothing to run: the message stays
            assert view.locator("[data-te-role=message]").text_content() == message
        assert page.locator("img").count() == 0 and not log.dialogs
        box.fill("ROMEO" * 30)  # longer than the context: a note, and it runs
        assert "the model sees only the last" in view.locator("[data-te-role=message]").text_content()
        view.locator("[data-te-control=generate]").click()
        _wait_generated(view)
        assert _generated(view).startswith("ROMEO" * 30)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_generation_view_is_legible_in_both_themes(browser, tmp_path, dark):  # noqa: F811
    with _generation_page(browser, tmp_path, _generation_data(max_new_tokens=8), dark=dark) as (page, view, log):
        assert page.evaluate(TEXT_CONTRAST_JS, view.element_handle()) == []
        page.screenshot(path=str(tmp_path / "generation.png"))


def test_generation_asset_is_within_its_budget():
    """The GPT's file is the largest the book loads (812,544 float32 weights, base64): 5 MB at most. (Only the
    pages with a LiveGeneration view load it, once, as the date model's file above.)"""
    size = GENERATION_ASSET.stat().st_size
    assert size < 5_000_000, f"{GENERATION_ASSET.name}: {size:,} bytes, over the 5 MB budget"
