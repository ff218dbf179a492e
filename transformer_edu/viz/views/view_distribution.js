// DistributionExplorer: softmax(logits / temperature), computed here in the browser, as bars for the top-k
// tokens plus one bar for all the others.
// data = {title, logits: T x V, vocab: [V], temperatures: [...], temperature_index, top_k, positions: [T labels]}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const V = data.vocab.length;
    const root = viewRoot(el, "distribution", data.title);
    const state = { t: data.temperature_index, pos: 0 };
    const bar = controlBar(root);
    rangeControl(bar, "temperature", "Temperature:", 0, data.temperatures.length - 1, state.t,
      (v) => { state.t = v; update(); }, (v) => data.temperatures[v].toString());
    if (data.logits.length > 1) {
      selectControl(bar, "position", "Position:", data.positions.map((p, i) => [i, shortToken(p, 30)]), 0,
        (v) => { state.pos = Number(v); update(); });
    }
    const figure = make("div", { class: "te-figure" }, root);
    const k = Math.min(data.top_k, V);
    const rows = k + (V > k ? 1 : 0);
    const labelW = 20 + 7.2 * Math.max(6, ...data.vocab.map((t) => shortToken(t, 18).length));
    const W = 320;
    const rowH = 22;
    const width = labelW + W + 60;
    const height = 26 + rows * rowH + 8;
    const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `probabilities of the ${k} most likely tokens` }, figure);
    makeSvg("text", { x: labelW, y: 12, "font-size": 11, fill: "var(--te-muted)" }, svg, "probability \u2192 (0 to 1)");
    makeSvg("line", { x1: labelW, x2: labelW, y1: 20, y2: height - 6, stroke: "currentColor", "stroke-opacity": 0.6 }, svg);
    const barGroup = makeSvg("g", { "data-te-role": "bars" }, svg);
    const items = Array.from({ length: rows }, (_, r) => {
      const y = 24 + r * rowH;
      const label = makeSvg("text", { x: labelW - 6, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central" },
        svg, "");
      const rect = makeSvg("rect", { x: labelW, y: y + 3, height: rowH - 6, width: 0,
        fill: r < k ? "var(--te-accent)" : "var(--te-other)", "data-te-role": "bar" }, barGroup);
      const tip = tooltip(rect, "");
      const value = makeSvg("text", { y: y + rowH / 2, "dominant-baseline": "central", "font-size": 11 }, svg, "");
      return { label: label, rect: rect, tip: tip, value: value };
    });
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);
    make("p", { class: "te-note" }, root,
      "Temperature divides the scores before softmax: below 1 it sharpens the distribution (towards always " +
      "picking the top token), above 1 it flattens it (towards uniform). The order of the tokens never changes.");

    const update = () => {
      const T = data.temperatures[state.t];
      const logits = data.logits[state.pos];
      const probs = softmax(logits.map((z) => z / T));
      const order = logits.map((z, i) => [z, i]).sort((a, b) => b[0] - a[0]).slice(0, k).map(([, i]) => i);
      let shown = 0;
      items.forEach((it, r) => {
        let p;
        if (r < k) {
          const i = order[r];
          p = probs[i];
          shown += p;
          it.label.textContent = shortToken(data.vocab[i], 18);
          it.tip.textContent = `${data.vocab[i]} (id ${i}): logit ${fmt(logits[i], 3)}, p = ${fmt(p, 4)}`;
        } else {
          p = Math.max(0, 1 - shown);
          it.label.textContent = `${V - k} others`;
          it.tip.textContent = `all other ${V - k} tokens together: p = ${fmt(p, 4)}`;
        }
        it.rect.setAttribute("width", (p * W).toFixed(1));
        setAttrs(it.value, { x: labelW + p * W + 4 });
        it.value.textContent = fmt(p, 3);
      });
      const entropy = -probs.reduce((s, p) => s + (p > 0 ? p * Math.log2(p) : 0), 0);
      readout.textContent = `Temperature ${T}: the top token ${quoted(data.vocab[order[0]])} has p = ` +
        `${fmt(probs[order[0]], 3)}; entropy ${fmt(entropy, 2)} bits (a uniform choice among ${V} tokens would be ` +
        `${fmt(Math.log2(V), 2)} bits).`;
    };
    update();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
