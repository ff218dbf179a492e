// EmbeddingExplorer: 2-D points with labels and groups; choosing a point shows its nearest neighbours, which
// Python computed in the original (high-dimensional) space.
// data = {title, points: N x 2, labels, groups: [group index], group_names, neighbours: N x k or null,
//         scores: N x k or null, metric, axis_labels: [x, y]}

// A marker shape per group (circle, square, triangle, diamond, ...) so groups differ by more than colour.
function marker(parent, shape, x, y, size, attrs) {
  const s = size;
  const paths = [
    null,
    `M${x - s},${y - s}h${2 * s}v${2 * s}h${-2 * s}z`,
    `M${x},${y - 1.25 * s}L${x + 1.2 * s},${y + 0.9 * s}L${x - 1.2 * s},${y + 0.9 * s}z`,
    `M${x},${y - 1.35 * s}L${x + 1.35 * s},${y}L${x},${y + 1.35 * s}L${x - 1.35 * s},${y}z`,
    `M${x},${y + 1.25 * s}L${x + 1.2 * s},${y - 0.9 * s}L${x - 1.2 * s},${y - 0.9 * s}z`,
  ];
  const d = paths[shape % paths.length];
  return d === null ? makeSvg("circle", Object.assign({ cx: x, cy: y, r: s }, attrs), parent)
    : makeSvg("path", Object.assign({ d: d }, attrs), parent);
}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const N = data.labels.length;
    const root = viewRoot(el, "embedding", data.title);
    const bar = controlBar(root);
    const pointSelect = selectControl(bar, "point", "Neighbours of:",
      [["", "(choose a point)"]].concat(data.labels.map((t, i) => [i, shortToken(t, 24)])), "",
      (v) => hl.pin(v === "" ? null : Number(v)));
    const figure = make("div", { class: "te-figure" }, root);
    const W = 520;
    const H = 380;
    const m = { l: 46, t: 12, r: 90, b: 40 };
    const xs = data.points.map((p) => p[0]);
    const ys = data.points.map((p) => p[1]);
    const span = (v) => [Math.min(...v), Math.max(...v)];
    const [x0, x1] = span(xs);
    const [y0, y1] = span(ys);
    const sx = (x) => m.l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * W;
    const sy = (y) => m.t + (1 - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5)) * H;
    const svg = makeSvg("svg", { width: W + m.l + m.r, height: H + m.t + m.b, viewBox: `0 0 ${W + m.l + m.r} ${H + m.t + m.b}`,
      role: "group", "aria-label": `scatter plot of ${N} points` }, figure);
    makeSvg("rect", { x: m.l - 8, y: m.t - 8, width: W + 16, height: H + 16, fill: "none", stroke: "currentColor",
      "stroke-opacity": 0.3 }, svg);
    const axes = data.axis_labels || ["x", "y"];
    makeSvg("text", { x: m.l + W / 2, y: H + m.t + 30, "text-anchor": "middle", "font-size": 11, fill: "var(--te-muted)" },
      svg, axes[0]);
    makeSvg("text", { x: 14, y: m.t + H / 2, "text-anchor": "middle", "font-size": 11, fill: "var(--te-muted)",
      transform: `rotate(-90 14 ${m.t + H / 2})` }, svg, axes[1]);
    const lineGroup = makeSvg("g", { "data-te-role": "neighbour-lines", stroke: "currentColor", "stroke-width": 1.5,
      "stroke-dasharray": "4 3" }, svg);
    const showLabels = N <= 40;
    const hl = highlighter((i) => focus(i));
    const nodes = data.points.map((p, i) => {
      const g = makeSvg("g", { "data-te-control": "point-marker", "data-te-index": i }, svg);
      tooltip(g, `${data.labels[i]} (${data.group_names[data.groups[i]]})`);
      const colour = CATEGORY[data.groups[i] % CATEGORY.length];
      const ring = makeSvg("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 10, fill: "none", stroke: "currentColor",
        "stroke-width": 2, visibility: "hidden" }, g);
      marker(g, data.groups[i], sx(p[0]), sy(p[1]), 5, { fill: colour, stroke: "var(--te-halo)", "stroke-width": 0.8 });
      const label = makeSvg("text", { x: sx(p[0]) + 8, y: sy(p[1]) - 6, "font-size": 11,
        visibility: showLabels ? "visible" : "hidden" }, g, shortToken(data.labels[i], 16));
      hl.bind(g, i, `${data.labels[i]}, group ${data.group_names[data.groups[i]]}`);
      return { g: g, ring: ring, label: label };
    });
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);
    if (data.group_names.length > 1) {
      const legend = make("ul", { class: "te-legend", "aria-label": "groups" }, root);
      data.group_names.forEach((name, k) => {
        const li = make("li", {}, legend);
        const sw = makeSvg("svg", { width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" }, li);
        marker(sw, k, 7, 7, 5, { fill: CATEGORY[k % CATEGORY.length] });
        make("span", {}, li, name);
      });
    }

    function focus(i) {
      const sel = i === null || i === undefined ? null : i;
      const near = sel === null || !data.neighbours ? [] : data.neighbours[sel];
      lineGroup.replaceChildren();
      nodes.forEach((n, k) => {
        const on = sel === null || k === sel || near.includes(k);
        n.g.setAttribute("opacity", on ? 1 : 0.35);
        n.ring.setAttribute("visibility", k === sel || near.includes(k) ? "visible" : "hidden");
        n.ring.setAttribute("stroke-width", k === sel ? 3 : 1.5);
        n.label.setAttribute("visibility", showLabels || k === sel || near.includes(k) ? "visible" : "hidden");
        n.label.setAttribute("font-weight", k === sel ? "bold" : "normal");
      });
      if (sel === null) {
        pointSelect.value = "";
        readout.textContent = data.neighbours
          ? "Choose a point (hover, click, Tab, or the menu) to see its nearest neighbours."
          : "Hover over a point, or Tab to it, to see its label.";
        return;
      }
      pointSelect.value = String(sel);
      const p = data.points[sel];
      near.forEach((k) => {
        makeSvg("line", { x1: sx(p[0]), y1: sy(p[1]), x2: sx(data.points[k][0]), y2: sy(data.points[k][1]) }, lineGroup);
      });
      if (!data.neighbours) {
        readout.textContent = `${quoted(data.labels[sel])}, group ${data.group_names[data.groups[sel]]}.`;
        return;
      }
      const list = near.map((k, r) => quoted(data.labels[k]) + (data.scores ? ` ${fmt(data.scores[sel][r], 3)}` : ""));
      readout.textContent = `Nearest to ${quoted(data.labels[sel])}` + (data.metric ? ` (${data.metric})` : "") +
        `: ${list.join(", ")}.`;
    }
    focus(null);
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
