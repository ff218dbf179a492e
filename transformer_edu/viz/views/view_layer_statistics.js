// LayerStatisticsExplorer: one number per layer for a few named series and one or more metrics, as a line chart
// with a metric selector, a checkbox per series (the legend), a log-scale switch and a layer readout.
// data = {title, x: [N], x_label, series: [K names], metrics: [{name, values: K x N (null = no value), log}],
//         metric, hidden: [series indices], layer, note}

// Marker shapes in the order of plots.MARKERS (o s ^ D v P X *), as points around (0, 0) for a size of 1;
// a marker is placed with a translate transform, so series differ by shape as well as by colour.
const MARKER_SHAPES = (() => {
  const plus = [[-0.4, -1], [0.4, -1], [0.4, -0.4], [1, -0.4], [1, 0.4], [0.4, 0.4], [0.4, 1], [-0.4, 1],
    [-0.4, 0.4], [-1, 0.4], [-1, -0.4], [-0.4, -0.4]].map(([x, y]) => [1.15 * x, 1.15 * y]);
  const turn = Math.SQRT1_2;
  const cross = plus.map(([x, y]) => [turn * (x - y), turn * (x + y)]);
  const star = Array.from({ length: 10 }, (_, i) => {
    const r = i % 2 ? 0.55 : 1.35;
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    return [r * Math.cos(a), r * Math.sin(a)];
  });
  return [null, [[-1, -1], [1, -1], [1, 1], [-1, 1]], [[0, -1.25], [1.2, 0.9], [-1.2, 0.9]],
    [[0, -1.35], [1.35, 0], [0, 1.35], [-1.35, 0]], [[0, 1.25], [1.2, -0.9], [-1.2, -0.9]], plus, cross, star];
})();

function seriesMarker(parent, k, size, attrs) {
  const points = MARKER_SHAPES[k % MARKER_SHAPES.length];
  if (points === null) return makeSvg("circle", Object.assign({ cx: 0, cy: 0, r: size }, attrs), parent);
  const d = "M" + points.map(([x, y]) => `${(x * size).toFixed(2)},${(y * size).toFixed(2)}`).join("L") + "z";
  return makeSvg("path", Object.assign({ d: d }, attrs), parent);
}

function seriesColour(k) {
  return CATEGORY[k % CATEGORY.length];
}

// ---------- numbers that may span many decades ----------
const SUPERSCRIPT = { "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074", "5": "\u2075",
  "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079", "-": "\u207b" };

function superscript(n) {
  return String(n).split("").map((c) => SUPERSCRIPT[c]).join("");
}

// Three significant figures; very large or very small values as m × 10^k.
function sig(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "\u2013";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split("e");
    return `${Number(m)} \u00d7 10${superscript(Number(e))}`;
  }
  return String(Number(v.toPrecision(3)));
}

// A power of ten as a tick label: plain from 0.01 to 1000, 10 with a superscript exponent otherwise.
function powerOfTen(k) {
  return k >= -2 && k <= 3 ? String(Number(Math.pow(10, k).toPrecision(1))) : "10" + superscript(k);
}

// Log axis over [lo, hi] (both > 0): the domain in whole decades, ticks on at most about 8 of them (multiples
// of the step, so 1 is a tick whenever it is in range). Returns exponents.
function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo) + 1e-9);
  let b = Math.ceil(Math.log10(hi) - 1e-9);
  if (b <= a) b = a + 1;
  const step = Math.max(1, Math.ceil((b - a) / 8));
  const ticks = [];
  for (let k = Math.ceil(a / step) * step; k <= b; k += step) ticks.push(k);
  return { domain: [a, b], ticks: ticks };
}

// Linear axis: about n ticks at 1, 2 or 5 times a power of ten, the domain widened to whole steps.
function linearTicks(lo, hi, n) {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.5;
    lo -= lo === 0 ? 0 : pad;
    hi += pad;
  }
  const raw = (hi - lo) / (n || 5);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let i = 0; a + i * step <= b + step * 1e-6; i++) ticks.push(Number((a + i * step).toPrecision(12)));
  return { domain: [a, b], ticks: ticks, step: step };
}

// The y axis for the values of the ticked series: {log, domain, ticks (values), scale(v) -> 0..1 or null}.
function yAxis(values, wantLog) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  const positive = finite.filter((v) => v > 0);
  if (wantLog && positive.length) {
    const t = logTicks(Math.min(...positive), Math.max(...positive));
    const [a, b] = t.domain;
    return { log: true, ticks: t.ticks.map((k) => [Math.pow(10, k), powerOfTen(k)]),
      scale: (v) => (v !== null && v > 0 ? (Math.log10(v) - a) / (b - a) : null) };
  }
  const lo = finite.length ? Math.min(0, ...finite) : 0;
  const hi = finite.length ? Math.max(0, ...finite) : 1;
  const t = linearTicks(lo, hi, 5);
  const [a, b] = t.domain;
  return { log: false, ticks: t.ticks.map((v) => [v, sig(v)]),
    scale: (v) => (v !== null && Number.isFinite(v) ? (v - a) / (b - a) : null) };
}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const N = data.x.length;
    const K = data.series.length;
    const xs = data.x;
    const root = viewRoot(el, "layer-statistics", data.title);
    const state = { metric: data.metric, log: data.metrics[data.metric].log, layer: data.layer,
      shown: data.series.map((_, k) => !data.hidden.includes(k)) };
    const xText = (i) => `${data.x_label} ${sig(xs[i])}`;
    const hasPositive = (m) => data.metrics[m].values.some((row) => row.some((v) => v !== null && v > 0));

    const bar = controlBar(root);
    const metricNames = data.metrics.map((m, i) => [i, shortToken(m.name, 48)]);
    const metricSelect = selectControl(bar, "metric", "Metric:", metricNames, state.metric, (v) => {
      state.metric = Number(v);
      state.log = data.metrics[state.metric].log; // each metric starts on its own scale
      logBox.checked = state.log;
      logBox.disabled = !hasPositive(state.metric);
      redraw();
    });
    metricSelect.disabled = data.metrics.length < 2;
    const logBox = checkControl(bar, "log-scale", "log scale", state.log, (on) => { state.log = on; redraw(); });
    logBox.disabled = !hasPositive(state.metric);
    const layerInput = rangeControl(bar, "layer", "Read values at:", 0, N - 1, state.layer,
      (i) => { state.layer = i; showLayer(i); }, (i) => xText(i));
    layerInput.disabled = N < 2;

    // the chart
    const figure = make("div", { class: "te-figure" }, root);
    const W = 520;
    const H = 280;
    const m = { l: 86, t: 12, r: 16, b: 44 };
    const svg = makeSvg("svg", { width: W + m.l + m.r, height: H + m.t + m.b,
      viewBox: `0 0 ${W + m.l + m.r} ${H + m.t + m.b}`, role: "img" }, figure);
    const [x0, x1] = [xs[0], xs[N - 1]];
    const px = (i) => m.l + (N > 1 ? ((xs[i] - x0) / (x1 - x0)) * W : W / 2);
    const grid = makeSvg("g", { "data-te-role": "y-ticks" }, svg);
    const xTicks = makeSvg("g", { "data-te-role": "x-ticks" }, svg);
    const axisLine = { stroke: "currentColor", "stroke-opacity": 0.6 };
    makeSvg("line", Object.assign({ x1: m.l, x2: m.l + W, y1: m.t + H, y2: m.t + H }, axisLine), svg);
    makeSvg("line", Object.assign({ x1: m.l, x2: m.l, y1: m.t, y2: m.t + H }, axisLine), svg);
    makeSvg("text", { x: m.l + W / 2, y: m.t + H + 36, "text-anchor": "middle", "font-size": 11,
      fill: "var(--te-muted)" }, svg, shortToken(data.x_label, 60));
    const yLabel = makeSvg("text", { x: 12, y: m.t + H / 2, "text-anchor": "middle", "font-size": 11,
      fill: "var(--te-muted)", transform: `rotate(-90 12 ${m.t + H / 2})` }, svg, "");
    // x ticks: about 6 round values inside the data's range, plus both ends
    if (N > 1) {
      const t = linearTicks(x0, x1, 6);
      const marks = t.ticks.filter((v) => v >= x0 && v <= x1);
      const near = (v) => marks.some((w) => Math.abs(w - v) < t.step / 2);
      if (!near(x0)) marks.unshift(x0);
      if (!near(x1)) marks.push(x1);
      for (const v of marks) {
        const x = m.l + ((v - x0) / (x1 - x0)) * W;
        makeSvg("line", { x1: x, x2: x, y1: m.t + H, y2: m.t + H + 4, stroke: "currentColor", "stroke-opacity": 0.6 },
          xTicks);
        makeSvg("text", { x: x, y: m.t + H + 16, "text-anchor": "middle", "font-size": 10 }, xTicks, sig(v));
      }
    } else {
      makeSvg("text", { x: px(0), y: m.t + H + 16, "text-anchor": "middle", "font-size": 10 }, xTicks, sig(x0));
    }
    const curves = makeSvg("g", { "data-te-role": "curves", fill: "none", "stroke-width": 2,
      "stroke-linejoin": "round" }, svg);
    const paths = data.series.map((name, k) => makeSvg("path", { stroke: seriesColour(k), "data-te-role": "curve",
      "data-te-series": k }, curves));
    const markerGroups = data.series.map((name, k) => makeSvg("g", { "data-te-role": "points", "data-te-series": k },
      svg));
    const guide = makeSvg("line", { y1: m.t, y2: m.t + H, stroke: "currentColor", "stroke-opacity": 0.55,
      "stroke-dasharray": "3 3", "data-te-role": "guide", "pointer-events": "none" }, svg);
    const focusMarks = data.series.map((name, k) => {
      const g = makeSvg("g", { "data-te-role": "focus-point", "pointer-events": "none" }, svg);
      seriesMarker(g, k, 5.5, { fill: seriesColour(k), stroke: "var(--te-halo)", "stroke-width": 1.5 });
      return g;
    });

    // the legend: one checkbox per series, with its colour and marker
    const legend = make("ul", { class: "te-legend", "aria-label": "series (tick to show)" }, root);
    data.series.forEach((name, k) => {
      const li = make("li", { title: name }, legend);
      const label = make("label", { class: "te-control" }, li);
      const box = make("input", { type: "checkbox", "data-te-control": "series", "data-te-index": k }, label);
      box.checked = state.shown[k];
      const sw = makeSvg("svg", { width: 30, height: 14, viewBox: "-15 -7 30 14", "aria-hidden": "true" }, label);
      makeSvg("line", { x1: -14, x2: 14, y1: 0, y2: 0, stroke: seriesColour(k), "stroke-width": 2 }, sw);
      seriesMarker(sw, k, 4.5, { fill: seriesColour(k), stroke: "var(--te-halo)", "stroke-width": 0.8 });
      make("span", {}, label, shortToken(name, 40));
      box.addEventListener("change", () => { state.shown[k] = box.checked; redraw(); });
    });
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);
    if (data.note) make("p", { class: "te-note" }, root, data.note);

    let axis = null;
    const py = (v) => {
      const s = axis.scale(v);
      return s === null ? null : m.t + (1 - s) * H;
    };

    // Everything that depends on the metric, the scale or the ticked series.
    function redraw() {
      const metric = data.metrics[state.metric];
      axis = yAxis(metric.values.filter((_, k) => state.shown[k]).flat(), state.log);
      yLabel.textContent = shortToken(metric.name, 48) + (axis.log ? " (log scale)" : "");
      grid.replaceChildren();
      for (const [v, text] of axis.ticks) {
        const y = py(v);
        makeSvg("line", { x1: m.l, x2: m.l + W, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.14 }, grid);
        makeSvg("text", { x: m.l - 6, y: y, "text-anchor": "end", "dominant-baseline": "central", "font-size": 10 },
          grid, text);
      }
      const every = Math.max(1, Math.ceil(N / 8)); // markers on every few points, as the static figure does
      metric.values.forEach((row, k) => {
        let d = "";
        let pen = false;
        row.forEach((v, i) => {
          const y = py(v);
          if (y === null) { pen = false; return; }
          d += `${pen ? "L" : "M"}${px(i).toFixed(1)},${y.toFixed(1)}`;
          pen = true;
        });
        setAttrs(paths[k], { d: d || "M0,0", visibility: state.shown[k] ? "visible" : "hidden" });
        const group = markerGroups[k];
        group.replaceChildren();
        group.setAttribute("visibility", state.shown[k] ? "visible" : "hidden");
        const gap = (i) => i < 0 || i >= N || py(row[i]) === null;
        row.forEach((v, i) => {
          const y = py(v);
          if (y === null || (i % every !== 0 && !(gap(i - 1) && gap(i + 1)))) return; // isolated points too
          const mk = seriesMarker(group, k, 3.5, { fill: seriesColour(k), stroke: "var(--te-halo)",
            "stroke-width": 0.8, transform: `translate(${px(i).toFixed(1)} ${y.toFixed(1)})` });
          tooltip(mk, `${data.series[k]}, ${xText(i)}: ${sig(v)}`);
        });
      });
      const ticked = data.series.filter((_, k) => state.shown[k]).length;
      svg.setAttribute("aria-label", `line chart of ${metric.name} over ${N} values of ${data.x_label}` +
        `${axis.log ? " on a log scale" : ""}, ${ticked} of ${K} series ticked`);
      showLayer(state.layer);
    }

    // The guide, the big markers and the readout at layer index i (hover shows, the slider and clicks pin).
    function showLayer(i) {
      const metric = data.metrics[state.metric];
      const x = px(i);
      setAttrs(guide, { x1: x, x2: x });
      const parts = [];
      metric.values.forEach((row, k) => {
        const y = py(row[i]);
        const on = state.shown[k] && y !== null;
        setAttrs(focusMarks[k], { visibility: on ? "visible" : "hidden",
          transform: on ? `translate(${x.toFixed(1)} ${y.toFixed(1)})` : null });
        if (!state.shown[k]) return;
        const v = row[i];
        const note = v !== null && axis.log && v <= 0 ? " (not drawn on a log scale)" : "";
        parts.push(`${data.series[k]} ${sig(v)}${note}`);
      });
      readout.textContent = parts.length
        ? `${metric.name} at ${xText(i)}: ${parts.join("; ")}.`
        : "No series is ticked: tick one in the legend below the chart.";
    }

    const nearest = (event) => {
      const ctm = svg.getScreenCTM();
      if (!ctm) return null;
      const x = (event.clientX - ctm.e) / ctm.a;
      let best = 0;
      xs.forEach((_, i) => { if (Math.abs(px(i) - x) < Math.abs(px(best) - x)) best = i; });
      return best;
    };
    svg.addEventListener("mousemove", (event) => { const i = nearest(event); if (i !== null) showLayer(i); });
    svg.addEventListener("mouseleave", () => showLayer(state.layer));
    svg.addEventListener("click", (event) => {
      const i = nearest(event);
      if (i === null || N < 2) return;
      layerInput.value = i;
      layerInput.dispatchEvent(new Event("input"));
    });
    redraw();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
