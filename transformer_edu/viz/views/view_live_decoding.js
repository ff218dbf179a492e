// LiveDecoding: type a date; the model in the page decodes it three ways side by side (greedy decoding,
// sampling, beam search), then step by step. The Python originals are decoding.py (greedy_decode, sample,
// decode_step_by_step) and beam.py (beam_search); engine.js mirrors them, and this view only draws what
// Engine.greedyDecode, Engine.sample and Engine.beamSearch return. With the key/value cache they are quick
// enough to rerun on every edit: a few milliseconds for a date, a few hundred for beam width 8 when the
// model never ends its output.
// data = {asset, text, title, max_chars, label, temperature, top_k, seed, beam_size, length_penalty}

const DECODING_TEMPERATURES = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5];
const DECODING_TOP_KS = [1, 2, 3, 5, 10];
const DECODING_BEAM_SIZES = [1, 2, 3, 4, 5, 6, 7, 8];
const DECODING_BARS = 5; // next-token candidates drawn at each step
const SEED_MAX = 4294967295; // the page's generator takes 32-bit seeds

// log P of a greedy or sampled output: the model's own log-probability of each chosen token, summed
const logP = (run) => run.steps.reduce((sum, step) => sum + Math.log(step.probs[step.chosen]), 0);

// A target token as a label: a space made visible, long pieces shortened.
function tokenLabel(vocab, id) {
  const piece = vocab[id];
  return piece === " " ? "\u2423" : shortToken(piece, 12);
}

function showNumber(x) {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}

const plural = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;

// One of the three side-by-side panels: a heading, the output text, then lines of notes.
function outputPanel(parent, role, heading, model, ids, lines) {
  const panel = make("div", { class: "te-panel", "data-te-panel": role }, parent);
  make("h4", {}, panel, heading);
  const text = Engine.decodeIds(model.tokenizers.tgt, ids);
  make("p", { class: "te-readout te-decoding-output", "data-te-role": `output-${role}` }, panel, text);
  if (!text) make("p", { class: "te-note" }, panel, "(empty: <eos> came first)");
  for (const line of lines) make("p", { class: "te-note" }, panel, line);
  if (ids.at(-1) !== model.config.eos_id) {
    make("p", { class: "te-note" }, panel, `No <eos> within max_len = ${ids.length - 1} tokens: cut there.`);
  }
  return panel;
}

// Horizontal bars for the most probable next tokens; the chosen one in the accent colour, outlined and named.
function probabilityBars(parent, vocab, probs, order, chosen) {
  const labelW = 64, barW = 300, valueW = 130, rowH = 24, axisH = 20;
  const width = labelW + barW + valueW, height = rowH * order.length + axisH;
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "data-te-role": "next-token", "aria-label": "next-token probabilities: " +
      order.map((id) => `${vocab[id]} ${fmt(probs[id], 4)}${id === chosen ? " (chosen)" : ""}`).join(", ") }, parent);
  order.forEach((id, r) => {
    const y = r * rowH, isChosen = id === chosen;
    const g = makeSvg("g", { "data-te-token": id }, svg);
    tooltip(g, `token ${vocab[id]} (id ${id}): p = ${fmt(probs[id], 6)}${isChosen ? ", chosen" : ""}`);
    makeSvg("text", { x: labelW - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central",
      class: "te-decoding-token", "font-weight": isChosen ? 700 : 400 }, g, tokenLabel(vocab, id));
    makeSvg("rect", { x: labelW, y: y + 3, width: barW, height: rowH - 6, fill: "var(--te-panel)" }, g);
    makeSvg("rect", { x: labelW, y: y + 3, width: Math.max(0.5, probs[id] * barW), height: rowH - 6,
      fill: isChosen ? "var(--te-accent)" : "var(--te-other)", stroke: isChosen ? "currentColor" : "none",
      "stroke-width": 1.5, "data-te-role": "bar", "data-te-token": id, "data-te-chosen": isChosen }, g);
    makeSvg("text", { x: labelW + barW + 8, y: y + rowH / 2, "dominant-baseline": "central",
      "font-weight": isChosen ? 700 : 400 }, g, `${fmt(probs[id], 4)}${isChosen ? "  \u25c0 chosen" : ""}`);
  });
  const axisY = rowH * order.length + 2;
  makeSvg("line", { x1: labelW, x2: labelW + barW, y1: axisY, y2: axisY, stroke: "var(--te-border)" }, svg);
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    const x = labelW + p * barW;
    makeSvg("line", { x1: x, x2: x, y1: axisY, y2: axisY + 4, stroke: "var(--te-border)" }, svg);
    makeSvg("text", { x: x, y: axisY + 14, "text-anchor": "middle", "font-size": 10, fill: "var(--te-muted)" }, svg,
      String(p));
  }
  return svg;
}

// Greedy decoding, step by step: at the step the slider picks, the prefix so far and the most probable next
// tokens. greedy.steps[t].probs are the model's own probabilities with PAD and BOS at 0 (not renormalized),
// as decode_step_by_step gives them.
function greedyStepByStep(parent, model, greedy, state) {
  const c = model.config, vocab = model.tokenizers.tgt.vocab, n = greedy.steps.length;
  const never = new Set([c.pad_id, c.bos_id].filter((id) => id !== c.eos_id)); // never proposed
  make("h4", { class: "te-decoding-heading" }, parent, "Greedy decoding, step by step");
  state.step = Math.min(state.step, n);
  const bar = controlBar(parent);
  const box = make("div", { class: "te-decoding-step", "data-te-role": "greedy-step" }, parent);
  const show = () => {
    const { prefix, probs, chosen } = greedy.steps[state.step - 1];
    const candidates = [...probs.keys()].filter((id) => !never.has(id));
    const order = candidates.sort((a, b) => probs[b] - probs[a] || a - b).slice(0, DECODING_BARS);
    box.replaceChildren();
    const line = make("div", { class: "te-decoding-prefix" }, box);
    make("span", {}, line, `Prefix so far (${plural(prefix.length, "token")}):`);
    chips(line, prefix.map((id) => tokenLabel(vocab, id)), prefix, vocab);
    make("p", { class: "te-note" }, box, `Step ${state.step}: the ${order.length} most probable next tokens ` +
      `given the source and this prefix; greedy decoding appends ${quoted(vocab[chosen])}.`);
    probabilityBars(box, vocab, probs, order, chosen);
    const total = probs.reduce((a, p) => a + p, 0); // all but PAD and BOS
    const shown = order.reduce((a, id) => a + probs[id], 0);
    make("p", { class: "te-note" }, box, "These are the model's own probabilities (softmax of its logits), " +
      "as decode_step_by_step reports them: PAD and BOS are never proposed, and the other tokens are not " +
      `renormalized after leaving them out. The other ${candidates.length - order.length} tokens share ` +
      `${fmt(Math.max(0, total - shown), 4)}; PAD and BOS together have ${fmt(Math.max(0, 1 - total), 4)}.`);
  };
  rangeControl(bar, "step", "Greedy step:", 1, n, state.step, (v) => { state.step = v; show(); }, (v) => `${v} of ${n}`);
  show();
}

// Beam search, step by step: at the step the slider picks, the live hypotheses (log P) and those finished
// there (log P / lp), the returned one marked, and whether beam.py's stopping rule ends the search.
function beamStepByStep(parent, model, beam, state, beamSize, maxLen, alpha) {
  const tgt = model.tokenizers.tgt, m = beam.steps.length, K = beamSize, returned = beam.ids.join(",");
  const lp = (length) => Engine.lp(length, alpha);
  make("h4", { class: "te-decoding-heading" }, parent, "Beam search, step by step");
  state.beamStep = Math.min(state.beamStep, m);
  const bar = controlBar(parent);
  const box = make("div", { class: "te-decoding-step", "data-te-role": "beam-step" }, parent);
  const show = () => {
    const s = state.beamStep, step = beam.steps[s - 1];
    box.replaceChildren();
    make("p", { class: "te-note" }, box, `Step ${s}: every live hypothesis is extended by every token but PAD ` +
      `and BOS; the ${K} best extension${K === 1 ? "" : "s"} by log P (${plural(s, "token")} after <bos>) ` +
      `${K === 1 ? "is" : "are"} kept.`);
    const table = make("table", { class: "te-table te-decoding-beam", "data-te-role": "beam" }, box);
    const head = make("tr", {}, make("thead", {}, table));
    for (const h of ["", "hypothesis", "log P", "log P / lp"]) {
      make("th", { class: h.startsWith("log") ? "te-decoding-number" : null }, head, h);
    }
    const body = make("tbody", {}, table);
    const group = (text) => make("td", { colspan: 4 }, make("tr", { class: "te-decoding-group" }, body), text);
    const row = (mark, ids, logP, normalized, finished) => {
      const isReturned = ids.join(",") === returned; // a live one only when max_len ended the search
      const tr = make("tr", { "data-te-role": finished ? "finished" : "live",
        class: isReturned ? "te-decoding-returned" : null }, body);
      make("td", {}, tr, isReturned ? "\u2605 returned" : mark);
      const text = make("td", { class: "te-code" }, tr, Engine.decodeIds(tgt, ids));
      if (finished) make("span", { class: "te-muted" }, text, " <eos>");
      make("td", { class: "te-decoding-number" }, tr, fmt(logP, 4));
      make("td", { class: "te-decoding-number" }, tr, normalized === null ? "" : fmt(normalized, 4));
    };
    const last = s === maxLen; // at max_len the live ones compete too, ranked by log P / lp(max_len)
    group(`Live after step ${s} (${step.live.length}): ` +
      (last ? `max_len reached, so they compete as they are, by log P / lp(${s})` : "extended at the next step"));
    step.live.forEach((h, i) => row(String(i + 1), h.ids, h.score, last ? h.score / lp(s) : null, false));
    if (!step.live.length) group("none");
    group(`Finished at step ${s}: ended in <eos>, ranked by log P / lp(${s}) = log P / ${fmt(lp(s), 3)}`);
    step.finished.forEach((h) => row("", h.ids, h.score * lp(s), h.score, true));
    if (!step.finished.length) group("none");
    // beam.py's stopping rule: no live hypothesis can beat the best finished one any more
    const best = Math.max(...beam.steps.slice(0, s).flatMap((x) => x.finished.map((h) => h.score)));
    const bound = Math.max(...step.live.map((h) => h.score)) / lp(maxLen);
    const sofar = `Best finished so far: log P / lp = ${fmt(best, 4)}.`;
    const reach = `The most a live hypothesis can still reach is its log P / lp(max_len = ${maxLen}) = ${fmt(bound, 4)}`;
    let note = "No hypothesis has finished yet, so the search goes on.";
    if (best > -Infinity && !step.live.length) note = `${sofar} No live hypothesis is left: the search stops.`;
    else if (best >= bound) note = `${sofar} ${reach}: it cannot beat the best one, so the search stops here.`;
    else if (s === m) note = `max_len = ${maxLen} reached: the live hypotheses compete as they are, with ` +
      `log P / lp(${maxLen}).`;
    else if (best > -Infinity) note = `${sofar} ${reach}: it might still win, so the search goes on.`;
    make("p", { class: "te-note", "data-te-role": "beam-stop" }, box, note);
  };
  rangeControl(bar, "beam-step", "Beam step:", 1, m, state.beamStep, (v) => { state.beamStep = v; show(); },
    (v) => `${v} of ${m}`);
  show();
}

function render({ model: widget, el }) {
  const data = widget.get("data");
  const temperatures = [...new Set([...DECODING_TEMPERATURES, data.temperature])].sort((a, b) => a - b);
  const topKs = [...new Set([...DECODING_TOP_KS, ...(data.top_k ? [data.top_k] : [])])].sort((a, b) => a - b);
  const state = { temperature: data.temperature, topK: data.top_k || null, seed: data.seed, beamSize: data.beam_size,
    step: 1, beamStep: 1 };
  const alpha = data.length_penalty;
  const lp = (length) => Engine.lp(length, alpha);
  // each method's latest result and what it was computed from: a control reruns only the method it changes
  const latest = {};
  const once = (method, key, compute) => {
    if (!latest[method] || latest[method].key !== key) latest[method] = { key: key, value: compute() };
    return latest[method].value;
  };

  const frame = liveFrame(el, widget, "live-decoding", (bar) => {
    const redraw = () => frame.refresh();
    rangeControl(bar, "temperature", "Temperature:", 0, temperatures.length - 1,
      temperatures.indexOf(data.temperature), (i) => { state.temperature = temperatures[i]; redraw(); },
      (i) => showNumber(temperatures[i]));
    selectControl(bar, "top-k", "Top-k:", [["all", "all"], ...topKs.map((k) => [k, String(k)])],
      state.topK || "all", (v) => { state.topK = v === "all" ? null : Number(v); redraw(); });
    numberControl(bar, "seed", "Seed:", 0, SEED_MAX, state.seed, (v) => { state.seed = v; redraw(); });
    selectControl(bar, "beam-size", "Beam width:", DECODING_BEAM_SIZES.map((k) => [k, String(k)]), state.beamSize,
      (v) => { state.beamSize = Number(v); redraw(); });
  });

  frame.onDraw((model, source, area) => {
    const ids = source.ids, key = ids.join(",");
    const { temperature, topK, seed, beamSize } = state;
    const greedy = once("greedy", key, () => Engine.greedyDecode(model, ids));
    const sampled = once("sample", `${key}|${temperature}|${topK}|${seed}`,
      () => Engine.sample(model, ids, { temperature: temperature, topK: topK || undefined, seed: seed }));
    const beam = once("beam", `${key}|${beamSize}`,
      () => Engine.beamSearch(model, ids, { beamSize: beamSize, lengthPenalty: alpha }));
    area.replaceChildren();

    // ---- the three methods side by side ----
    const panels = make("div", { class: "te-panels te-decoding-panels" }, area);
    const scores = (run) => [`log P = ${fmt(logP(run), 4)}`, `log P / lp = ${fmt(logP(run) / lp(run.steps.length), 4)}`];
    outputPanel(panels, "greedy", "Greedy decoding", model, greedy.ids,
      [`The most probable token at every step: ${plural(greedy.steps.length, "step")}.`, ...scores(greedy)]);
    outputPanel(panels, "sample", "Sampling", model, sampled.ids,
      [`Temperature ${showNumber(temperature)} \u00b7 top-k ${topK || "all"} \u00b7 seed ${seed}: ` +
        `${plural(sampled.steps.length, "step")}.`, ...scores(sampled), "(log P is the model's own, at temperature 1)"]);
    const n = beam.ids.length - 1;
    const beamPanel = outputPanel(panels, "beam", "Beam search", model, beam.ids,
      [`Width ${beamSize} \u00b7 \u03b1 = ${showNumber(alpha)}: ${plural(beam.steps.length, "step")}` +
        `${beamSize === 1 ? " (width 1 is greedy decoding)" : ""}.`, `log P = ${fmt(beam.score * lp(n), 4)}`]);
    make("p", { class: "te-readout te-decoding-score", "data-te-role": "beam-score" }, beamPanel,
      `log P / lp = ${fmt(beam.score, 4)}`);
    make("p", { class: "te-note" }, beamPanel, `the score it maximizes; |Y| = ${n}, lp = ((5 + |Y|) / 6)^\u03b1` +
      ` = ${fmt(lp(n), 3)}`);

    // ---- step by step ----
    greedyStepByStep(make("div", { class: "te-decoding-section" }, area), model, greedy, state);
    beamStepByStep(make("div", { class: "te-decoding-section" }, area), model, beam, state, beamSize,
      Engine.defaultMaxLen(model, ids.length), alpha);
    make("p", { class: "te-note" }, area, "Greedy decoding and beam search here give the same outputs as Python's " +
      "greedy_decode and beam_search. Sampling draws with JavaScript's own seeded generator, not torch's: the same " +
      "seed gives other samples than Python's sample with a torch.Generator.");
  });
}
