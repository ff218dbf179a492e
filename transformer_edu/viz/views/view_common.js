// transformer_edu views: helpers shared by every view. views/base.py puts this file in front of each view's own
// code and ends the module with `export default { render };`. No imports, no network.
// Every string that comes from data (tokens, labels) is set with textContent or as a plain attribute value;
// nothing is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg"; // the XML namespace name of SVG: an identifier, never fetched

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  return node;
}

// An HTML element with attributes, appended to parent, with optional literal text.
function make(tag, attrs, parent, text) {
  const node = setAttrs(document.createElement(tag), attrs);
  if (text !== undefined) node.textContent = String(text);
  if (parent) parent.appendChild(node);
  return node;
}

// An SVG element; text elements get fill="currentColor" unless told otherwise, so they follow the theme.
function makeSvg(tag, attrs, parent, text) {
  const node = setAttrs(document.createElementNS(SVG_NS, tag), attrs);
  if (tag === "text" && !(attrs && "fill" in attrs)) node.setAttribute("fill", "currentColor");
  if (text !== undefined) node.textContent = String(text);
  if (parent) parent.appendChild(node);
  return node;
}

// A hover tooltip (SVG <title>) whose text can be changed later through the returned node.
function tooltip(node, text) {
  return makeSvg("title", {}, node, text);
}

// A token as it is drawn in a label: control characters spelled out, long tokens shortened.
function shortToken(token, limit) {
  const shown = String(token).replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/\r/g, "\\r");
  const n = limit || 14;
  return shown.length <= n ? shown : shown.slice(0, n - 1) + "\u2026";
}

function quoted(token) {
  return "\u201c" + shortToken(token, 24) + "\u201d";
}

function fmt(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? "\u2013" : value.toFixed(digits);
}

// ---------- colour: viridis (sequential), RdBu reversed (diverging), Okabe-Ito (categories) ----------
const VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
  "#7ad151", "#bddf26", "#fde725"];
const RDBU_R = ["#053061", "#2065ab", "#4393c3", "#90c4dd", "#d1e5f0", "#f7f6f6", "#fddbc7", "#f3a481",
  "#d6604d", "#b1182b", "#67001f"];
const CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];
const CHIP_COLOURS = ["#cde6f7", "#fbe0a6", "#c9ecdf", "#f3d3e6", "#e4e4e4", "#f9d2bd"];

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  return a.map((c, k) => Math.round(c + f * (b[k] - c)));
}

function rgb(c) {
  return "rgb(" + c.join(",") + ")";
}

// Black or white, whichever contrasts more with the colour c = [r, g, b] (WCAG relative luminance).
function inkOn(c) {
  const lin = c.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  const L = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#000000" : "#ffffff";
}

function viridis(t) {
  return ramp(VIRIDIS, t);
}

// Signed value v in [-limit, limit]: blue for negative, near-white for 0, red for positive.
function diverging(v, limit) {
  return ramp(RDBU_R, 0.5 + v / (2 * (limit || 1)));
}

// ---------- numbers ----------
function softmax(row, allowed) {
  // softmax over the entries where allowed[j] is true; a row with nothing allowed gets zeros (as the package's
  // scaled_dot_product_attention returns for a fully masked row)
  let max = -Infinity;
  row.forEach((v, j) => { if (!allowed || allowed[j]) max = Math.max(max, v); });
  if (max === -Infinity) return row.map(() => 0);
  const e = row.map((v, j) => (!allowed || allowed[j] ? Math.exp(v - max) : 0));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function meanOf(matrices) {
  // element-wise mean of equally shaped matrices; null (masked) anywhere gives null
  return matrices[0].map((row, i) => row.map((_, j) => {
    let sum = 0;
    for (const m of matrices) {
      if (m[i][j] === null) return null;
      sum += m[i][j];
    }
    return sum / matrices.length;
  }));
}

// ---------- page structure and controls ----------
function viewRoot(el, kind, title) {
  el.replaceChildren();
  const root = make("div", { class: "te-view", "data-te-view": kind }, el);
  if (title) make("div", { class: "te-title" }, root, title);
  return root;
}

function controlBar(root) {
  return make("div", { class: "te-controls" }, root);
}

function setOptions(select, options, value) {
  select.replaceChildren();
  for (const [v, text] of options) {
    const option = make("option", { value: v }, select, text);
    if (String(v) === String(value)) option.selected = true;
  }
}

// A native <select> with a visible label; onChange(value string) on every change.
function selectControl(parent, name, label, options, value, onChange) {
  const wrap = make("label", { class: "te-control" }, parent);
  make("span", {}, wrap, label);
  const select = make("select", { "data-te-control": name }, wrap);
  setOptions(select, options, value);
  select.addEventListener("change", () => onChange(select.value));
  return select;
}

// A native range input with a live readout; onInput(number) on input and change events.
function rangeControl(parent, name, label, min, max, value, onInput, show) {
  const wrap = make("label", { class: "te-control" }, parent);
  make("span", {}, wrap, label);
  const input = make("input", { type: "range", min: min, max: max, step: 1, value: value, "data-te-control": name },
    wrap);
  const out = make("output", {}, wrap, show(value));
  const handle = () => {
    const v = Number(input.value);
    out.textContent = show(v);
    input.setAttribute("aria-valuetext", show(v));
    onInput(v);
  };
  input.setAttribute("aria-valuetext", show(value));
  input.addEventListener("input", handle);
  input.addEventListener("change", handle);
  return input;
}

function checkControl(parent, name, label, checked, onChange) {
  const wrap = make("label", { class: "te-control" }, parent);
  const input = make("input", { type: "checkbox", "data-te-control": name }, wrap);
  input.checked = Boolean(checked);
  make("span", {}, wrap, label);
  input.addEventListener("change", () => onChange(input.checked));
  return input;
}

// Hover shows an item, leaving returns to the pinned one; focus (keyboard) and click pin an item.
function highlighter(apply) {
  let pinned = null;
  return {
    bind(node, index, label, focusable) {
      if (focusable !== false) {
        node.setAttribute("tabindex", "0");
        node.setAttribute("role", "button");
        node.setAttribute("aria-label", label);
      }
      node.addEventListener("mouseenter", () => apply(index));
      node.addEventListener("mouseleave", () => apply(pinned));
      node.addEventListener("focus", () => { pinned = index; apply(index); });
      node.addEventListener("blur", () => { if (pinned === index) pinned = null; apply(pinned); });
      node.addEventListener("click", () => { pinned = index; apply(index); });
    },
    pin(index) { pinned = index; apply(index); },
  };
}

// An outline that stays visible on any fill: a wide halo in the background colour under a thin line in the
// text colour. Returns a <g> to move with place(x, y, w, h) or hide with place(null).
function outline(parent) {
  const g = makeSvg("g", { "pointer-events": "none", "data-te-role": "highlight", visibility: "hidden" }, parent);
  const halo = makeSvg("rect", { fill: "none", stroke: "var(--te-halo)", "stroke-width": 4 }, g);
  const line = makeSvg("rect", { fill: "none", stroke: "currentColor", "stroke-width": 2 }, g);
  g.place = (x, y, w, h) => {
    if (x === null || x === undefined) { g.setAttribute("visibility", "hidden"); return; }
    for (const r of [halo, line]) setAttrs(r, { x: x, y: y, width: w, height: h });
    g.setAttribute("visibility", "visible");
  };
  return g;
}

// ---------- a labelled heatmap (used by the attention views) ----------
// rows, cols: token lists. Returns {svg, rowLabels, setValues(matrix, colourOf, textOf, tipOf), highlightRow}.
function heatmap(parent, rows, cols, opts) {
  const o = Object.assign({ cell: 26, rowTitle: "query", colTitle: "key", values: false }, opts || {});
  const longest = (list) => Math.max(1, ...list.map((t) => shortToken(t).length));
  const left = 20 + 7.2 * longest(rows);
  const top = 24 + 5.2 * longest(cols);
  const width = left + o.cell * cols.length + 8;
  const height = top + o.cell * rows.length + 8;
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `heatmap, ${rows.length} ${o.rowTitle} rows by ${cols.length} ${o.colTitle} columns` }, parent);
  makeSvg("text", { x: left, y: 11, "font-size": 11, class: "te-muted", fill: "var(--te-muted)" }, svg,
    `${o.colTitle} \u2192`);
  makeSvg("text", { x: 2, y: top - 6, "font-size": 11, fill: "var(--te-muted)" }, svg, `${o.rowTitle} \u2193`);
  cols.forEach((tok, j) => {
    const x = left + (j + 0.5) * o.cell;
    const g = makeSvg("g", { "data-te-role": "col-label" }, svg);
    tooltip(g, `${o.colTitle} ${j}: ${tok}`);
    makeSvg("text", { x: x, y: top - 6, transform: `rotate(-45 ${x} ${top - 6})` }, g, shortToken(tok));
  });
  const rowLabels = rows.map((tok, i) => {
    const g = makeSvg("g", { "data-te-control": o.rowTitle, "data-te-index": i }, svg);
    tooltip(g, `${o.rowTitle} ${i}: ${tok}`);
    makeSvg("rect", { x: 0, y: top + i * o.cell, width: left - 4, height: o.cell, fill: "transparent" }, g);
    makeSvg("text", { x: left - 6, y: top + (i + 0.5) * o.cell, "text-anchor": "end", "dominant-baseline": "central" },
      g, shortToken(tok));
    return g;
  });
  const cells = [];
  const texts = [];
  const tips = [];
  const grid = makeSvg("g", { "data-te-role": "cells" }, svg);
  rows.forEach((_, i) => {
    cells.push([]); texts.push([]); tips.push([]);
    cols.forEach((__, j) => {
      const r = makeSvg("rect", { x: left + j * o.cell, y: top + i * o.cell, width: o.cell - 1, height: o.cell - 1 },
        grid);
      cells[i].push(r);
      tips[i].push(tooltip(r, ""));
      if (o.values) {
        texts[i].push(makeSvg("text", { x: left + (j + 0.5) * o.cell - 0.5, y: top + (i + 0.5) * o.cell,
          "text-anchor": "middle", "dominant-baseline": "central", "font-size": 10, "pointer-events": "none" },
        grid, ""));
      }
    });
  });
  const rowBox = outline(svg);
  return {
    svg: svg,
    rowLabels: rowLabels,
    cells: cells,
    // colourOf(v, i, j) -> [r, g, b] or null for a masked cell; textOf(v, i, j) -> cell text; tipOf -> tooltip
    setValues(matrix, colourOf, textOf, tipOf) {
      matrix.forEach((row, i) => row.forEach((v, j) => {
        const c = colourOf(v, i, j);
        const rect = cells[i][j];
        if (c === null) {
          rect.setAttribute("class", "te-masked");
          rect.removeAttribute("fill");
        } else {
          rect.removeAttribute("class");
          rect.setAttribute("fill", rgb(c));
        }
        tips[i][j].textContent = tipOf(v, i, j);
        if (o.values) {
          texts[i][j].textContent = textOf(v, i, j);
          texts[i][j].setAttribute("fill", c === null ? "var(--te-masked-ink)" : inkOn(c));
        }
      }));
    },
    highlightRow(i) {
      if (i === null || i === undefined) rowBox.place(null);
      else rowBox.place(left - 1, top + i * o.cell - 1, o.cell * cols.length + 1, o.cell + 1);
    },
  };
}
