"""The in-page engine (transformer_edu/viz/views/engine.js) against torch, in headless Chromium.

The page is opened from file://, as a reader opens a built book without a server, and loads the shipped asset
book/_static/live/dates.js and engine.js with classic <script> tags; it then runs the checkpoint
transformer_edu/checkpoints/dates.pt on dates that are not the checkpoint's held-out split ("fresh" dates:
make_dataset's held-out set for another seed, less any date of the checkpoint's). Checked against the package:
  - logits and every attention weight (every kind, layer and head) on 250 dates, teacher-forced on torch's
    greedy output, against torch in float32 and against the same weights run by torch in float64;
  - greedy output ids on 1,000 dates; beam search ids and scores for beam sizes 1, 2, 4 and length penalties
    0.6 and 0 on 100 dates; head ablation (logits and greedy output) for five sets of heads on 100 dates;
  - the tokenizer: source ids and unknown pieces on the dates and on awkward strings, the Unicode classes that
    web_export.js_pattern writes for Python's \\d, \\s and \\w (code point by code point), decodeIds;
  - seeded sampling: reproducible, temperature and top-k limits, first-token frequencies over 2,000 seeds;
  - decoding with the engine's key/value cache, token by token, against decoding the whole prefix;
  - the errors for bad inputs and options;
  - other encoder-decoder configurations, freshly initialized (later options of chapter 17 included).
The decoder-only GPT (gpt.py) on the shipped book/_static/live/shakespeare.js, in pages of its own: logits and
attention weights on windows of the held-out text, greedy generation through the context crop, each sampling
step's probabilities against decoding.next_token_probabilities, first-token frequencies, seeds, errors, and
other GPT configurations (see the GPT section).
A check sends all its inputs in one page.evaluate call per page and gets compact results back (largest
differences, ids). The long ones split their dates between two pages, each in a renderer process of its own,
to use both cores.

Run: ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python -m pytest tests/test_engine_browser.py -q
(about two minutes on 2 cores; -s prints the measured differences). Skip and failure conventions, browser and flags as
tests/test_book_browser.py; it needs no built book.
"""
from __future__ import annotations

import base64
import copy
import math
import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch

from test_book_browser import PageLog, browser  # noqa: F401  (the headless chromium fixture)
from transformer_edu import WordTokenizer, beam_search, greedy_decode, load_checkpoint, make_dataset
from transformer_edu.ablation import ablate_heads
from transformer_edu.decoding import tempered_probabilities
from transformer_edu.positional_encoding import sinusoidal_table
from transformer_edu.tokenizer import DEFAULT_PATTERN, UNK_ID
from transformer_edu.web_export import _CLASSES, js_pattern, tokenizer_data

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "book" / "_static" / "live" / "dates.js"
ENGINE = ROOT / "transformer_edu" / "viz" / "views" / "engine.js"
CHECKPOINT = ROOT / "transformer_edu" / "checkpoints" / "dates.pt"
FRESH_SEED = 7  # the checkpoint was trained and evaluated with seed 0 (its extra["data_seed"])
N_GREEDY, N_PARITY, N_BEAM, N_ABLATION = 1000, 250, 100, 100

# Tolerances. Measured on this checkpoint (largest difference over the dates of each test, 2 December 2026):
#   against torch in float32: logits 2.6e-6, encoder_self 7.9e-7, decoder_self 8.7e-7, cross 1.1e-6 (250 dates);
#     logits with heads ablated up to 7.2e-6 (encoder head (1, 1), 100 dates); beam scores 1.3e-6;
#   against the same weights run by torch in float64: at most 7.1e-15, for every kind.
# The engine reads torch's float32 weights exactly and computes in float64 (unit roundoff 1.1e-16), torch in
# float32 (unit roundoff 6e-8). Each logit and weight difference above equals, to two digits, the difference
# between torch's own float32 and float64 runs: it is torch's rounding, accumulated over the sums of a forward
# pass (dot products of 64 and 256 terms, softmax, layer norm, two layers per stack) on logits up to 7 and
# weights up to 1. The float32 tolerances keep a margin of 3x to 8x over those numbers; a structural error (a
# wrong mask, scale, head split or layer, an ablated head left in) moves logits and weights by 1e-3 or more,
# and the float64 comparison catches one far smaller still.
LOGITS_ATOL = 2e-5
WEIGHTS_ATOL = 5e-6
FLOAT64_ATOL = 1e-12  # against torch in float64: float64 rounding in a different order of summation
SCORE_ATOL = 1e-5  # beam scores: sums of ~12 log-probabilities divided by lp(|Y|), each as exact as the logits
# The Shakespeare GPT (4 layers, d_model 128, d_ff 512, windows of 64 tokens, logits up to about 20), measured on
# its 40 windows: logits 1.6e-5, attention weights 1.9e-6 against torch in float32; 4.0e-14 and 6.9e-15 against
# float64; each step's probabilities 1.3e-6. Tolerances keep a margin of 3x or more, as above.
GPT_LOGITS_ATOL = 5e-5
GPT_WEIGHTS_ATOL = 1e-5
PROBS_ATOL = 1e-5  # a GPT step's probabilities (drawn and softmax)

# Strings a reader may type: Unicode digits (Arabic-Indic, full-width), every odd space on which Python and
# JavaScript disagree (U+0085, U+001C are spaces for Python only, U+FEFF for JavaScript only), markup, emoji
# (outside the BMP: two UTF-16 units, one Python character), no text at all, other letter cases, long text.
AWKWARD = [
    "", " ", "     ", "\t\n", "٣", "３", "٣ March ٢٠٢٠", "１２ March ２０２０", "12\u0085March\u00a02020",
    "\u2028\u2029", "\ufeff12 Dec 2020", "\x1c\x1d\x1e\x1f", "12\x1cDec\x1c2020", "\u00a0\u3000\u202f",
    "📅 2 Dec 2026 🎉", "👍🏽", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "NOVEMBER 3, 2020",
    "november 3, 2020", "nOvEmBeR", "Straße", "Ǆ ǅ ǆ", "İstanbul", "e\u0301te\u0301", "½ ² ⅷ", "x_y_z", "___",
    "a" * 300, "Monday, 30 December 2025 " * 400, "9" * 20_000, "\\d\\s\\w [^\\w\\s]", "tab\there", "\x00\x7f",
]

PAGE_JS = """
window.TE_MODEL = Engine.loadModel(window.TE_MODELS.dates);
window.TE_TEST = {
  floats: (b64) => new Float32Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer),
  doubles: (b64) => new Float64Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer),
  flat: (nested) => {  // nested arrays / typed arrays -> one plain list of numbers, in C order
    const out = [];
    const walk = (x) => { if (typeof x === 'number') out.push(x); else for (const y of x) walk(y); };
    walk(nested);
    return out;
  },
  worst: () => ({max: 0, count: 0, at: null}),
  compare: (acc, got, want, where) => {  // acc.max = max |got - want|; NaN or a length mismatch is Infinity
    if (got.length !== want.length) {
      acc.max = Infinity;
      acc.at = {where, lengths: [got.length, want.length]};
      return;
    }
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= acc.max)) {
        acc.max = Number.isNaN(d) ? Infinity : d;
        acc.at = {where, index: i, got: got[i], want: want[i]};
      }
    }
    acc.count += got.length;
  },
};
"""


class FileLog(PageLog):
    """PageLog for a page opened from file://: files on this machine are local too; anything else is refused."""

    def _local(self, url: str) -> bool:
        return urlsplit(url).scheme == "file" or super()._local(url)


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ref():
    """The model in Python, and fresh dates with their source ids."""
    model, (src_tok, tgt_tok), extra = load_checkpoint(CHECKPOINT)
    assert extra["data_seed"] != FRESH_SEED
    checkpoint_held_out = {s for s, _ in make_dataset("dates", 1, extra["n_test"], seed=extra["data_seed"])[1]}
    pairs = [p for p in make_dataset("dates", 1, N_GREEDY + 100, seed=FRESH_SEED)[1] if p[0] not in checkpoint_held_out]
    assert len(pairs) >= N_GREEDY
    texts = [s for s, _ in pairs[:N_GREEDY]]
    return {"model": model.eval(), "src": src_tok, "tgt": tgt_tok, "texts": texts,
            "ids": [src_tok.encode(t) for t in texts], "targets": [t for _, t in pairs[:N_GREEDY]]}


def _engine_pages(browser, folder, asset, title, page_js, loaded):
    """Two pages opened from file:// (in `folder`) with `asset` and the engine loaded (window.TE_MODEL), each in a
    context of its own, so in a renderer process of its own: the long checks split their work between the two
    and use both cores (see `_start`). `loaded` is a JavaScript expression true once the model is there. A
    generator: the fixtures below yield what it yields, then it checks that the pages logged no error and asked
    for nothing but their three files."""
    for path in (asset, ENGINE):
        assert path.exists(), f"{path} is missing (the asset: `make book`)"
    html = folder / "engine.html"
    html.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script src="{asset.as_uri()}"></script>
<script src="{ENGINE.as_uri()}"></script>
<script>{page_js}</script>
</head><body></body></html>
""", encoding="utf-8")
    opened = []
    for _ in range(2):
        context = browser.new_context()
        page = context.new_page()
        log = FileLog(page)
        page.goto(html.as_uri(), wait_until="load")
        assert page.evaluate(loaded), "\n".join(log.errors) or "no model loaded"
        opened.append((context, page, log))
    yield [page for _, page, _ in opened]
    for context, _, log in opened:
        log.assert_clean()
        assert {urlsplit(u).path for u in log.requests} == {p.as_posix() for p in (asset, ENGINE, html)}
        context.close()


@pytest.fixture(scope="module")
def pages(browser, tmp_path_factory):  # noqa: F811
    """Two pages with the date model's asset and the engine (`_engine_pages`)."""
    yield from _engine_pages(browser, tmp_path_factory.mktemp("engine"), ASSET, "engine parity", PAGE_JS,
                             "typeof window.TE_MODEL === 'object'")


@pytest.fixture(scope="module")
def page(pages):
    return pages[0]


def _start(pages, js_function: str, items: list, extra=None) -> list:
    """Start js_function(chunk, extra) in every page at once, the items cut into contiguous chunks, and return
    at once (the pages compute while Python does something else). `_collect` waits for the results."""
    size = -(-len(items) // len(pages))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    for page, chunk in zip(pages, chunks):
        page.evaluate("""([source, chunk, extra]) => {
          window.teJob = new Promise((resolve, reject) => setTimeout(() => {
            try { resolve((0, eval)(`(${source})`)(chunk, extra)); } catch (e) { reject(e); }
          }, 0));
        }""", [js_function, chunk, extra])
    return pages[:len(chunks)]


def _collect(started: list) -> list:
    """The results of `_start`, one list per page in the order of the chunks."""
    return [page.evaluate("() => window.teJob") for page in started]


def _run(pages, js_function: str, items: list, extra=None) -> list:
    """js_function(chunk, extra) must return a list, one result per item: all the results, in order."""
    return [x for part in _collect(_start(pages, js_function, items, extra)) for x in part]


def _b64(*tensors: torch.Tensor) -> str:
    """Tensors as one base64 string of little-endian float32 or float64 (as they are: the values exactly),
    flattened in C order."""
    return base64.b64encode(b"".join(t.detach().contiguous().numpy().astype(f"<f{t.element_size()}").tobytes()
                                     for t in tensors)).decode("ascii")


def _strip(row: list[int], eos_id: int = 2, pad_id: int = 0) -> list[int]:
    """A decoded row up to and including its EOS (the engine's ids), without the padding after it."""
    return row[:row.index(eos_id) + 1] if eos_id in row else [i for i in row if i != pad_id]


def _grouped(run, *columns: list[list[int]]) -> list:
    """run(*tensors (B, L_i)) -> one result per row, run on batches of rows whose lists have the same lengths:
    no padding anywhere, and a decoding function's default max_len (source length + 50) is each sentence's
    own, as in the engine (with padding it would follow the longest source of the batch)."""
    out: list = [None] * len(columns[0])
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(zip(*columns)):
        groups.setdefault(tuple(map(len, row)), []).append(i)
    for rows in groups.values():
        for i, result in zip(rows, run(*(torch.tensor([col[i] for i in rows]) for col in columns))):
            out[i] = result
    return out


def _greedy(model, sources: list[list[int]]) -> list[list[int]]:
    return _grouped(lambda src: [_strip(r) for r in greedy_decode(model, src).tolist()], sources)


KINDS = ("encoder_self", "decoder_self", "cross")


def _teacher_forced(model, sources: list[list[int]], targets: list[list[int]]) -> list[list[torch.Tensor]]:
    """Per sentence: [logits (T, V), encoder_self (N, H, S, S), decoder_self (N, H, T, T), cross (N, H, T, S)]."""
    def run(src, tgt):
        with torch.no_grad():
            logits, weights = model(src, tgt, return_attention=True)
        stacked = [torch.stack(getattr(weights, kind), dim=1) for kind in KINDS]  # (B, N, H, ., .) each
        return [[logits[b]] + [w[b] for w in stacked] for b in range(src.shape[0])]
    return _grouped(run, sources, targets)


# ---------------------------------------------------------------------------------------------- parity

def test_logits_and_every_attention_weight_match_torch(pages, ref):
    """Against the checkpoint in torch (float32), and against the same weights run by torch in float64, which
    is what the engine computes: that second comparison shows the first one's differences are torch's float32
    rounding, and would catch an error far below the float32 tolerances."""
    model, sources = ref["model"], ref["ids"][:N_PARITY]
    model64 = copy.deepcopy(model).double()  # the float32 weights (and position table) as float64, unchanged
    targets = [g[:-1] for g in _greedy(model, sources)]  # teacher forcing on torch's greedy output
    cases, expected_counts = [], Counter()
    references = zip(_teacher_forced(model, sources, targets), _teacher_forced(model64, sources, targets))
    for src, tgt, (parts, parts64) in zip(sources, targets, references):
        cases.append({"src": src, "tgt": tgt, "ref": _b64(*parts), "ref64": _b64(*parts64),
                      "sizes": [p.numel() for p in parts]})
        expected_counts.update(dict(zip(("logits",) + KINDS, (p.numel() for p in parts))))
    parts = _run(pages, """(cases) => {
      const m = window.TE_MODEL, T = window.TE_TEST, kinds = ['logits', 'encoder_self', 'decoder_self', 'cross'];
      const acc = {float32: {}, float64: {}};
      kinds.forEach((k) => { acc.float32[k] = T.worst(); acc.float64[k] = T.worst(); });
      cases.forEach((c) => {
        const enc = Engine.encode(m, c.src), dec = Engine.decode(m, c.tgt, enc.memory);
        const got = [dec.logits, enc.weights.encoder_self, dec.weights.decoder_self, dec.weights.cross].map(T.flat);
        const want = {float32: T.floats(c.ref), float64: T.doubles(c.ref64)};
        let offset = 0;
        kinds.forEach((k, i) => {
          for (const type of ['float32', 'float64']) {
            T.compare(acc[type][k], got[i], want[type].subarray(offset, offset + c.sizes[i]), {src: c.src, kind: k});
          }
          offset += c.sizes[i];
        });
      });
      return [acc];
    }""", cases)
    for dtype, tolerances in (("float32", {"logits": LOGITS_ATOL, **dict.fromkeys(KINDS, WEIGHTS_ATOL)}),
                              ("float64", dict.fromkeys(("logits",) + KINDS, FLOAT64_ATOL))):
        result = {kind: max((part[dtype][kind] for part in parts), key=lambda acc: acc["max"]) for kind in tolerances}
        print(f"torch {dtype}:", {kind: f"{acc['max']:.2e}" for kind, acc in result.items()})  # shown with -s
        for kind, acc in result.items():
            count = sum(part[dtype][kind]["count"] for part in parts)
            assert count == expected_counts[kind], f"{kind}: compared {count} of {expected_counts[kind]} numbers"
            assert acc["max"] <= tolerances[kind], (f"{kind}: |engine - torch {dtype}| = {acc['max']:.3g} > "
                                                    f"{tolerances[kind]:g} at {acc['at']}")
    assert len(cases) >= 200 and expected_counts["encoder_self"] > 10 ** 5


def test_positions_are_torchs_float32_table(page, ref):
    config = ref["model"].config
    got = page.evaluate("([L, D]) => TE_TEST.flat(Engine.sinusoidalTable(L, D))", [config.max_len, config.d_model])
    want = sinusoidal_table(config.max_len, config.d_model).reshape(-1).tolist()
    assert got == want  # both float64 sin and cos rounded to float32: the same values bit for bit


def test_greedy_ids_equal_torchs_on_1000_dates(pages, ref):
    started = _start(pages, """(sources) => sources.map((ids) => {
      const out = Engine.greedyDecode(window.TE_MODEL, ids).ids;
      return {ids: out, text: Engine.decodeIds(window.TE_MODEL.tokenizers.tgt, out)};
    })""", ref["ids"])
    want = _greedy(ref["model"], ref["ids"])  # while the pages decode
    got = [x for part in _collect(started) for x in part]
    assert len(got) == len(want) >= 1000
    differ = [(ref["texts"][i], g["ids"], w) for i, (g, w) in enumerate(zip(got, want)) if g["ids"] != w]
    assert not differ, f"{len(differ)} of {len(want)} dates decode differently (text, engine, torch): {differ[:5]}"
    texts = [ref["tgt"].decode(w) for w in want]
    assert [g["text"] for g in got] == texts  # decodeIds joins as Tokenizer.decode does
    assert sum(t == y for t, y in zip(texts, ref["targets"])) >= 0.99 * len(texts)  # and the model is right


def test_cached_decoding_equals_decoding_the_whole_prefix(pages, ref):
    """Engine.decode with a key/value cache (Engine.newCache()), one token at a time, gives the logits that
    decoding the whole prefix at once gives (kv_cache.py's promise, in float64)."""
    sources = ref["ids"][:100]
    cases = [[src, out[:-1]] for src, out in zip(sources, _greedy(ref["model"], sources))]
    got = _run(pages, """(cases) => cases.map(([src, tgt]) => {
      const m = window.TE_MODEL, T = window.TE_TEST, acc = T.worst(), memory = Engine.encode(m, src).memory;
      const whole = Engine.decode(m, tgt, memory).logits, cache = Engine.newCache();
      tgt.forEach((id, t) => T.compare(acc, T.flat(Engine.decode(m, [id], memory, {cache: cache}).logits),
                                       T.flat([whole[t]]), {src: src, t: t}));
      return acc;
    })""", cases)
    assert [acc["count"] for acc in got] == [len(tgt) * ref["model"].config.tgt_vocab_size for _, tgt in cases]
    worst = max(got, key=lambda acc: acc["max"])
    print(f"cached decoding: max |step by step - whole prefix| = {worst['max']:.2e}")
    assert worst["max"] <= FLOAT64_ATOL, worst


# ---------------------------------------------------------------------------------------------- tokenizer

def _encode_in_page(page, texts: list[str], tokenizer: dict | None = None) -> list[dict]:
    return page.evaluate("""([texts, tokenizer]) => {
      const t = tokenizer || window.TE_MODEL.tokenizers.src;
      return texts.map((text) => Engine.encodeText(t, text));
    }""", [texts, tokenizer])


def _assert_same_encoding(got: list[dict], texts: list[str], tokenizer) -> None:
    for text, g in zip(texts, got, strict=True):
        pieces, ids = tokenizer.tokenize(text), tokenizer.encode(text)
        label = repr(text if len(text) < 60 else text[:57] + "...")
        assert g["pieces"] == pieces, f"pieces of {label}"
        assert g["ids"] == ids, f"ids of {label}"
        assert g["unknown"] == [p for p, i in zip(pieces, ids) if i == UNK_ID], f"unknown pieces of {label}"


def test_source_ids_equal_the_python_tokenizer(page, ref):
    texts = ref["texts"] + AWKWARD
    got = _encode_in_page(page, texts)
    _assert_same_encoding(got, texts, ref["src"])
    assert sum(len(g["unknown"]) for g in got[len(ref["texts"]):]) > 50  # the awkward strings do reach <unk>
    assert all(g["unknown"] == [] for g in got[:len(ref["texts"])])


def test_default_word_pattern_cuts_as_python(page):
    """A tokenizer with WordTokenizer's default pattern (words, single punctuation marks), made in the page."""
    tokenizer = WordTokenizer.train(["Hello, world! 12 Dec 2020 café", "x_y ٣"])
    data = tokenizer_data(tokenizer)
    assert tokenizer.pattern == DEFAULT_PATTERN
    texts = AWKWARD + ["Hello, world!", "café-crème (½)"]
    _assert_same_encoding(_encode_in_page(page, texts, data), texts, tokenizer)


def _assigned_code_points() -> str:
    """Every code point that Python's Unicode database (unicodedata.unidata_version) assigns, surrogates aside."""
    return "".join(chr(c) for c in range(0x110000)
                   if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn")


def test_translated_classes_match_python_on_every_code_point(page):
    r"""What js_pattern writes for \d, \s and \w matches exactly the characters Python's re does, over every
    code point Python's Unicode database assigns. (Characters assigned in a later Unicode version than Python's
    are left out: the browser's database may know them, Python's does not.)"""
    text = _assigned_code_points()
    got = page.evaluate("""([text, classes]) => {
      const out = {};
      for (const [name, body] of Object.entries(classes)) {
        out[name] = Array.from(text.matchAll(new RegExp(`[${body}]`, 'gu')), (m) => m[0]).join('');
      }
      return out;
    }""", [text, _CLASSES])
    for name in _CLASSES:
        want = "".join(re.findall("\\" + name, text))
        extra, missing = sorted(set(got[name]) - set(want)), sorted(set(want) - set(got[name]))
        assert got[name] == want, (rf"\{name}: in JavaScript only {[hex(ord(c)) for c in extra][:20]}, "
                                   rf"in Python only {[hex(ord(c)) for c in missing][:20]}")
    assert len(text) > 250_000 and len(got["w"]) > 100_000


# Patterns js_pattern accepts, and a text to cut with each: what it returns must compile in JavaScript (flag
# "u") and cut the text into the same pieces as Python's re. (What it refuses: tests/test_web_export.py.)
PATTERNS = [r"[A-Za-z]+|\d|[^\sA-Za-z\d]", DEFAULT_PATTERN, r"\d+|[^\d\s]+", r"[\w'-]+|\s", r"[\]\[]|\w", r"\\d",
            r"a|b|\.|\+|\*|\?|\(|\)|\[|\]|\{|\}|\||\^|\$|\/",
            # each read differently by the two languages as they stand; js_pattern writes out Python's meaning
            r"\w+|\-", r"\w+|\,", r"[]\d]", r"[^]\s]+", r".", r"\d+$", r"d{|\d{2}|x{,2}|e{}"]
CUT_TEXT = "Hello, world!\r\n12 Dec 2020\u2028x-y 'q' ٣３ \\d .+*?()[]{}|^$/ end 42\n"


@pytest.mark.parametrize("pattern", PATTERNS)
def test_translated_patterns_cut_as_python(page, pattern):
    translated = js_pattern(pattern)
    got = page.evaluate("""([pattern, text]) => {
      try { return Array.from(text.matchAll(new RegExp(pattern, 'gu')), (m) => m[0]).filter((p) => p.length); }
      catch (e) { return 'SyntaxError: ' + e.message; }
    }""", [translated, CUT_TEXT])
    assert got == [m.group(0) for m in re.finditer(pattern, CUT_TEXT) if m.group(0)], translated


# decodeIds for a word tokenizer with a separator: no separator before a single punctuation mark, as in
# WordTokenizer._join, decided by the tokenizer's js_punctuation (pieces that are spaces in one language only
# would be decided wrongly by JavaScript's own \s).
JOIN_PIECES = ["Hello", ",", "world", "!", "12", "(", ")", "½", "٣", "x_y", "é", "-", "\ufeff", "\x1c", "\x85"]


@pytest.mark.parametrize("pieces", [
    ["Hello", ",", "world", "!"], ["(", "12", ")", "-", "½", "x_y", "٣", "é"], ["<unk>", "!", "<unk>", "Hello"],
    ["Hello", "\ufeff"], ["Hello", "\x1c"], ["Hello", "\x85"],  # a space in one language only
], ids=repr)
def test_decode_ids_joins_as_the_python_tokenizer(page, pieces):
    tokenizer = WordTokenizer(JOIN_PIECES, separator=" ")
    ids = [tokenizer.bos_id] + [tokenizer.token_to_id(p) for p in pieces] + [tokenizer.eos_id, tokenizer.pad_id]
    got = page.evaluate("([t, ids]) => Engine.decodeIds(t, ids)", [tokenizer_data(tokenizer), ids])
    assert got == tokenizer.decode(ids)


# ---------------------------------------------------------------------------------------------- sampling

def test_seeded_sampling(pages, ref):
    sources = ref["ids"][:20]
    started = _start(pages, """(sources) => {
      const m = window.TE_MODEL, s = (ids, o) => Engine.sample(m, ids, o).ids;
      return sources.map((ids) => ({
        twice: [s(ids, {seed: 5, temperature: 2, maxLen: 20}), s(ids, {seed: 5, temperature: 2, maxLen: 20})],
        seeds: [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => s(ids, {seed: seed, temperature: 2, maxLen: 20})),
        cold: s(ids, {seed: 3, temperature: 1e-6}),
        top1: s(ids, {seed: 3, topK: 1, temperature: 5}),
        greedy: Engine.greedyDecode(m, ids).ids,
      }));
    }""", sources)
    greedy = _greedy(ref["model"], sources)
    got = [x for part in _collect(started) for x in part]
    assert all(g["twice"][0] == g["twice"][1] for g in got), "the same seed gave different samples"
    assert all(len({tuple(x) for x in g["seeds"]}) >= 2 for g in got), "8 seeds at temperature 2 gave one output"
    assert [g["greedy"] for g in got] == greedy
    assert [g["cold"] for g in got] == greedy, "temperature 1e-6 should decode greedily"
    assert [g["top1"] for g in got] == greedy, "top_k=1 should decode greedily, at any temperature"


def _assert_drawn_as_often_as(draws: list[int], probs: np.ndarray, what: str) -> None:
    """A chi-square test of len(draws) seeded draws against the probabilities torch gives: no token of
    probability 0 drawn, and the statistic (cells expected at least 5 times; the rest pooled into one) below
    the 1 - 1e-4 quantile of its distribution (Wilson and Hilferty's approximation)."""
    counts = np.bincount(draws, minlength=len(probs)).astype(float)
    expected = probs * len(draws)
    assert counts[expected == 0].sum() == 0, f"{what}: a token with probability 0 was drawn"
    big = expected >= 5
    observed_cells = np.append(counts[big], counts[~big].sum())
    expected_cells = np.append(expected[big], expected[~big].sum())
    keep = expected_cells > 0
    chi2 = float((((observed_cells - expected_cells) ** 2)[keep] / expected_cells[keep]).sum())
    k = int(keep.sum()) - 1  # degrees of freedom
    z = 3.719  # the standard normal's 1 - 1e-4 quantile
    critical = k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3
    print(f"{what}: chi-square {chi2:.1f}, {k} degrees of freedom, critical value {critical:.1f}")
    assert chi2 < critical, (f"{what}: chi-square {chi2:.1f} >= {critical:.1f} ({k} dof): {counts[big]} vs "
                             f"{expected[big]}")


def test_first_sampled_token_follows_torchs_probabilities(pages, ref):
    """Over 2,000 seeds, the engine's first token is drawn from the distribution torch computes for that step.

    At temperature 1 the trained model gives its first token 0.92 and each other token 0.0017 (label
    smoothing spreads the rest evenly); temperature 1.5 makes that 0.57 and 0.0087, so 2,000 draws expect 17 of
    each of the 52 other tokens. Chi-square test on the cells with at least 5 expected draws (the rest pooled), at
    significance 1e-4: the seeds are fixed,
    so the outcome is too, and a wrong distribution (say, a different temperature, or PAD and BOS not left
    out) fails it by far. The critical value is the Wilson-Hilferty approximation of the chi-square quantile."""
    model, src_ids, temperature, n = ref["model"], ref["ids"][0], 1.5, 2000
    with torch.no_grad():
        memory = model.encode(torch.tensor([src_ids]))
        logits = model.decode(torch.tensor([[model.config.bos_id]]), memory)[0, -1].double()
    logits[[model.config.pad_id, model.config.bos_id]] = float("-inf")  # as every decoding method does
    probs = tempered_probabilities(logits, temperature).numpy()
    assert probs.max() < 0.9 and (probs * n >= 5).sum() > 20, f"too peaked for this test: {np.sort(probs)[-5:]}"
    draws = _run(pages, """(seeds, [ids, temperature]) => seeds.map(
      (seed) => Engine.sample(window.TE_MODEL, ids, {seed: seed, temperature: temperature, maxLen: 1}).ids[1])""",
                 list(range(1, n + 1)), [src_ids, temperature])
    _assert_drawn_as_often_as(draws, probs, "first token")


def test_whole_samples_come_out_as_often_as_torch_says(pages, ref):
    """Later draws too, not only the first: at temperature 1, a sample is the greedy output with the probability
    torch gives that output (each step's probability among the tokens sampling may draw, PAD and BOS left
    out). Over 1,000 seeds for each of three dates, the number of samples equal to the greedy output must lie
    within 4.5 binomial standard deviations of that (the seeds are fixed, so the outcome is too). Seeds 0 to
    999: small neighbouring seeds are where a badly seeded generator shows (mulberry32 without scrambling its
    seed drew 7 second numbers below 0.005 among seeds 0-199, where 1 is expected)."""
    model, n = ref["model"], 1000
    for src_ids in ref["ids"][:3]:
        target = greedy_decode(model, torch.tensor([src_ids]))  # (1, 1 + n): BOS ... EOS
        with torch.no_grad():
            logits = model(torch.tensor([src_ids]), target[:, :-1])[0].double()  # (T, V)
        logits[:, [model.config.pad_id, model.config.bos_id]] = float("-inf")
        chosen = tempered_probabilities(logits, 1.0).gather(1, target[0, 1:, None])  # (T, 1)
        p = float(chosen.prod())
        hits = sum(_run(pages, """(seeds, [ids, want]) => seeds.map((seed) =>
          Engine.sample(window.TE_MODEL, ids, {seed: seed}).ids.join() === want.join())""",
                        list(range(n)), [src_ids, target[0].tolist()]))
        sd = math.sqrt(n * p * (1 - p))
        print(f"whole samples equal to greedy: {hits} of {n}, torch expects {n * p:.1f} +- {sd:.1f}")
        assert abs(hits - n * p) < 4.5 * sd, (hits, n * p, sd)


# ---------------------------------------------------------------------------------------------- beam search

BEAM_SETTINGS = [(k, alpha) for k in (1, 2, 4) for alpha in (0.6, 0.0)]


def test_beam_search_equals_torchs(pages, ref):
    model, sources = ref["model"], ref["ids"][:N_BEAM]
    started = _start(pages, """(sources, settings) => sources.map((ids) => settings.map(([k, a]) => {
      const r = Engine.beamSearch(window.TE_MODEL, ids, {beamSize: k, lengthPenalty: a});
      return [r.ids, r.score];
    }))""", sources, BEAM_SETTINGS)
    want = {}
    for k, alpha in BEAM_SETTINGS:  # while the pages search
        def run(src, k=k, alpha=alpha):
            ids, scores = beam_search(model, src, beam_size=k, length_penalty=alpha, return_scores=True)
            return [(_strip(r), s) for r, s in zip(ids.tolist(), scores.tolist())]
        want[k, alpha] = _grouped(run, sources)
    greedy = _greedy(model, sources)
    got = [x for part in _collect(started) for x in part]
    worst = 0.0
    assert len(got) == len(sources) >= 100 and all(len(row) == len(BEAM_SETTINGS) for row in got)
    for i, row in enumerate(got):
        for (k, alpha), (ids, score) in zip(BEAM_SETTINGS, row):
            want_ids, want_score = want[k, alpha][i]
            assert ids == want_ids, f"beam {k}, alpha {alpha}, {ref['texts'][i]!r}: engine {ids}, torch {want_ids}"
            worst = max(worst, abs(score - want_score))
            if k == 1:
                assert ids == greedy[i], f"beam size 1 is greedy decoding: {ref['texts'][i]!r}"
    print(f"beam scores: max |engine - torch| = {worst:.2e}")
    assert worst <= SCORE_ATOL, f"beam scores differ by {worst:.3g}"


# ---------------------------------------------------------------------------------------------- ablation

# On the first 100 fresh dates, ablating encoder head (1, 1) changes 6 greedy outputs, cross head (1, 2) none
# (its logits change), all heads of cross layer 1 every one (all of cross layer 0: none), the mix 2.
HEAD_SETS = {
    "one encoder head": [("encoder_self", 1, 1)],
    "one cross head": [("cross", 1, 2)],
    "all heads of cross layer 1": [("cross", 1, h) for h in range(4)],
    "all three kinds": [("encoder_self", 0, 3), ("decoder_self", 0, 3), ("cross", 1, 0), ("cross", 1, 3)],
    "none": [],
}


def test_ablation_equals_ablate_heads(pages, ref):
    model, sources = ref["model"], ref["ids"][:N_ABLATION]
    model64 = copy.deepcopy(model).double()
    cases, want = [], {}
    for name, heads in HEAD_SETS.items():
        with ablate_heads(model, heads):
            want[name] = _greedy(model, sources)
            targets = [g[:-1] for g in want[name]]
            logits = [parts[0] for parts in _teacher_forced(model, sources, targets)]
        with ablate_heads(model64, heads):
            logits64 = [parts[0] for parts in _teacher_forced(model64, sources, targets)]
        cases += [{"name": name, "ablate": heads, "src": src, "tgt": tgt, "ref": _b64(x), "ref64": _b64(x64),
                   "size": x.numel()} for src, tgt, x, x64 in zip(sources, targets, logits, logits64)]
    assert want["none"] == _greedy(model, sources)
    assert all(want[name] != want["none"] for name in ("one encoder head", "all heads of cross layer 1"))
    got = _run(pages, """(cases) => cases.map((c) => {
      const m = window.TE_MODEL, T = window.TE_TEST, acc = T.worst(), options = {ablate: c.ablate};
      const logits = T.flat(Engine.decode(m, c.tgt, Engine.encode(m, c.src, options).memory, options).logits);
      T.compare(acc, logits, T.floats(c.ref), c.src);
      const acc64 = T.worst(), effect = T.worst();  // effect: how far the ablation moves the logits
      T.compare(acc64, logits, T.doubles(c.ref64), c.src);
      T.compare(effect, logits, T.flat(Engine.decode(m, c.tgt, Engine.encode(m, c.src).memory).logits), c.src);
      return {max: acc.max, max64: acc64.max, count: acc.count, effect: effect.max,
              greedy: Engine.greedyDecode(m, c.src, options).ids};
    })""", cases)
    assert len(got) == len(cases) == len(HEAD_SETS) * N_ABLATION
    print("ablation logits: max |engine - torch|",
          {name: f"{max(g['max'] for c, g in zip(cases, got) if c['name'] == name):.2e}" for name in HEAD_SETS})
    for name in HEAD_SETS:
        rows = [(c, g) for c, g in zip(cases, got) if c["name"] == name]
        worst = max(g["max"] for _, g in rows)
        assert all(g["count"] == c["size"] for c, g in rows), f"{name}: not every logit compared"
        assert worst <= LOGITS_ATOL, f"{name}: logits differ from torch's by {worst:.3g}"
        worst64 = max(g["max64"] for _, g in rows)
        assert worst64 <= FLOAT64_ATOL, f"{name}: logits differ from torch's in float64 by {worst64:.3g}"
        effect = max(g["effect"] for _, g in rows)
        moved = effect > 1e-2 if HEAD_SETS[name] else effect == 0
        assert moved, f"{name}: the ablation moved the logits by {effect:.3g}"
        differ = [ref["texts"][i] for i, (_, g) in enumerate(rows) if g["greedy"] != want[name][i]]
        assert not differ, f"{name}: greedy output differs from torch's on {len(differ)} dates: {differ[:5]}"


# ---------------------------------------------------------------------------------------------- errors

ERROR_CASES = {  # label -> (JavaScript call, with `m` the model and `ids` a valid source; expected message)
    "empty source": ("Engine.greedyDecode(m, [])", "the source is empty: it needs at least one token"),
    "empty text": ("Engine.beamSearch(m, Engine.encodeText(m.tokenizers.src, '  ').ids)",
                   "the source is empty: it needs at least one token"),
    "long source": ("Engine.greedyDecode(m, Engine.encodeText(m.tokenizers.src, '1'.repeat(65)).ids)",
                    "the source has 65 tokens; this model has positions for at most 64"),
    "long source, encode": ("Engine.encode(m, Array(100).fill(8))",
                            "the source has 100 tokens; this model has positions for at most 64"),
    "id outside the vocabulary": ("Engine.greedyDecode(m, [8, 55])", "source id 55 is outside 0..54"),
    "beamSize 0": ("Engine.beamSearch(m, ids, {beamSize: 0})", "beamSize must be a whole number from 1 to 55, got 0"),
    "beamSize 2.5": ("Engine.beamSearch(m, ids, {beamSize: 2.5})",
                     "beamSize must be a whole number from 1 to 55, got 2.5"),
    "lengthPenalty -1": ("Engine.beamSearch(m, ids, {lengthPenalty: -1})",
                         "lengthPenalty must be a number >= 0, got -1"),
    "topK 0": ("Engine.sample(m, ids, {topK: 0})", "topK must be a whole number from 1 to 55, got 0"),
    "topK 56": ("Engine.sample(m, ids, {topK: 56})", "topK must be a whole number from 1 to 55, got 56"),
    "temperature 0": ("Engine.sample(m, ids, {temperature: 0})", "temperature must be a number > 0, got 0"),
    "temperature NaN": ("Engine.sample(m, ids, {temperature: NaN})", "temperature must be a number > 0, got NaN"),
    "temperature Infinity": ("Engine.sample(m, ids, {temperature: Infinity})",
                             "temperature must be a number > 0, got Infinity"),
    "maxLen 1000, greedy": ("Engine.greedyDecode(m, ids, {maxLen: 1000})",
                            "maxLen must be a whole number from 1 to 64, got 1000"),
    "maxLen 1000, sample": ("Engine.sample(m, ids, {maxLen: 1000})",
                            "maxLen must be a whole number from 1 to 64, got 1000"),
    "maxLen 1000, beam": ("Engine.beamSearch(m, ids, {maxLen: 1000})",
                          "maxLen must be a whole number from 1 to 64, got 1000"),
    "maxLen 0": ("Engine.greedyDecode(m, ids, {maxLen: 0})", "maxLen must be a whole number from 1 to 64, got 0"),
    "not an asset": ("Engine.loadModel({format: 'something else'})",
                     "not a model asset written by transformer_edu.web_export (format transformer_edu.web, version 1)"),
}


def test_errors_say_what_was_expected(page, ref):
    got = page.evaluate("""([cases, ids]) => {
      const m = window.TE_MODEL, out = {};
      for (const [label, call] of Object.entries(cases)) {
        try { new Function('m', 'ids', 'Engine', `return ${call};`)(m, ids, Engine); out[label] = 'no error'; }
        catch (e) { out[label] = (e instanceof Error ? '' : 'not an Error: ') + e.message; }
      }
      return out;
    }""", [{label: call for label, (call, _) in ERROR_CASES.items()}, ref["ids"][0]])
    assert got == {label: message for label, (_, message) in ERROR_CASES.items()}


# ---------------------------------------------------------------------------------------------- other models

@pytest.mark.parametrize("settings", [
    dict(norm_first=True, final_norm=True, activation="gelu", positional="learned", share_embeddings=False,
         n_heads=2, n_encoder_layers=1, n_decoder_layers=3),
    dict(norm_first=False, final_norm=True, activation="relu", positional="sinusoidal", share_embeddings=False,
         n_heads=8, n_encoder_layers=3, n_decoder_layers=1),
    dict(norm_first=True, final_norm=True, norm="rms", activation="swiglu", n_kv_heads=2, share_embeddings=False,
         n_heads=4, n_encoder_layers=2, n_decoder_layers=2),
], ids=["pre-ln-gelu-learned-untied", "post-ln-final-norm-8-heads", "rms-swiglu-grouped-query"])
def test_other_configurations_match_torch(page, settings):
    """Any encoder-decoder model of the package, not only the date model: a freshly initialized one with the
    later options (pre-LN, a final LayerNorm, GELU, learned positions, untied embeddings, a character target
    tokenizer; RMSNorm, SwiGLU and grouped-query attention, in the cross-attention too), exported by
    browser_asset and loaded from the evaluated asset."""
    from transformer_edu import Transformer, TransformerConfig
    from transformer_edu.data import build_tokenizers
    from transformer_edu.web_export import browser_asset

    torch.manual_seed(3)
    src_tok, tgt_tok = build_tokenizers("dates", shared=False)
    config = TransformerConfig.small(vocab_size=src_tok.vocab_size).replace(tgt_vocab_size=tgt_tok.vocab_size,
                                                                            **settings)
    model = Transformer(config).eval()
    texts = ["Wed 25 Nov 2026", "01/02/1903", "December 31, 1999"]
    sources = [src_tok.encode(t) for t in texts]
    targets = [[1, 5, 6, 7, 4, 5, 13], [1, 4], [1, 9, 9, 9, 9, 9, 9, 9, 9]]
    got = page.evaluate("""([asset, sources, targets]) => {
      const m = Engine.loadModel(asset);
      return sources.map((ids, i) => ({
        logits: Engine.decode(m, targets[i], Engine.encode(m, ids).memory).logits.map((r) => Array.from(r)),
        greedy: Engine.greedyDecode(m, ids, {maxLen: 12}).ids,
      }));
    }""", [browser_asset(model, (src_tok, tgt_tok), "variant"), sources, targets])
    with torch.no_grad():
        for i, (src, tgt) in enumerate(zip(sources, targets)):
            want = model(torch.tensor([src]), torch.tensor([tgt]))[0]
            assert torch.tensor(got[i]["logits"], dtype=torch.float32).sub(want).abs().max() < 2e-5
            assert got[i]["greedy"] == greedy_decode(model, torch.tensor([src]), max_len=12)[0].tolist()


# ---------------------------------------------------------------------------------------------- the GPT (gpt.py)
# The decoder-only model the same engine runs: Engine.gptForward (GPT.forward) and Engine.generation / generate
# (gpt.generate), on the shipped Shakespeare checkpoint, in pages of their own (GPT_ASSET loaded instead of the
# dates). Inputs: windows of the validation text (the checkpoint's held-out part, lm_data.split_text) and prompts
# cut from it. What is compared with torch: logits and attention weights (float32 and float64), greedy tokens
# exactly (through the context crop, with and without the cache), each step's probabilities against
# decoding.next_token_probabilities on the window the step saw, and, since the page's seeded generator is not
# torch's, the frequencies of sampled tokens against torch's probabilities (chi-square).
GPT_NAME = "shakespeare"
GPT_ASSET = ROOT / "book" / "_static" / "live" / f"{GPT_NAME}.js"
GPT_CHECKPOINT = ROOT / "transformer_edu" / "checkpoints" / f"{GPT_NAME}.pt"
N_GPT_WINDOWS, N_GPT_PROMPTS, GPT_PAST = 40, 8, 8  # GPT_PAST: steps each run makes past the context
# (temperature, top_k, top_p): the settings whose probabilities are compared step by step
GPT_SETTINGS = [(1.0, None, None), (0.7, 10, None), (1.3, None, 0.9), (0.5, 5, 0.8), (2.0, 40, 0.95)]


@pytest.fixture(scope="module")
def gpt_ref():
    """The GPT in Python, its tokenizer, validation windows and prompts (pieces of the held-out text)."""
    from transformer_edu.lm_data import shakespeare_text, split_text

    model, (tokenizer, _), _ = load_checkpoint(GPT_CHECKPOINT)
    assert type(model).__name__ == "GPT"
    _, validation = split_text(shakespeare_text())
    ids = tokenizer.encode(validation)
    n = model.config.max_len
    windows = [ids[i * 997:i * 997 + n] for i in range(N_GPT_WINDOWS)]  # spread over the held-out text
    lengths = [1, 5, 12, 30, n - 1, n, n + 1, 2 * n + 7]  # short, at the context's edge and past it
    prompts = [ids[5000 + 311 * i:5000 + 311 * i + lengths[i % len(lengths)]] for i in range(N_GPT_PROMPTS)]
    return {"model": model.eval(), "tokenizer": tokenizer, "windows": windows, "prompts": prompts}


@pytest.fixture(scope="module")
def gpt_pages(browser, tmp_path_factory):  # noqa: F811
    """Two pages with the GPT asset and the engine (`_engine_pages`)."""
    yield from _engine_pages(browser, tmp_path_factory.mktemp("engine_gpt"), GPT_ASSET, "engine parity, GPT",
                             PAGE_JS.replace("TE_MODELS.dates", f"TE_MODELS[{GPT_NAME!r}]"),
                             "window.TE_MODEL.kind === 'GPT'")


def _gpt_greedy(model, prompt: list[int], n: int) -> list[int]:
    from transformer_edu.gpt import generate
    return generate(model, torch.tensor([prompt]), n, temperature=None)[0].tolist()


def _past_context(model, prompt: list[int]) -> int:
    """How many new tokens take a prompt GPT_PAST steps past the context (cropping costs the page a whole
    window per step, so the runs stop soon after)."""
    return max(0, model.config.max_len - len(prompt)) + GPT_PAST


def test_gpt_logits_and_attention_match_torch(gpt_pages, gpt_ref):
    """GPT.forward on whole windows of the held-out text (T = max_len): the logits and every layer's and head's
    attention weights, against torch in float32 and in float64 (as test_logits_and_every_attention_weight_...);
    and the same logits again token by token through the engine's key/value cache."""
    model, windows = gpt_ref["model"], gpt_ref["windows"]
    model64 = copy.deepcopy(model).double()
    cases = []
    for ids in windows:
        x = torch.tensor([ids])
        with torch.no_grad():
            logits, weights = model(x, return_attention=True)
            logits64, weights64 = model64(x, return_attention=True)
        parts = [logits[0], torch.stack(weights.decoder_self, 1)[0]]  # (T, V), (N, H, T, T)
        parts64 = [logits64[0], torch.stack(weights64.decoder_self, 1)[0]]
        cases.append({"ids": ids, "ref": _b64(*parts), "ref64": _b64(*parts64), "sizes": [p.numel() for p in parts]})
    got = _run(gpt_pages, """(cases) => {
      const m = window.TE_MODEL, T = window.TE_TEST, kinds = ['logits', 'decoder_self'];
      const acc = {float32: {}, float64: {}, cached: T.worst()};
      kinds.forEach((k) => { acc.float32[k] = T.worst(); acc.float64[k] = T.worst(); });
      cases.forEach((c) => {
        const run = Engine.gptForward(m, c.ids);
        const got = [T.flat(run.logits), T.flat(run.weights.decoder_self)];
        const want = {float32: T.floats(c.ref), float64: T.doubles(c.ref64)};
        let offset = 0;
        kinds.forEach((k, i) => {
          for (const type of ['float32', 'float64']) {
            T.compare(acc[type][k], got[i], want[type].subarray(offset, offset + c.sizes[i]), {ids: c.ids, kind: k});
          }
          offset += c.sizes[i];
        });
        const cache = Engine.newCache();
        c.ids.forEach((id, t) => T.compare(acc.cached, T.flat(Engine.gptForward(m, [id], {cache: cache}).logits),
                                           T.flat([run.logits[t]]), {t: t}));
      });
      return [acc];
    }""", cases)
    n = sum(len(ids) for ids in windows)
    expected = {"logits": n * model.config.vocab_size,
                "decoder_self": sum(model.config.n_layers * model.config.n_heads * len(ids) ** 2 for ids in windows)}
    for dtype, tolerances in (("float32", {"logits": GPT_LOGITS_ATOL, "decoder_self": GPT_WEIGHTS_ATOL}),
                              ("float64", {"logits": FLOAT64_ATOL, "decoder_self": FLOAT64_ATOL})):
        result = {kind: max((part[dtype][kind] for part in got), key=lambda acc: acc["max"]) for kind in tolerances}
        print(f"GPT, torch {dtype}:", {kind: f"{acc['max']:.2e}" for kind, acc in result.items()})
        for kind, acc in result.items():
            assert sum(part[dtype][kind]["count"] for part in got) == expected[kind], kind
            assert acc["max"] <= tolerances[kind], (f"{kind}: |engine - torch {dtype}| = {acc['max']:.3g} > "
                                                    f"{tolerances[kind]:g} at {acc['at']}")
    cached = max((part["cached"] for part in got), key=lambda acc: acc["max"])
    print(f"GPT, cached step by step against the whole window: {cached['max']:.2e}")
    assert sum(part["cached"]["count"] for part in got) == expected["logits"]
    assert cached["max"] <= FLOAT64_ATOL, cached


def test_gpt_greedy_generation_equals_gpt_generate(gpt_pages, gpt_ref):
    """Greedy tokens exactly, after prompts of 1 to 2 max_len + 7 tokens, each run going GPT_PAST steps past the
    context: the cache while the text fits, then the last max_len tokens at every step (the crop); without the
    cache (useCache false, every step the whole text again) the same tokens."""
    model, prompts = gpt_ref["model"], gpt_ref["prompts"]
    cases = [[p, _past_context(model, p), i % 4 == 0] for i, p in enumerate(prompts)]  # a quarter without cache too
    started = _start(gpt_pages, """(cases) => cases.map(([ids, n, nocache]) => {
      const m = window.TE_MODEL, run = Engine.generate(m, ids, {maxNewTokens: n, temperature: null});
      return {ids: run.ids, starts: run.steps.map((s) => s.start), text: Engine.decodeIds(m.tokenizers.tgt, run.ids),
              nocache: nocache ? Engine.generate(m, ids, {maxNewTokens: n, temperature: null, useCache: false}).ids : null};
    })""", cases)
    want = [_gpt_greedy(model, p, n) for p, n, _ in cases]  # while the pages generate
    got = [x for part in _collect(started) for x in part]
    assert len(got) == len(prompts) == N_GPT_PROMPTS
    assert sum(g["nocache"] is not None for g in got) == 2
    for (prompt, n, _), g, w in zip(cases, got, want):
        assert g["ids"] == w, f"prompt of {len(prompt)} tokens: engine and gpt.generate differ"
        assert g["nocache"] in (None, w)
        assert g["text"] == gpt_ref["tokenizer"].decode(w)
        max_len = model.config.max_len  # the window of step t starts where the text exceeds the context
        assert g["starts"] == [max(0, len(prompt) + t - max_len) for t in range(n)]
        assert g["starts"][-1] > 0 and (len(prompt) >= max_len or g["starts"][0] == 0)


def test_gpt_step_probabilities_equal_next_token_probabilities(gpt_pages, gpt_ref):
    """For every step of seeded samples under each of GPT_SETTINGS: `drawn` (what the engine draws from)
    equals decoding.next_token_probabilities of torch's logits on the window that step saw (temperature, top-k,
    top-p), zeros in the same places, and `probs` equals softmax(logits)."""
    from transformer_edu.decoding import next_token_probabilities

    model, prompts = gpt_ref["model"], [gpt_ref["prompts"][i] for i in (0, 7)]  # 1 and 2 max_len + 7 tokens
    cases = [[p, setting, seed, _past_context(model, p)] for p in prompts for seed, setting in enumerate(GPT_SETTINGS)]
    got = _run(gpt_pages, """(cases) => cases.map(([ids, [t, k, p], seed, n]) => {
      const run = Engine.generate(window.TE_MODEL, ids, {maxNewTokens: n, temperature: t, topK: k, topP: p, seed: seed});
      return {ids: run.ids, steps: run.steps.map((s) => [s.start, Array.from(s.drawn), Array.from(s.probs), s.chosen])};
    })""", cases)
    worst, worst_probs, kept, differ = 0.0, 0.0, [], []
    for (prompt, (temperature, top_k, top_p), _, _), g in zip(cases, got):
        ids = g["ids"]
        for t, (start, drawn, probs, chosen) in enumerate(g["steps"]):
            window = torch.tensor([ids[start:len(prompt) + t]])
            with torch.no_grad():
                logits = model(window)[0, -1]  # (V,)
            want = next_token_probabilities(logits, temperature, top_k, top_p)
            drawn = torch.tensor(drawn, dtype=torch.float64)
            worst = max(worst, float((drawn - want.double()).abs().max()))
            worst_probs = max(worst_probs, float((torch.tensor(probs) - logits.double().softmax(-1)).abs().max()))
            if not torch.equal(drawn > 0, want > 0):
                differ.append((temperature, top_k, top_p, t))
            kept.append(int((drawn > 0).sum()))
            assert drawn[chosen] > 0 and ids[len(prompt) + t] == chosen
    print(f"GPT step probabilities: max |engine - torch| {worst:.2e} (drawn), {worst_probs:.2e} (softmax); "
          f"tokens kept per step {min(kept)} to {max(kept)}")
    assert not differ, f"the kept tokens differ at {differ[:5]}"
    assert worst <= PROBS_ATOL and worst_probs <= PROBS_ATOL
    assert min(kept) == 1 and max(kept) == model.config.vocab_size  # the filters did cut (and did not)


def test_gpt_first_sampled_token_follows_torchs_probabilities(gpt_pages, gpt_ref):
    """Over 2,000 seeds, the engine's first sampled token (temperature 1.3, top-k 12, top-p 0.95) follows
    next_token_probabilities in torch: chi-square at significance 1e-4, as
    test_first_sampled_token_follows_torchs_probabilities (the seeds are fixed, so the outcome is too); a token
    the filters removed is never drawn. (The filters' probabilities themselves: the test above.)"""
    from transformer_edu.decoding import next_token_probabilities

    temperature, top_k, top_p = 1.3, 12, 0.95
    model, prompt, n = gpt_ref["model"], gpt_ref["prompts"][0], 2000  # one token: 2,000 short runs
    with torch.no_grad():
        logits = model(torch.tensor([prompt[-model.config.max_len:]]))[0, -1].double()
    probs = next_token_probabilities(logits, temperature, top_k, top_p).numpy()
    assert 5 < (probs * n >= 5).sum() and probs.max() < 0.9, f"unsuited to this test: {np.sort(probs)[-8:]}"
    assert 0 < (probs == 0).sum() and (probs > 0).sum() < top_k, "the filters should remove tokens here"
    draws = _run(gpt_pages, """(seeds, [ids, t, k, p]) => seeds.map((seed) => Engine.generate(window.TE_MODEL, ids,
      {maxNewTokens: 1, temperature: t, topK: k, topP: p, seed: seed}).ids.at(-1))""",
                 list(range(n)), [prompt, temperature, top_k, top_p])
    _assert_drawn_as_often_as(draws, probs, f"GPT first token ({temperature}, {top_k}, {top_p})")


def test_gpt_seeded_sampling(gpt_pages, gpt_ref):
    """The same seed gives the same text; other seeds other texts; temperature 1e-6, top-k 1 and a tiny top-p
    each give greedy generation (at any temperature)."""
    prompts, n = gpt_ref["prompts"][:3], 30
    got = _run(gpt_pages, """(prompts, n) => prompts.map((ids) => {
      const g = (o) => Engine.generate(window.TE_MODEL, ids, {maxNewTokens: n, ...o}).ids;
      return {twice: [g({seed: 5, temperature: 1.5}), g({seed: 5, temperature: 1.5})],
              seeds: [1, 2, 3, 4].map((seed) => g({seed: seed, temperature: 1.5})),
              cold: g({temperature: 1e-6, seed: 3}), top1: g({topK: 1, temperature: 5, seed: 3}),
              nucleus: g({topP: 1e-9, temperature: 5, seed: 3}), greedy: g({temperature: null})};
    })""", prompts, n)
    want = [_gpt_greedy(gpt_ref["model"], p, n) for p in prompts]
    for g, w in zip(got, want):
        assert g["twice"][0] == g["twice"][1] and len({tuple(x) for x in g["seeds"]}) >= 2
        assert g["greedy"] == g["cold"] == g["top1"] == g["nucleus"] == w


GPT_ERROR_CASES = {  # label -> (JavaScript call, with `m` the GPT, `ids` a prompt; the message expected)
    "encode a GPT": ("Engine.encode(m, ids)", "encode runs a Transformer; this model is a GPT: use gptForward and generate"),
    "greedyDecode a GPT": ("Engine.greedyDecode(m, ids)",
                           "encode runs a Transformer; this model is a GPT: use gptForward and generate"),
    "empty prompt": ("Engine.generate(m, [])", "the prompt is empty: it needs at least one token"),
    "id outside": ("Engine.generate(m, [5, m.config.vocab_size])", "prompt id VOCAB is outside 0..LAST"),
    "long input": ("Engine.gptForward(m, Array(MAXLEN + 1).fill(5))",
                   "the input has MAXLEN1 tokens; this model has positions for at most MAXLEN"),
    "long input, cached": ("(() => { const c = Engine.newCache(); Engine.gptForward(m, Array(MAXLEN).fill(5), {cache: c}); "
                           "return Engine.gptForward(m, [5], {cache: c}); })()",
                           "the input has MAXLEN1 tokens; this model has positions for at most MAXLEN"),
    "maxNewTokens -1": ("Engine.generate(m, ids, {maxNewTokens: -1})", "maxNewTokens must be a whole number >= 0, got -1"),
    "maxNewTokens 1.5": ("Engine.generate(m, ids, {maxNewTokens: 1.5})",
                         "maxNewTokens must be a whole number >= 0, got 1.5"),
    "temperature 0": ("Engine.generate(m, ids, {temperature: 0})", "temperature must be a number > 0, got 0"),
    "topK 0": ("Engine.generate(m, ids, {topK: 0})", "topK must be a whole number from 1 to VOCAB, got 0"),
    "topK 0, greedy": ("Engine.generate(m, ids, {topK: 0, temperature: null})",
                       "topK must be a whole number from 1 to VOCAB, got 0"),
    "topP 0": ("Engine.generate(m, ids, {topP: 0})", "topP must be a number in (0, 1], got 0"),
    "topP 1.5": ("Engine.generate(m, ids, {topP: 1.5})", "topP must be a number in (0, 1], got 1.5"),
    "topP NaN": ("Engine.generate(m, ids, {topP: NaN})", "topP must be a number in (0, 1], got NaN"),
}


def test_gpt_errors_say_what_was_expected(gpt_page_and_dates):
    page, gpt, dates = gpt_page_and_dates
    c = gpt.config
    want = {label: message.replace("VOCAB", str(c.vocab_size)).replace("LAST", str(c.vocab_size - 1))
            .replace("MAXLEN1", str(c.max_len + 1)).replace("MAXLEN", str(c.max_len))
            for label, (_, message) in GPT_ERROR_CASES.items()}
    calls = {label: call.replace("MAXLEN", str(c.max_len)) for label, (call, _) in GPT_ERROR_CASES.items()}
    calls["Transformer: gptForward"] = "Engine.gptForward(d, [5])"
    want["Transformer: gptForward"] = "gptForward runs a GPT; this model is a Transformer: use encode, decode and the " \
                                      "decoding functions"
    calls["Transformer: generate"] = "Engine.generate(d, [5])"
    want["Transformer: generate"] = "generate runs a GPT; this model is a Transformer: use encode, decode and the " \
                                    "decoding functions"
    got = page.evaluate("""([cases, asset]) => {
      const m = window.TE_MODEL, d = Engine.loadModel(asset), ids = [5, 6, 7], out = {};
      for (const [label, call] of Object.entries(cases)) {
        try { new Function('m', 'd', 'ids', 'Engine', `return ${call};`)(m, d, ids, Engine); out[label] = 'no error'; }
        catch (e) { out[label] = (e instanceof Error ? '' : 'not an Error: ') + e.message; }
      }
      return out;
    }""", [calls, dates])
    assert got == want


@pytest.fixture(scope="module")
def gpt_page_and_dates(gpt_pages, gpt_ref):
    from transformer_edu.web_export import browser_asset
    dates_model, tokenizers, _ = load_checkpoint(CHECKPOINT)
    return gpt_pages[0], gpt_ref["model"], browser_asset(dates_model, tokenizers, "dates")


@pytest.mark.parametrize("settings", [
    dict(norm_first=True, final_norm=True, activation="gelu", positional="sinusoidal", share_embeddings=False,
         n_heads=2, n_layers=3),
    dict(norm_first=False, final_norm=False, activation="relu", positional="learned", share_embeddings=True,
         n_heads=8, n_layers=1, attention_kernel="sdpa"),
    dict(norm_first=True, final_norm=True, norm="rms", activation="swiglu", n_kv_heads=2, positional="rope",
         n_heads=4, n_layers=2),
    dict(n_kv_heads=1, positional="rope", n_heads=4, n_layers=2),
], ids=["pre-ln-gelu-sinusoidal-untied", "post-ln-learned-8-heads-sdpa", "rms-swiglu-grouped-query-rope",
        "multi-query-rope"])
def test_other_gpt_configurations_match_torch(page, settings):
    """Any GPT of the package, freshly initialized, with a context of 16 so that 40 new tokens go past it
    (the cache, then the crop): logits, and greedy generation equal to gpt.generate. Chapter 17's changes
    too: RMSNorm, SwiGLU, grouped-query and multi-query attention, rotary positions."""
    from transformer_edu.gpt import GPT, GPTConfig
    from transformer_edu.tokenizer import CharTokenizer
    from transformer_edu.web_export import browser_asset

    torch.manual_seed(4)
    tokenizer = CharTokenizer.train("To be, or not to be, that is the question.")
    model = GPT(GPTConfig.small(vocab_size=tokenizer.vocab_size, d_model=32, d_ff=64, max_len=16,
                                **settings)).eval()
    prompts = [tokenizer.encode(t) for t in ("To be", "q", "that is the question, or not")]
    got = page.evaluate("""([asset, prompts]) => {
      const m = Engine.loadModel(asset);
      return prompts.map((ids) => ({logits: Engine.gptForward(m, ids.slice(-16)).logits.map((r) => Array.from(r)),
        greedy: Engine.generate(m, ids, {maxNewTokens: 40, temperature: null}).ids}));
    }""", [browser_asset(model, (tokenizer, tokenizer), "variant"), prompts])
    with torch.no_grad():
        for prompt, g in zip(prompts, got):
            want = model(torch.tensor([prompt[-16:]]))[0]
            assert torch.tensor(g["logits"], dtype=torch.float32).sub(want).abs().max() < 2e-5
            assert g["greedy"] == _gpt_greedy(model, prompt, 40)
