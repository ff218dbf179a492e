"""The in-page engine (transformer_edu/viz/views/engine.js) in headless Chromium: how long a reader waits.

A page opened from file://, as a reader opens the built book, loads the shipped asset book/_static/live/dates.js
and engine.js with classic <script> tags, then Engine.loadModel(window.TE_MODELS.dates). Reported:
  - the sizes of the two files the page loads;
  - page start to model ready: performance.now() (milliseconds since the navigation started) once loadModel
    has returned, and the time spent in loadModel alone (base64 -> Float32Array, the sinusoidal table); the
    median over fresh pages, each in a new browser context;
  - per date, after a warm-up: Engine.greedyDecode and Engine.beamSearch with beam size 4 (the paper's
    settings: length penalty 0.6, at most source length + 50 tokens), median and 95th percentile. The engine
    runs one sentence at a time, with a key/value cache as chapter 12's (each hypothesis of the beam its own).
  - for comparison, torch's greedy_decode on the same dates one at a time (batch 1, key/value cache, one
    thread: the engine has one too).
Dates are fresh: make_dataset's held-out set for a seed other than the checkpoint's (0).

Then the same for the GPT the live generation view runs (book/_static/live/shakespeare.js, chapter 15): its file
size and load time, and Engine.generate's time per token, greedy, on prompts cut from the held-out text:
  - within the context: a prompt of 12 tokens and 52 new ones (key/value cache, one new token per step);
  - past the context: a prompt of max_len tokens and 20 new ones (the crop: every step runs the model on the
    last max_len tokens again, as gpt.generate does);
and torch's gpt.generate on the same prompts (batch 1, one thread). --gpt-prompts sets how many prompts.
It has no --device and stays on the CPU by design: the engine runs on the reader's CPU, so the fair comparison
is torch on one CPU thread.

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/engine_browser.py
    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/engine_browser.py --dates 50 --loads 3
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from playwright.sync_api import sync_playwright

from transformer_edu import greedy_decode, load_checkpoint, make_dataset

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "book" / "_static" / "live" / "dates.js"
ENGINE = ROOT / "transformer_edu" / "viz" / "views" / "engine.js"
CHECKPOINT = ROOT / "transformer_edu" / "checkpoints" / "dates.pt"
GPT_ASSET = ROOT / "book" / "_static" / "live" / "shakespeare.js"
GPT_CHECKPOINT = ROOT / "transformer_edu" / "checkpoints" / "shakespeare.pt"
CHROMIUM = os.environ.get("TE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # as tests/test_book_browser.py

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>engine benchmark</title>
<script src="{asset}"></script>
<script src="{engine}"></script>
<script>
  const scriptsLoaded = performance.now();
  window.TE_MODEL = Engine.loadModel(window.TE_MODELS.dates);
  const ready = performance.now();
  window.teLoad = {{scriptsLoaded: scriptsLoaded, loadModel: ready - scriptsLoaded, ready: ready}};
</script>
</head><body></body></html>
"""

# One call per method: warm-up dates first (not timed), then each date timed on its own.
TIME_JS = """([texts, warmup, method]) => {
  const m = window.TE_MODEL;
  const run = method === 'greedy' ? (ids) => Engine.greedyDecode(m, ids)
                                  : (ids) => Engine.beamSearch(m, ids, {beamSize: 4, lengthPenalty: 0.6});
  const sources = texts.map((t) => Engine.encodeText(m.tokenizers.src, t).ids);
  sources.slice(0, warmup).forEach(run);
  return sources.map((ids) => {
    const start = performance.now();
    const out = run(ids);
    return {ms: performance.now() - start, text: Engine.decodeIds(m.tokenizers.tgt, out.ids)};
  });
}"""


# Greedy generation, one call per prompt after one warm-up call: milliseconds per new token.
GPT_TIME_JS = """([prompts, n]) => {
  const m = window.TE_MODEL, run = (ids) => Engine.generate(m, ids, {maxNewTokens: n, temperature: null});
  run(prompts[0]);
  return prompts.map((ids) => {
    const start = performance.now();
    const out = run(ids);
    return {ms: (performance.now() - start) / n, ids: out.ids};
  });
}"""


def gpt_rows(browser, page_file: Path, prompts: int, loads: int) -> list[tuple[str, str]]:
    """The GPT's rows of the table (see the module docstring)."""
    from transformer_edu.gpt import generate
    from transformer_edu.lm_data import shakespeare_text, split_text

    page_file.write_text(PAGE.format(asset=GPT_ASSET.as_uri(), engine=ENGINE.as_uri()).replace(
        "TE_MODELS.dates", "TE_MODELS.shakespeare"), encoding="utf-8")
    model, (tokenizer, _), _ = load_checkpoint(GPT_CHECKPOINT)
    max_len = model.config.max_len
    ids = tokenizer.encode(split_text(shakespeare_text())[1])
    cases = {"within the context (12 + 52 tokens, cache)": (12, 52),
             f"past the context ({max_len} + 20 tokens, crop)": (max_len, 20)}
    times = []
    for _ in range(loads):
        context = browser.new_context()
        page = context.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        times.append(page.evaluate("window.teLoad"))
        context.close()
    rows = [("asset book/_static/live/shakespeare.js", f"{GPT_ASSET.stat().st_size:,} bytes"),
            ("GPT: page start -> model ready (Engine.loadModel)", f"{statistics.median(t['ready'] for t in times):.0f} "
             f"ms ({statistics.median(t['loadModel'] for t in times):.1f} ms)")]
    context = browser.new_context()
    page = context.new_page()
    page.goto(page_file.as_uri(), wait_until="load")
    for label, (length, n) in cases.items():
        chosen = [ids[1000 + 997 * i:1000 + 997 * i + length] for i in range(prompts)]
        timed = page.evaluate(GPT_TIME_JS, [chosen, n])
        torch_ms, same = [], 0
        for prompt, page_run in zip(chosen, timed):
            start = time.perf_counter()
            out = generate(model, torch.tensor([prompt]), n, temperature=None)
            torch_ms.append((time.perf_counter() - start) * 1e3 / n)
            same += out[0].tolist() == page_run["ids"]
        page_ms = [x["ms"] for x in timed]
        rows.append((f"Engine.generate per token, {label}",
                     f"median {statistics.median(page_ms):.1f} ms, p95 {percentile(page_ms, 95):.1f} ms"))
        rows.append((f"torch gpt.generate per token, {label}",
                     f"median {statistics.median(torch_ms):.2f} ms (same tokens: {same} of {len(chosen)})"))
    context.close()
    return rows


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dates", type=int, default=200, help="dates timed per method")
    parser.add_argument("--warmup", type=int, default=20, help="dates run first, not timed")
    parser.add_argument("--loads", type=int, default=5, help="fresh pages for the load times (median reported)")
    parser.add_argument("--seed", type=int, default=7, help="make_dataset seed of the dates (the checkpoint's is 0)")
    parser.add_argument("--gpt-prompts", type=int, default=10, help="prompts timed per GPT case (0: no GPT)")
    args = parser.parse_args()
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        raise SystemExit("chromium not found: install Debian's chromium (apt-get install chromium)")

    _, held_out = make_dataset("dates", 1, args.warmup + args.dates, seed=args.seed)
    texts = [source for source, _ in held_out]
    page_file = Path(tempfile.mkdtemp(prefix="te-engine-")) / "engine.html"
    page_file.write_text(PAGE.format(asset=ASSET.as_uri(), engine=ENGINE.as_uri()), encoding="utf-8")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        print(f"Chromium {browser.version}, torch {torch.__version__}, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{args.dates} fresh dates (seed {args.seed}) after {args.warmup} warm-up dates; "
              f"load times: median of {args.loads} fresh pages\n")
        loads = []
        for _ in range(args.loads):
            context = browser.new_context()
            page = context.new_page()
            page.goto(page_file.as_uri(), wait_until="load")
            loads.append(page.evaluate("window.teLoad"))
            context.close()
        context = browser.new_context()
        page = context.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        timed = {method: page.evaluate(TIME_JS, [texts, args.warmup, method])[args.warmup:]
                 for method in ("greedy", "beam")}
        context.close()
        torch.set_num_threads(1)
        gpt = gpt_rows(browser, page_file, args.gpt_prompts, args.loads) if args.gpt_prompts else []
        browser.close()
    shutil.rmtree(page_file.parent)

    model, (src_tok, tgt_tok), _ = load_checkpoint(CHECKPOINT)
    torch_ms, same = [], 0
    for i, text in enumerate(texts):
        start = time.perf_counter()
        ids = greedy_decode(model, torch.tensor([src_tok.encode(text)]))
        if i >= args.warmup:
            torch_ms.append((time.perf_counter() - start) * 1e3)
            same += tgt_tok.decode(ids[0].tolist()) == timed["greedy"][i - args.warmup]["text"]

    median = lambda key: statistics.median(x[key] for x in loads)  # noqa: E731
    rows = [
        ("asset book/_static/live/dates.js", f"{ASSET.stat().st_size:,} bytes"),
        ("engine transformer_edu/viz/views/engine.js", f"{ENGINE.stat().st_size:,} bytes"),
        ("page start -> scripts loaded", f"{median('scriptsLoaded'):.0f} ms"),
        ("Engine.loadModel alone", f"{median('loadModel'):.1f} ms"),
        ("page start -> model ready", f"{median('ready'):.0f} ms"),
    ]
    for label, values in (("Engine.greedyDecode per date", [x["ms"] for x in timed["greedy"]]),
                          ("Engine.beamSearch (beam 4) per date", [x["ms"] for x in timed["beam"]]),
                          ("torch greedy_decode per date (batch 1, 1 thread)", torch_ms)):
        rows.append((label, f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms"))
    rows += gpt
    width = max(len(label) for label, _ in rows)
    print(f"{'what':<{width}}  measured")
    print(f"{'-' * width}  {'-' * 36}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"\nengine and torch greedy outputs agree on {same} of {len(torch_ms)} dates")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
