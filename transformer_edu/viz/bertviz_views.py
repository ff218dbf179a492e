"""bertviz's head view and model view for our attention weights, working offline (paper section 3.2).

`head_view(attention, tokens, tgt_tokens)` and `model_view(...)` take either an `AttentionWeights` for one
example (`weights.example(i)`: encoder self-, decoder self- and cross-attention, each a list of per-layer
(1, H, L, L') tensors) or a plain list of per-layer (1, H, L, L) self-attention tensors (for example
Hugging Face's `outputs.attentions`). They return an `IPython.display.HTML` built by bertviz with
`html_action="return"`, changed in five ways:

- Weights are rounded to `decimals` places (3 by default): a page carries H x L x L' numbers per layer and
  kind, and bertviz writes each with all 17 digits of a float64 (tests/test_bertviz_views.py checks that the
  rounded page is under 30% of bertviz's own).
- The element id is derived from the content (plus a counter if the same view is shown twice in one
  kernel) instead of a random uuid, so re-executing a notebook gives byte-identical output and nbval
  needs no sanitizer for it.
- The data is written as JSON with `<`, `>` and `&` escaped, so a token such as `</script><img ...>`
  stays text: bertviz draws tokens with d3's `.text()`, which never parses HTML.
- The model view's fixed 970 px drawing is given a viewBox, so it shrinks to the page's width.
- bertviz's `<script src=cdnjs...require.js>` and its `require.config` pointing d3/jquery at cdnjs are
  removed. The drawing code runs through a small loader instead:
    1. In the built book every page already has require.js and book/_static/offline/require-config.js,
       which maps `d3` and `jquery` to the book's vendored copies (and sets `window.transformerEduOffline`):
       the view draws at once, from local files.
    2. In live Jupyter (JupyterLab 4 or Notebook 7, which have no require.js) the loader reads the server's
       base URL from the page's `jupyter-config-data` and loads require.js, d3 and jquery from this
       repository's book/_static/offline/ through the server's `files/` route, in a private require.js
       context. That path exists when the server's root is the repository root, which is how `make lab`
       starts JupyterLab.
    3. Otherwise (another root, VS Code, Colab) the output says how to make it work. It never falls back
       to a CDN, so nothing in a notebook output points at another host.
   As with any HTML output with a script, JupyterLab runs it only for trusted output: after running the
   cell yourself (or `jupyter trust` on the notebook).

The view's root element carries `data-bertviz-view="head"` or `"model"` (tests/test_book_browser.py finds
and drives it by that), inside a `div.te-bertviz` panel with its own light or dark background.

Shapes: encoder_self (1, H, S, S), decoder_self (1, H, T, T), cross (1, H, T, S) per layer; tokens has S
entries (the source), tgt_tokens T entries (the target). For a plain list, (1, H, L, L) and L tokens.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Sequence

import torch

from ..block import AttentionWeights
from ..checks import check_int

_KINDS = ("encoder_self", "decoder_self", "cross")
# bertviz draws black (light) or grey (dark) text without a background of its own: give it a panel, so it
# stays readable in the book's and JupyterLab's light and dark themes.
_PANEL = {"light": "background:#fff;color:#000;color-scheme:light",
          "dark": "background:#000;color:#ccc;color-scheme:dark"}
_used_ids: Counter = Counter()  # content hash -> times shown in this kernel


def _layers(name: str, layers, rows: int, cols: int) -> list[torch.Tensor]:
    """Check one list of per-layer weights against the token counts; return float64 tensors."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"{name}: expected a non-empty list of per-layer tensors, got {layers!r:.80}")
    out, heads = [], None
    for i, w in enumerate(layers):
        w = torch.as_tensor(w).detach()
        if w.dim() != 4 or w.shape[0] != 1:
            raise ValueError(f"{name}[{i}]: expected shape (1, H, {rows}, {cols}) (one example; use "
                             f"AttentionWeights.example(i)), got {tuple(w.shape)}")
        if tuple(w.shape[2:]) != (rows, cols):
            raise ValueError(f"{name}[{i}]: expected shape (1, H, {rows}, {cols}) to match the tokens, "
                             f"got {tuple(w.shape)}")
        if heads is not None and w.shape[1] != heads:
            raise ValueError(f"{name}[{i}]: expected {heads} heads like the other layers, got {w.shape[1]}")
        heads = w.shape[1]
        if not torch.isfinite(w).all():
            raise ValueError(f"{name}[{i}]: attention weights must be finite, got NaN or infinity")
        out.append(w.to(torch.float64).cpu())
    return out


def _tokens(name: str, tokens) -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{name}: expected a list of strings, got {tokens!r:.80}")
    return list(tokens)


def _bertviz_args(attention, tokens, tgt_tokens, kinds) -> dict:
    """Validated keyword arguments for bertviz's encoder-decoder or self-attention interface."""
    src = _tokens("tokens", tokens)
    if isinstance(attention, AttentionWeights):
        kinds = tuple(k for k in _KINDS if getattr(attention, k)) if kinds is None else tuple(kinds)
        if not kinds or any(k not in _KINDS for k in kinds):
            raise ValueError(f"kinds: expected a non-empty subset of {_KINDS}, got {kinds}")
        tgt = None if tgt_tokens is None else _tokens("tgt_tokens", tgt_tokens)
        if tgt is None and ("decoder_self" in kinds or "cross" in kinds):
            raise ValueError("tgt_tokens: the target tokens are needed to show decoder or cross attention, got None")
        shapes = {"encoder_self": (len(src), len(src)), "decoder_self": (len(tgt or []), len(tgt or [])),
                  "cross": (len(tgt or []), len(src))}
        names = {"encoder_self": "encoder_attention", "decoder_self": "decoder_attention", "cross": "cross_attention"}
        args = {names[k]: _layers(f"attention.{k}", getattr(attention, k), *shapes[k]) for k in kinds}
        counts = {k: (len(args[names[k]]), args[names[k]][0].shape[1]) for k in kinds}
        if len(set(counts.values())) > 1:
            raise ValueError(f"expected the same number of layers and heads in every kind shown, got (layers, heads) "
                             f"{counts}; choose some with kinds=")
        args["encoder_tokens"] = src if {"encoder_self", "cross"} & set(kinds) else None
        args["decoder_tokens"] = tgt if {"decoder_self", "cross"} & set(kinds) else None
        return args
    if tgt_tokens is not None or kinds is not None:
        raise ValueError("tgt_tokens and kinds apply to AttentionWeights only; a plain list is self-attention")
    return {"attention": _layers("attention", attention, len(src), len(src)), "tokens": src}


def _round(value, decimals: int):
    """Round every number in bertviz's nested lists; integral values are written as ints (0, 1)."""
    if isinstance(value, list):
        return [_round(v, decimals) for v in value]
    r = round(value, decimals)
    return int(r) if r == int(r) else r


def _escape_json(obj) -> str:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, code in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


_LOADER = """(function () {
  var root = document.getElementById(%(id)s);
  var vis = root.querySelector("#vis");
  // The model view draws at a fixed 970 px, wider than a book page: give each svg it draws a viewBox, so it
  // scales down to the page's width (never up) and every head stays in view. Drawing code and clicks keep
  // their coordinates; the head view, already 100%% wide, is left as it is.
  new MutationObserver(function () {
    var svg = vis.querySelector(":scope > svg");
    var w = svg && Number(svg.getAttribute("width")), h = svg && Number(svg.getAttribute("height"));
    if (!svg || svg.hasAttribute("viewBox") || !(w > 0 && h > 0)) return;
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("width", "100%%");
    svg.removeAttribute("height");
    svg.style.maxWidth = w + "px";
  }).observe(vis, {childList: true});
  function draw(requirejs) {
%(body)s
  }
  if (window.transformerEduOffline && window.requirejs) { draw(window.requirejs); return; }
  function fail(why) {
    root.querySelector("#vis").textContent = "This attention view needs require.js, d3 and jquery from the book's "
      + "book/_static/offline/ folder (" + why + "). Start JupyterLab from the repository root with `make lab`, "
      + "or read the chapter in the built book.";
  }
  var config = document.getElementById("jupyter-config-data");
  if (!config) { fail("no Jupyter server found on this page"); return; }
  var base = (JSON.parse(config.textContent).baseUrl || "/").replace(/\\/?$/, "/") + "files/book/_static/offline/";
  if (!window.transformerEduBertviz) {
    window.transformerEduBertviz = new Promise(function (resolve, reject) {
      function configure() {
        var req = window.requirejs.config({context: "transformer_edu_bertviz",
          paths: {d3: base + "d3/d3.min", jquery: base + "jquery/jquery.min"}});
        req(["jquery", "d3"], function () { resolve(req); }, reject);
      }
      if (window.requirejs) { configure(); return; }
      var script = document.createElement("script");
      script.src = base + "requirejs/require.js";
      script.onload = configure;
      script.onerror = function () { reject(new Error("cannot load " + script.src)); };
      document.head.appendChild(script);
    });
  }
  window.transformerEduBertviz.then(draw, function (err) { fail(String(err && err.message || err)); });
})();"""


def _offline(html: str, decimals: int, kind: str) -> str:
    """Rewrite bertviz's returned HTML: local scripts only, rounded weights, escaped JSON, stable id."""
    head, sep, rest = html.partition('<script type="text/javascript">')
    js, sep2, tail = rest.rpartition("</script>")
    if not (sep and sep2):
        raise RuntimeError("bertviz's output layout changed: no inline <script> found")
    head = re.sub(r'<script src="https?://[^"]*require[^"]*"></script>', "", head)
    js, n = re.subn(r"require\.config\(\{.*?\}\);", "", js, count=1, flags=re.S)
    marker = "const params = "
    start = js.find(marker)
    if n != 1 or start < 0:
        raise RuntimeError("bertviz's script layout changed: require.config or params not found")
    params, end = json.JSONDecoder().raw_decode(js, start + len(marker))
    # bertviz's template replaces "PYTHON_PARAMS" in a comment on the same line too, which repeats all the
    # data: keep the statement and drop the rest of that line.
    end = js.index("\n", end)
    old_id = params["root_div_id"]
    for entry in params["attention"]:
        entry["attn"] = _round(entry["attn"], decimals)
    params["root_div_id"] = ""
    digest = hashlib.sha256(f"{kind}:{decimals}:{json.dumps(params, sort_keys=True)}".encode()).hexdigest()[:16]
    _used_ids[digest] += 1
    new_id = f"bertviz-{digest}" + (f"-{_used_ids[digest]}" if _used_ids[digest] > 1 else "")
    params["root_div_id"] = new_id
    js = js[:start + len(marker)] + _escape_json(params) + ";" + js[end:]
    body = "\n".join(("    " + line).rstrip() for line in js.strip().splitlines())
    if "</script" in body.lower() or "<!--" in body:
        raise RuntimeError("bertviz's script contains a sequence that would end an HTML <script> early")
    head = head.replace(f'id="{old_id}"', f'id="{new_id}" data-bertviz-view="{kind}"')
    if old_id in head or old_id in body:
        raise RuntimeError("bertviz's output layout changed: its element id appears in an unexpected place")
    loader = _LOADER % {"id": json.dumps(new_id), "body": body}
    return (f'<div class="te-bertviz" style="{_PANEL["light"]};padding:6px;overflow-x:auto">'
            f"{head.strip()}\n<script>\n{loader}\n</script>\n</div>")


def _check_decimals(decimals) -> int:
    check_int("decimals", decimals, 1, 8)
    return decimals


def head_view(attention, tokens, tgt_tokens=None, *, kinds=None, layer: int | None = None,
              heads: Sequence[int] | None = None, decimals: int = 3):
    """bertviz's head view (lines from each token to the tokens it attends to, one colour per head).

    attention: AttentionWeights of one example, or a list of per-layer (1, H, L, L) tensors.
    tokens: source tokens (S) or, for a plain list, the sequence's tokens (L); tgt_tokens: target tokens (T).
    kinds: which of "encoder_self", "decoder_self", "cross" to offer (default: all present).
    layer, heads: initially selected layer and heads. Returns IPython.display.HTML.
    """
    import bertviz
    from IPython.display import HTML

    decimals = _check_decimals(decimals)
    args = _bertviz_args(attention, tokens, tgt_tokens, kinds)
    n_layers = len(next(v for k, v in args.items() if k.endswith("attention")))
    if layer is not None and not (isinstance(layer, int) and 0 <= layer < n_layers):
        raise ValueError(f"layer: expected an int in [0, {n_layers - 1}], got {layer!r}")
    out = bertviz.head_view(**args, layer=layer, heads=None if heads is None else list(heads), html_action="return")
    return HTML(_offline(out.data, decimals, "head"))


def model_view(attention, tokens, tgt_tokens=None, *, kinds=None, layers: Sequence[int] | None = None,
               heads: Sequence[int] | None = None, decimals: int = 3, display_mode: str = "light"):
    """bertviz's model view: a thumbnail of every head in every layer; click one to enlarge it.

    Arguments as for head_view; layers/heads restrict what is drawn (fewer is faster and smaller);
    display_mode "light" or "dark" (the view sits on a white panel in the book's light and dark themes).
    """
    import bertviz
    from IPython.display import HTML

    decimals = _check_decimals(decimals)
    if display_mode not in ("light", "dark"):
        raise ValueError(f"display_mode: expected 'light' or 'dark', got {display_mode!r}")
    args = _bertviz_args(attention, tokens, tgt_tokens, kinds)
    first = next(v for k, v in args.items() if k.endswith("attention") and v is not None)
    for name, chosen, size in (("layers", layers, len(first)), ("heads", heads, first[0].shape[1])):
        if chosen is not None and (not chosen or not all(isinstance(i, int) and 0 <= i < size for i in chosen)):
            raise ValueError(f"{name}: expected indices in [0, {size - 1}], got {chosen!r}")
    out = bertviz.model_view(**args, display_mode=display_mode, html_action="return",
                             include_layers=None if layers is None else list(layers),
                             include_heads=None if heads is None else list(heads))
    html = _offline(out.data, decimals, "model")
    if display_mode == "dark":
        html = html.replace(_PANEL["light"], _PANEL["dark"], 1)
    return HTML(html)
