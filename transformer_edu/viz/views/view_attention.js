// AttentionExplorer: per-kind, per-layer, per-head attention weights as a heatmap and as lines.
// data = {title, kinds: [{name, query_tokens, key_tokens, layers: [[H x (Tq x Tk)] per layer]}], layer, head}

// Lines from each query token (left) to each key token (right), opacity and width growing with the weight.
function lineView(parent, queries, keys, onBind) {
  const rowH = 20;
  const longest = (list) => Math.max(1, ...list.map((t) => shortToken(t).length));
  const leftW = 12 + 7.2 * longest(queries);
  const gapW = 150;
  const rightW = 12 + 7.2 * longest(keys);
  const width = leftW + gapW + rightW;
  const height = 24 + rowH * Math.max(queries.length, keys.length);
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "attention as lines from query tokens to key tokens" }, parent);
  makeSvg("text", { x: leftW - 4, y: 11, "text-anchor": "end", "font-size": 11, fill: "var(--te-muted)" }, svg, "query");
  makeSvg("text", { x: leftW + gapW + 4, y: 11, "font-size": 11, fill: "var(--te-muted)" }, svg, "key");
  const y = (i) => 24 + (i + 0.5) * rowH;
  const lineGroup = makeSvg("g", { "data-te-role": "lines", stroke: "var(--te-accent)", "stroke-linecap": "round" },
    svg);
  const lines = queries.map((_, i) => keys.map((__, j) => makeSvg("line", { x1: leftW, y1: y(i),
    x2: leftW + gapW, y2: y(j), "stroke-opacity": 0, "stroke-width": 1 }, lineGroup)));
  const leftLabels = queries.map((tok, i) => {
    const g = makeSvg("g", { "data-te-role": "line-query", "data-te-index": i }, svg);
    tooltip(g, `query ${i}: ${tok}`);
    makeSvg("rect", { x: 0, y: y(i) - rowH / 2, width: leftW, height: rowH, fill: "transparent" }, g);
    makeSvg("text", { x: leftW - 6, y: y(i), "text-anchor": "end", "dominant-baseline": "central" }, g, shortToken(tok));
    onBind(g, i);
    return g;
  });
  const keyShades = [];
  keys.forEach((tok, j) => {
    const g = makeSvg("g", { "data-te-role": "line-key" }, svg);
    tooltip(g, `key ${j}: ${tok}`);
    keyShades.push(makeSvg("rect", { x: leftW + gapW + 2, y: y(j) - rowH / 2 + 2, width: rightW - 2, height: rowH - 4,
      fill: "var(--te-accent)", "fill-opacity": 0 }, g));
    makeSvg("text", { x: leftW + gapW + 6, y: y(j), "dominant-baseline": "central" }, g, shortToken(tok));
  });
  let matrix = null;
  let focus = null;
  const draw = () => {
    matrix.forEach((row, i) => row.forEach((w, j) => {
      const v = w === null ? 0 : w;
      const shown = focus === null ? v * 0.55 : (i === focus ? v : 0);
      setAttrs(lines[i][j], { "stroke-opacity": shown.toFixed(3), "stroke-width": (1 + 4 * v).toFixed(2) });
    }));
    keyShades.forEach((r, j) => r.setAttribute("fill-opacity",
      focus === null ? 0 : (0.45 * (matrix[focus][j] || 0)).toFixed(3)));
    leftLabels.forEach((g, i) => g.setAttribute("font-weight", i === focus ? "bold" : "normal"));
  };
  return {
    svg: svg,
    setWeights(m) { matrix = m; draw(); },
    highlight(i) { focus = i === undefined ? null : i; if (matrix) draw(); },
  };
}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const kinds = data.kinds;
    const root = viewRoot(el, "attention", data.title);
    const state = { kind: 0, layer: data.layer || 0, head: data.head === undefined ? 0 : data.head, query: null };
    const bar = controlBar(root);
    const layerOptions = (k) => kinds[k].layers.map((_, l) => [l, `layer ${l}`]);
    const headOptions = (k) => {
      const n = kinds[k].layers[0].length;
      const opts = Array.from({ length: n }, (_, h) => [h, `head ${h}`]);
      if (n > 1) opts.push(["mean", "all heads averaged"]);
      return opts;
    };
    const kindSelect = selectControl(bar, "kind", "Attention:", kinds.map((k, i) => [i, k.name]), 0, (v) => {
      state.kind = Number(v);
      state.layer = Math.min(state.layer, kinds[state.kind].layers.length - 1);
      const heads = kinds[state.kind].layers[0].length;
      if (state.head !== "mean" && state.head >= heads) state.head = 0;
      if (state.head === "mean" && heads === 1) state.head = 0;
      setOptions(layerSelect, layerOptions(state.kind), state.layer);
      setOptions(headSelect, headOptions(state.kind), state.head);
      layerSelect.disabled = kinds[state.kind].layers.length < 2;
      headSelect.disabled = heads < 2;
      build();
    });
    kindSelect.disabled = kinds.length < 2;
    const layerSelect = selectControl(bar, "layer", "Layer:", layerOptions(0), state.layer, (v) => {
      state.layer = Number(v);
      update();
    });
    layerSelect.disabled = kinds[0].layers.length < 2;
    const headSelect = selectControl(bar, "head", "Head:", headOptions(0), state.head, (v) => {
      state.head = v === "mean" ? "mean" : Number(v);
      update();
    });
    headSelect.disabled = kinds[0].layers[0].length < 2;
    const figure = make("div", { class: "te-figure" }, root);
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);
    let map = null;
    let lines = null;

    const current = () => {
      const heads = kinds[state.kind].layers[state.layer];
      return state.head === "mean" ? meanOf(heads) : heads[state.head];
    };
    const describe = (i) => {
      const k = kinds[state.kind];
      if (i === null) {
        readout.textContent = "Hover over a query token, or Tab to it, to see where it attends. Each row sums to 1.";
        return;
      }
      const row = current()[i];
      const order = row.map((w, j) => [w === null ? -1 : w, j]).sort((a, b) => b[0] - a[0]).slice(0, 3);
      const parts = order.filter(([w]) => w >= 0).map(([w, j]) => `${quoted(k.key_tokens[j])} (${w.toFixed(3)})`);
      readout.textContent = `Query ${i} ${quoted(k.query_tokens[i])} attends most to ` + parts.join(", ") + ".";
    };
    const focus = (i) => {
      state.query = i === undefined ? null : i;
      map.highlightRow(state.query);
      lines.highlight(state.query);
      describe(state.query);
    };
    const update = () => {
      const k = kinds[state.kind];
      const m = current();
      const headName = state.head === "mean" ? "mean of heads" : `head ${state.head}`;
      map.setValues(m, (v) => (v === null ? null : viridis(v)), (v) => fmt(v, 2),
        (v, i, j) => `layer ${state.layer}, ${headName}: ${k.query_tokens[i]} \u2192 ${k.key_tokens[j]}: ${fmt(v, 3)}`);
      lines.setWeights(m);
      focus(state.query);
    };
    const build = () => {
      figure.replaceChildren();
      const k = kinds[state.kind];
      const showValues = k.query_tokens.length <= 12 && k.key_tokens.length <= 12;
      const hl = highlighter(focus);
      map = heatmap(figure, k.query_tokens, k.key_tokens, { cell: showValues ? 30 : 20, values: showValues });
      map.rowLabels.forEach((g, i) => hl.bind(g, i, `query ${i}: ${k.query_tokens[i]}`));
      lines = lineView(figure, k.query_tokens, k.key_tokens, (g, i) => hl.bind(g, i, "", false));
      state.query = null;
      update();
    };
    build();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
