// PositionalEncodingExplorer: the (positions x d_model) table as a heatmap, one dimension as a curve over
// positions, one position as bars over dimensions.
// data = {title, table: P x D, sinusoidal, wavelengths: [D] or null, dimension, position}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const table = data.table;
    const P = table.length;
    const D = table[0].length;
    const limit = Math.max(1, ...table.map((row) => Math.max(...row.map(Math.abs))));
    const root = viewRoot(el, "positional-encoding", data.title);
    const state = { dim: Math.min(data.dimension || 0, D - 1), pos: Math.min(data.position || 0, P - 1) };
    const kindOf = (d) => (data.sinusoidal ? (d % 2 === 0 ? "sin" : "cos") : "learned");
    const bar = controlBar(root);
    const dimInput = rangeControl(bar, "dimension", "Dimension:", 0, D - 1, state.dim, (v) => { state.dim = v; update(); },
      (v) => `${v} (${kindOf(v)})`);
    const posInput = rangeControl(bar, "position", "Position:", 0, P - 1, state.pos, (v) => { state.pos = v; update(); },
      (v) => String(v));
    const figure = make("div", { class: "te-figure" }, root);

    // heatmap: rows are positions, columns dimensions
    const cw = Math.max(2, Math.min(10, Math.floor(420 / D)));
    const ch = Math.max(2, Math.min(10, Math.floor(300 / P)));
    const hx = 44;
    const hy = 18;
    const hw = hx + cw * D + 10;
    const hh = hy + ch * P + 44;
    const heat = makeSvg("svg", { width: hw, height: hh, viewBox: `0 0 ${hw} ${hh}`, role: "img",
      "aria-label": `heatmap of the position table, ${P} positions by ${D} dimensions; click a cell to choose it` },
    figure);
    makeSvg("text", { x: hx, y: 12, "font-size": 11, fill: "var(--te-muted)" }, heat, "dimension \u2192");
    makeSvg("text", { x: 14, y: hy + (ch * P) / 2, "font-size": 11, fill: "var(--te-muted)", "text-anchor": "middle",
      transform: `rotate(-90 14 ${hy + (ch * P) / 2})` }, heat, "position");
    const tick = (x, y, text, anchor) => makeSvg("text", { x: x, y: y, "font-size": 10, "text-anchor": anchor,
      "dominant-baseline": "central" }, heat, text);
    tick(hx - 4, hy + ch / 2, "0", "end");
    tick(hx - 4, hy + ch * (P - 0.5), String(P - 1), "end");
    tick(hx + cw / 2, hy + ch * P + 9, "0", "middle");
    tick(hx + cw * (D - 0.5), hy + ch * P + 9, String(D - 1), "middle");
    const cells = makeSvg("g", { "data-te-role": "cells" }, heat);
    table.forEach((row, p) => row.forEach((v, d) => {
      const r = makeSvg("rect", { x: hx + d * cw, y: hy + p * ch, width: cw, height: ch, fill: rgb(diverging(v, limit)) },
        cells);
      r.addEventListener("click", () => {
        state.dim = d; state.pos = p;
        dimInput.value = d; posInput.value = p;
        dimInput.dispatchEvent(new Event("input"));
        posInput.dispatchEvent(new Event("input"));
      });
    }));
    makeSvg("text", { x: hx, y: hh - 6, "font-size": 11, fill: "var(--te-muted)" }, heat, "blue \u22121 \u00b7 white 0 \u00b7 red +1");
    const colBox = outline(heat);
    const rowBox = outline(heat);

    // curve: the chosen dimension over all positions
    const cw2 = 360;
    const chh = 150;
    const m = { l: 36, t: 22, r: 10, b: 30 };
    const curve = makeSvg("svg", { width: cw2 + m.l + m.r, height: chh + m.t + m.b,
      viewBox: `0 0 ${cw2 + m.l + m.r} ${chh + m.t + m.b}`, role: "img", "aria-label": "the chosen dimension over positions" },
    figure);
    const curveTitle = makeSvg("text", { x: m.l, y: 13, "font-size": 12 }, curve, "");
    const px = (p) => m.l + (P > 1 ? (p / (P - 1)) * cw2 : cw2 / 2);
    const py = (v) => m.t + (1 - (v + limit) / (2 * limit)) * chh;
    makeSvg("line", { x1: m.l, x2: m.l + cw2, y1: py(0), y2: py(0), stroke: "currentColor", "stroke-opacity": 0.35 }, curve);
    makeSvg("line", { x1: m.l, x2: m.l, y1: m.t, y2: m.t + chh, stroke: "currentColor", "stroke-opacity": 0.6 }, curve);
    for (const v of [limit, 0, -limit]) {
      makeSvg("text", { x: m.l - 4, y: py(v), "text-anchor": "end", "dominant-baseline": "central", "font-size": 10 },
        curve, fmt(v, 0));
    }
    makeSvg("text", { x: m.l + cw2 / 2, y: chh + m.t + 24, "text-anchor": "middle", "font-size": 11,
      fill: "var(--te-muted)" }, curve, `position (0 to ${P - 1})`);
    const path = makeSvg("polyline", { fill: "none", stroke: "var(--te-accent)", "stroke-width": 2,
      "data-te-role": "curve" }, curve);
    const dot = makeSvg("circle", { r: 4, fill: "currentColor", "data-te-role": "curve-marker" }, curve);

    // bars: the chosen position's vector
    const bw = Math.max(2, Math.min(14, Math.floor(360 / D)));
    const bh = 150;
    const bars = makeSvg("svg", { width: bw * D + m.l + m.r, height: bh + m.t + m.b,
      viewBox: `0 0 ${bw * D + m.l + m.r} ${bh + m.t + m.b}`, role: "img", "aria-label": "the chosen position's vector" },
    figure);
    const barsTitle = makeSvg("text", { x: m.l, y: 13, "font-size": 12 }, bars, "");
    const by = (v) => m.t + (1 - (v + limit) / (2 * limit)) * bh;
    makeSvg("line", { x1: m.l, x2: m.l + bw * D, y1: by(0), y2: by(0), stroke: "currentColor", "stroke-opacity": 0.5 },
      bars);
    for (const v of [limit, 0, -limit]) {
      makeSvg("text", { x: m.l - 4, y: by(v), "text-anchor": "end", "dominant-baseline": "central", "font-size": 10 },
        bars, fmt(v, 0));
    }
    makeSvg("text", { x: m.l + (bw * D) / 2, y: bh + m.t + 24, "text-anchor": "middle", "font-size": 11,
      fill: "var(--te-muted)" }, bars, `dimension (0 to ${D - 1})`);
    const barGroup = makeSvg("g", { "data-te-role": "bars" }, bars);
    const barRects = Array.from({ length: D }, (_, d) => {
      const r = makeSvg("rect", { x: m.l + d * bw, width: Math.max(1, bw - 1) }, barGroup);
      return [r, tooltip(r, "")];
    });
    const barBox = outline(bars);
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);

    const update = () => {
      const d = state.dim;
      const p = state.pos;
      colBox.place(hx + d * cw - 1, hy - 1, cw + 2, ch * P + 2);
      rowBox.place(hx - 1, hy + p * ch - 1, cw * D + 2, ch + 2);
      const wl = data.wavelengths ? data.wavelengths[d] : null;
      curveTitle.textContent = `dimension ${d} (${kindOf(d)})` + (wl ? `, wavelength \u2248 ${fmt(wl, 1)} positions` : "");
      path.setAttribute("points", table.map((row, q) => `${px(q).toFixed(1)},${py(row[d]).toFixed(1)}`).join(" "));
      setAttrs(dot, { cx: px(p), cy: py(table[p][d]) });
      barsTitle.textContent = `position ${p}: its ${D} values`;
      table[p].forEach((v, k) => {
        const [r, tip] = barRects[k];
        const y0 = by(Math.max(v, 0));
        setAttrs(r, { y: y0.toFixed(1), height: Math.max(0.5, Math.abs(by(v) - by(0))).toFixed(1),
          fill: rgb(diverging(v, limit)), stroke: "currentColor", "stroke-width": 0.3 });
        tip.textContent = `PE(${p}, ${k}) = ${fmt(v, 3)}`;
      });
      barBox.place(m.l + d * bw - 1, m.t - 1, bw + 1, bh + 2);
      readout.textContent = `PE(position ${p}, dimension ${d}) = ${fmt(table[p][d], 3)}.` +
        (data.sinusoidal ? " Low dimensions change quickly with position, high dimensions slowly." : "");
    };
    update();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
