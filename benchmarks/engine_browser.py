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
        browser.close()
    shutil.rmtree(page_file.parent)

    torch.set_num_threads(1)
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
    width = max(len(label) for label, _ in rows)
    print(f"{'what':<{width}}  measured")
    print(f"{'-' * width}  {'-' * 36}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"\nengine and torch greedy outputs agree on {same} of {len(torch_ms)} dates")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
