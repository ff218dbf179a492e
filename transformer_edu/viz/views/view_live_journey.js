// TokenJourney: follow one source or one target position through every sub-layer, with the real numbers.
// data = {asset, text, title, max_chars, label}
//
// The model runs once per edit (Engine.encode and Engine.decode with a trace, the decoder on <bos> + the
// greedy output); the controls then only choose what to show: the side, the position and the step.

const JOURNEY_FIRST = 8; // how many numbers of the vector are printed
const JOURNEY_TOP = 5; // how many next tokens the output step lists

// A piece as a label: spaces made visible, long pieces shortened.
function journeyPiece(piece) {
  return shortToken(String(piece).trim() === "" ? String(piece).replace(/ /g, "\u2423") : piece, 16);
}

// a number with 3 decimals, never "-0.000"
function journeyNumber(x) {
  return fmt(Math.abs(x) < 5e-4 ? 0 : x, 3);
}

// mean, standard deviation (divided by D, as LayerNorm does) and Euclidean norm of one vector
function journeyStats(v) {
  const n = v.length;
  let sum = 0, squares = 0;
  for (const x of v) { sum += x; squares += x * x; }
  const mean = sum / n;
  let variance = 0;
  for (const x of v) variance += (x - mean) * (x - mean);
  variance /= n;
  return { mean: mean, std: Math.sqrt(variance), variance: variance, norm: Math.sqrt(squares) };
}

// The steps of one side, from the trace: [{key, kind, name, short, value (L, D) ...}]. Position-independent;
// an Add & Norm step also carries the residual input and the sub-layer output it adds (for its table).
function journeySteps(model, side, trace, ids, weights) {
  const c = model.config;
  const embed = side === "source" ? "src_embed" : "tgt_embed";
  const table = model.params[embed + ".table.weight"].data, D = c.d_model;
  const steps = [{ key: "id", kind: "id", name: `${embed}.table.weight`, short: "token id",
    value: ids.map((id) => Float64Array.from(table.subarray(id * D, (id + 1) * D))) }];
  let residual = null, sublayer = null, last = null;
  for (const { name, value } of trace) {
    const layer = name.match(/^(encoder|decoder)\.layers\.(\d+)\.(\w+)$/);
    if (!layer) {
      if (name === "output") {
        steps.push({ key: "output", kind: "output", name: name, short: "output", value: value });
        continue;
      } else if (name.endsWith(".final_norm")) { // the stack's final LayerNorm (a later change), when the config has one
        steps.push({ key: "norm", kind: "final_norm", name: name, short: "final norm", value: value, residual: last });
      } else {
        const isEmbed = name.endsWith("_embed");
        steps.push({ key: isEmbed ? "embed" : "position", kind: isEmbed ? "embed" : "position", name: name,
          short: isEmbed ? "\u00d7 \u221ad" : "+ position", value: value, input: steps[steps.length - 1].value });
        residual = value;
      }
      last = value; // the last vector of the stack (before the output layer)
      continue;
    }
    const L = Number(layer[2]), part = layer[3], key = `layers.${L}.${part}`;
    if (part.endsWith("_norm")) {
      steps.push({ key: key, kind: "norm", name: name, layer: L, value: value, residual: residual, sublayer: sublayer,
        short: `${L}: ${c.norm_first ? "add" : "add & norm"}` });
      residual = value;
    } else if (part === "feed_forward") {
      steps.push({ key: key, kind: "feed_forward", name: name, layer: L, short: `${L}: feed-forward`, value: value });
      sublayer = value;
    } else {
      const attention = side === "source" ? "encoder_self" : part === "cross_attn" ? "cross" : "decoder_self";
      steps.push({ key: key, kind: "attention", attention: attention, name: name, layer: L, value: value,
        short: `${L}: ${part === "cross_attn" ? "enc-dec attention" : "self-attention"}`,
        weights: weights[attention][L] });
      sublayer = value;
    }
    last = value;
  }
  if (side === "source") { // the encoder's last vector is the memory row
    const memory = steps[steps.length - 1];
    memory.memory = true;
    memory.short += " = memory";
  }
  return steps;
}

// Everything for one text: the greedy output, both traces and both lists of steps.
function journeyRun(model, source) {
  const output = Engine.greedyDecode(model, source.ids);
  const srcTrace = [], tgtTrace = [];
  const enc = Engine.encode(model, source.ids, { trace: srcTrace });
  const tgtIds = output.ids.slice(0, -1); // <bos> + the output: what the decoder reads (the last token is only chosen)
  const dec = Engine.decode(model, tgtIds, enc.memory, { trace: tgtTrace });
  const tgtVocab = model.tokenizers.tgt.vocab;
  return {
    output: output,
    source: { pieces: source.pieces, ids: source.ids, vocab: model.tokenizers.src.vocab,
      steps: journeySteps(model, "source", srcTrace, source.ids, enc.weights) },
    target: { pieces: tgtIds.map((id) => tgtVocab[id]), ids: tgtIds, vocab: tgtVocab,
      steps: journeySteps(model, "target", tgtTrace, tgtIds, dec.weights) },
  };
}

// What a step is, in plain words, for position `p` of `side`.
function journeyWords(model, run, side, step, p) {
  const c = model.config, D = c.d_model, pre = c.norm_first;
  const s = run[side], piece = quoted(journeyPiece(s.pieces[p])), S = run.source.ids.length;
  const vocabName = side === "source" ? "source" : "target";
  const sub = { attention: "the attention", feed_forward: "the feed-forward" };
  switch (step.kind) {
    case "id":
      return `The token ${piece} has id ${s.ids[p]} in the ${vocabName} vocabulary. Its vector starts as row ` +
        `${s.ids[p]} of the learned embedding table (${s.vocab.length} \u00d7 ${D}), shown here as it is stored.`;
    case "embed":
      const root = Number.isInteger(Math.sqrt(D)) ? Math.sqrt(D) : fmt(Math.sqrt(D), 3);
      return `The embedding row multiplied by \u221ad_model = \u221a${D} = ${root} ` +
        "(section 3.4 of the paper): the same direction, a larger norm.";
    case "position":
      return `Plus the positional encoding of position ${p}, PE(${p}) ` +
        (c.positional === "learned" ? `(row ${p} of the learned table ${step.name}.table)` :
          `(sines and cosines of ${p} at ${D / 2} frequencies)`) +
        `. This vector enters ${side === "source" ? "encoder" : "decoder"} layer 0.`;
    case "attention": {
      const what = step.attention === "encoder_self"
        ? `Self-attention: the query of position ${p} is compared with the keys of all ${S} source positions`
        : step.attention === "decoder_self"
          ? `Masked self-attention: the query of position ${p} is compared with the keys of positions 0 to ${p} ` +
            "only (the causal mask hides the later ones)"
          : `Encoder-decoder attention: the query of target position ${p} is compared with the keys made from the ` +
            `memory, the encoder's output for the ${S} source tokens`;
      return `${what}; the output is the weighted mix of their values, per head (${c.n_heads} heads of ` +
        `${D / c.n_heads} numbers), concatenated and projected by W^O. Shown: the sub-layer's output alone` +
        `${pre ? " (its input was LayerNorm(x))" : ""}, before the residual is added.`;
    }
    case "feed_forward": {
      const act = c.activation === "relu" ? "max(0, x W\u2081 + b\u2081)"
        : `${c.activation.toUpperCase()}(x W\u2081 + b\u2081)`;
      return `Feed-forward: ${act} W\u2082 + b\u2082, on this position alone (${D} \u2192 ${c.d_ff} \u2192 ${D}). ` +
        `Shown: the sub-layer's output alone${pre ? " (its input was LayerNorm(x))" : ""}, before the residual ` +
        "is added.";
    }
    case "norm": {
      const memo = step.memory ? ` This is the memory row of source position ${p}: every decoder layer's ` +
        "encoder-decoder attention reads it as a key and a value." : "";
      if (pre) {
        return `Add (this model is pre-LN): x + Sublayer(LayerNorm(x)), the residual x plus ${sub[step.prevKind] ||
          "the sub-layer's"} output. The sum is not normalized here, so its mean and std are not 0 and 1.${memo}`;
      }
      return `Add & Norm: LayerNorm(x + Sublayer(x)). The residual x (this position's vector before the sub-layer) ` +
        `plus the sub-layer's output, normalized over its ${D} numbers to mean 0 and std 1, then multiplied by the ` +
        `learned gain \u03b3 and shifted by the learned bias \u03b2 (${D} numbers each). Shown: \u03b3 \u00b7 ` +
        `normalized + \u03b2, whose mean and std are not exactly 0 and 1; the table gives each stage (the normalized ` +
        `row has mean 0 and std just under 1, because of \u03b5 = ${c.layer_norm_eps}).${memo}`;
    }
    case "final_norm":
      return `The ${side === "source" ? "encoder" : "decoder"}'s final LayerNorm (${step.name}), after the last ` +
        `layer: normalized to mean 0 and std 1, then \u03b3 \u00b7 normalized + \u03b2.` +
        (step.memory ? ` This is the memory row of source position ${p}: every decoder layer's encoder-decoder ` +
          "attention reads it as a key and a value." : "");
    case "output":
      return `The output layer: one logit per entry of the target vocabulary (${s.vocab.length} numbers, not ` +
        `${D}), a score for the token that follows position ${p}. The softmax turns them into probabilities; ` +
        "<pad> and <bos> are never generated (set to \u2212\u221e, as in decoding.py).";
    default:
      return "";
  }
}

// The vector as a strip of coloured cells (RdBu reversed, symmetric around 0), an axis and a legend.
function journeyStrip(parent, v, tipOf, readout) {
  const n = v.length;
  const cw = Math.max(4, Math.min(16, Math.floor(480 / n))); // strip and legend fit the text column
  const limit = Math.max(...Array.from(v, Math.abs)) || 1;
  const left = 4, top = 4, h = 30, width = left + n * cw + 160, height = top + h + 22;
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
    style: "max-width: 100%; height: auto", "aria-label": `${n} numbers as coloured cells: blue negative, red positive, up to \u00b1${fmt(limit, 3)}` },
  parent);
  const g = makeSvg("g", { "data-te-role": "vector" }, svg);
  Array.from(v).forEach((x, i) => {
    const r = makeSvg("rect", { x: left + i * cw, y: top, width: cw - 1, height: h, fill: rgb(diverging(x, limit)),
      "data-te-index": i }, g);
    const tip = tipOf(i, x);
    tooltip(r, tip);
    r.addEventListener("mouseenter", () => { readout.textContent = tip; });
  });
  const ticks = makeSvg("g", { "data-te-role": "vector-axis", fill: "var(--te-muted)" }, svg);
  const every = n > 32 ? 8 : 4;
  for (let i = 0; i < n; i += every) {
    makeSvg("text", { x: left + (i + 0.5) * cw, y: top + h + 13, "text-anchor": "middle", "font-size": 10,
      fill: "var(--te-muted)" }, ticks, i);
  }
  // legend: -limit .. 0 .. +limit
  const lx = left + n * cw + 30, lw = 100, parts = 30;
  const legend = makeSvg("g", { "data-te-role": "legend" }, svg);
  for (let k = 0; k < parts; k++) {
    makeSvg("rect", { x: lx + (k * lw) / parts, y: top + 6, width: lw / parts + 0.5, height: 10,
      fill: rgb(diverging(-limit + (2 * limit * (k + 0.5)) / parts, limit)) }, legend);
  }
  makeSvg("rect", { x: lx, y: top + 6, width: lw, height: 10, fill: "none", stroke: "var(--te-border)" }, legend);
  for (const [t, label] of [[0, `\u2212${fmt(limit, 2)}`], [0.5, "0"], [1, `+${fmt(limit, 2)}`]]) {
    makeSvg("line", { x1: lx + t * lw, x2: lx + t * lw, y1: top + 16, y2: top + 20, stroke: "var(--te-border)" },
      legend);
    makeSvg("text", { x: lx + t * lw, y: top + 31, "text-anchor": "middle", "font-size": 10 }, legend, label);
  }
  return svg;
}

// Attention weights of one query position: heads x keys, viridis; masked keys drawn as masked.
function journeyHeatmap(parent, rows, keys, masked, self) {
  const H = rows.length, S = keys.length;
  const cw = S <= 16 ? 32 : Math.max(12, Math.floor(640 / S)), ch = Math.max(cw, 20); // cell width, height
  const values = cw >= 30, font = cw >= 20 ? 12 : 10;
  const longest = Math.max(1, ...keys.map((k) => journeyPiece(k).length));
  const left = 58, top = 22 + Math.min(16, longest) * (font * 0.45);
  const width = Math.max(left + S * cw + 8, left + 170), height = top + H * ch + 30;
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `attention weights: ${H} heads by ${S} keys` }, parent);
  makeSvg("text", { x: 2, y: top - 5, "font-size": 11, fill: "var(--te-muted)" }, svg, "key \u2192");
  keys.forEach((k, j) => {
    const x = left + (j + 0.5) * cw;
    const g = makeSvg("g", { "data-te-role": "key-label" }, svg);
    tooltip(g, `key ${j}: ${k}`);
    makeSvg("text", { x: x, y: top - 5, transform: `rotate(-45 ${x} ${top - 5})`, "font-size": font,
      "font-weight": j === self ? "bold" : "normal" }, g, journeyPiece(k));
  });
  const grid = makeSvg("g", { "data-te-role": "attention" }, svg);
  rows.forEach((row, h) => {
    makeSvg("text", { x: left - 6, y: top + (h + 0.5) * ch, "text-anchor": "end", "dominant-baseline": "central" },
      svg, `head ${h}`);
    Array.from(row).forEach((w, j) => {
      const hidden = masked && j > self;
      const colour = viridis(w);
      const r = makeSvg("rect", { x: left + j * cw, y: top + h * ch, width: cw - 1, height: ch - 1,
        "data-te-head": h, "data-te-index": j }, grid);
      if (hidden) r.setAttribute("class", "te-masked");
      else r.setAttribute("fill", rgb(colour));
      tooltip(r, hidden ? `head ${h}, key ${j} ${quoted(keys[j])}: masked (a later position), weight 0`
        : `head ${h}, key ${j} ${quoted(keys[j])}: weight ${fmt(w, 3)}`);
    });
  });
  if (values) { // the weights printed in the cells, in a group of their own (the cells' group holds only rects)
    const labels = makeSvg("g", { "data-te-role": "attention-values", "pointer-events": "none" }, svg);
    rows.forEach((row, h) => Array.from(row).forEach((w, j) => {
      if (masked && j > self) return;
      makeSvg("text", { x: left + (j + 0.5) * cw - 0.5, y: top + (h + 0.5) * ch, "text-anchor": "middle",
        "dominant-baseline": "central", "font-size": 10, fill: inkOn(viridis(w)) }, labels, fmt(w, 2));
    }));
  }
  const legend = makeSvg("g", { "data-te-role": "legend" }, svg); // weight 0 .. 1, viridis
  const ly = top + H * ch + 10, lx = left + 44, lw = 100;
  makeSvg("text", { x: left, y: ly + 5, "dominant-baseline": "central", "font-size": 10 }, legend, "weight 0");
  for (let k = 0; k < 20; k++) {
    makeSvg("rect", { x: lx + k * (lw / 20), y: ly, width: lw / 20 + 0.5, height: 10,
      fill: rgb(viridis((k + 0.5) / 20)) }, legend);
  }
  makeSvg("text", { x: lx + lw + 4, y: ly + 5, "dominant-baseline": "central", "font-size": 10 }, legend, "1");
  if (masked && self < S - 1) {
    makeSvg("rect", { x: lx + lw + 18, y: ly, width: 10, height: 10, class: "te-masked" }, legend);
    makeSvg("text", { x: lx + lw + 32, y: ly + 5, "dominant-baseline": "central", "font-size": 10 }, legend,
      "masked");
  }
  return svg;
}

function journeyStatsTable(parent, rowsOf) {
  const table = make("table", { class: "te-table", "data-te-role": "stats" }, parent);
  const head = make("tr", {}, make("thead", {}, table));
  for (const h of ["vector", "mean", "std", "norm \u2016\u00b7\u2016"]) make("th", {}, head, h);
  const body = make("tbody", {}, table);
  for (const [label, v, shown] of rowsOf) {
    const st = journeyStats(v);
    const tr = make("tr", { class: shown ? "te-journey-shown" : null }, body);
    make("td", {}, tr, label);
    for (const x of [st.mean, st.std, st.norm]) make("td", { class: "te-journey-num" }, tr, journeyNumber(x));
  }
  return table;
}

function journeyTopK(parent, model, run, p) {
  const c = model.config, vocab = run.target.vocab;
  const step = run.target.steps[run.target.steps.length - 1];
  const logits = Float64Array.from(step.value[p]);
  for (const id of [c.pad_id, c.bos_id]) if (id !== c.eos_id) logits[id] = -Infinity; // never generated
  const probs = Engine.temperedProbabilities(logits, 1);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, JOURNEY_TOP);
  const chosen = run.output.ids[p + 1];
  const box = make("div", { class: "te-panel" }, parent);
  make("h4", {}, box, `The ${JOURNEY_TOP} most probable next tokens (softmax of the logits)`);
  const table = make("table", { class: "te-table", "data-te-role": "top-k" }, box);
  const head = make("tr", {}, make("thead", {}, table));
  for (const h of ["token", "id", "probability", ""]) make("th", {}, head, h);
  const body = make("tbody", {}, table);
  for (const id of order) {
    const tr = make("tr", { class: id === chosen ? "te-journey-chosen" : null }, body);
    make("td", { class: "te-code" }, tr, journeyPiece(vocab[id]));
    make("td", { class: "te-journey-num" }, tr, id);
    const cellTd = make("td", { class: "te-journey-num" }, tr);
    const svg = makeSvg("svg", { width: 150, height: 14, viewBox: "0 0 150 14", role: "img",
      "aria-label": `probability ${fmt(probs[id], 3)}` }, cellTd);
    makeSvg("rect", { x: 0, y: 2, width: 100, height: 10, fill: "var(--te-panel)", stroke: "var(--te-border)",
      "stroke-width": 0.5 }, svg);
    makeSvg("rect", { x: 0, y: 2, width: Math.max(0.5, 100 * probs[id]), height: 10, fill: "var(--te-accent)",
      "data-te-role": "bar" }, svg);
    makeSvg("text", { x: 106, y: 7, "dominant-baseline": "central", "font-size": 11 }, svg, fmt(probs[id], 3));
    make("td", {}, tr, id === chosen ? "\u2190 chosen" : "");
  }
  const words = chosen === c.eos_id ? "<eos>: the output ends here"
    : `${quoted(journeyPiece(vocab[chosen]))} (id ${chosen}), the next input of the decoder at position ${p + 1}`;
  make("p", { class: "te-readout", "data-te-role": "chosen" }, box, `Greedy decoding chose ${words}.`);
}

// The rows of the stats table, [label, vector, drawn]: for Add & Norm every stage, so the normalization can be
// checked (c: the model's config; p: the position).
function journeyStatsRows(c, step, p) {
  const v = step.value[p];
  if (step.kind === "norm" && !c.norm_first && step.residual && step.sublayer) {
    const sum = step.residual[p].map((x, i) => x + step.sublayer[p][i]);
    const st = journeyStats(sum);
    const normalized = sum.map((x) => (x - st.mean) / Math.sqrt(st.variance + c.layer_norm_eps));
    return [["x: the vector before the sub-layer", step.residual[p]],
      ["Sublayer(x): the sub-layer's output", step.sublayer[p]],
      ["x + Sublayer(x): the Add", sum],
      [`normalized: (sum \u2212 mean) / \u221a(var + ${c.layer_norm_eps})`, normalized],
      ["\u03b3 \u00b7 normalized + \u03b2: drawn above", v, true]];
  }
  if (step.kind === "norm" && step.residual && step.sublayer) { // pre-LN: only the Add
    return [["x: the vector before the sub-layer", step.residual[p]],
      ["Sublayer(LayerNorm(x)): the sub-layer's output", step.sublayer[p]],
      ["x + Sublayer(LayerNorm(x)): drawn above", v, true]];
  }
  if (step.kind === "final_norm") {
    return [["x: the last layer's output", step.residual[p]],
      ["\u03b3 \u00b7 normalized + \u03b2: drawn above", v, true]];
  }
  if (step.kind === "embed") {
    return [["the stored row of the table", step.input[p]], ["\u00d7 \u221ad_model: drawn above", v, true]];
  }
  if (step.kind === "position") {
    return [["x: the scaled embedding", step.input[p]], [`PE(${p}): the positional encoding`,
      v.map((x, i) => x - step.input[p][i])], [`x + PE(${p}): drawn above`, v, true]];
  }
  if (step.kind === "output") return [[`logits: ${v.length} numbers, drawn above`, v, true]];
  return [["this vector, drawn above", v, true]];
}

function render({ model: widget, el }) {
  const state = { side: "source", pos: { source: 0, target: 0 }, step: 0, model: null, run: null };
  const ui = {};
  const steps = () => (state.run ? state.run[state.side].steps : []);
  const frame = liveFrame(el, widget, "token-journey", (bar) => {
    ui.side = selectControl(bar, "side", "Follow:", [["source", "a source token"], ["target", "a target token"]],
      state.side, (v) => setSide(v));
    ui.position = selectControl(bar, "position", "Position:", [], 0, (v) => {
      state.pos[state.side] = Number(v);
      show();
    });
    const stepper = make("span", { class: "te-journey-stepper" }, bar); // Prev, the slider and Next stay together
    ui.prev = make("button", { type: "button", class: "te-button", "data-te-control": "prev",
      "aria-label": "previous step" }, stepper, "\u25c0 Prev");
    ui.step = rangeControl(stepper, "step", "Step:", 0, 0, 0, (v) => go(v),
      (v) => (steps().length ? `${v + 1} / ${steps().length}` : "\u2013"));
    ui.next = make("button", { type: "button", class: "te-button", "data-te-control": "next",
      "aria-label": "next step" }, stepper, "Next \u25b6");
    ui.prev.addEventListener("click", () => go(state.step - 1));
    ui.next.addEventListener("click", () => go(state.step + 1));
  });
  const root = frame.root;
  root.setAttribute("tabindex", "-1"); // a click inside focuses the view, so the arrow keys step
  root.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End");
  const enable = (on) => {
    const focused = document.activeElement;
    for (const control of [ui.side, ui.position, ui.prev, ui.next, ui.step]) control.disabled = !on;
    if (on) {
      ui.prev.disabled = state.step <= 0;
      ui.next.disabled = state.step >= steps().length - 1;
    }
    // a button disabled under the focus (Prev at the first step) would drop it: keep it in the view for the keys
    if (on && focused && focused.disabled && el.contains(focused)) root.focus();
  };
  enable(false);

  function go(i) {
    if (!state.run) return;
    const n = steps().length;
    const next = Math.max(0, Math.min(n - 1, i));
    if (next === state.step && Number(ui.step.value) === next) return;
    state.step = next;
    show();
  }

  function setSide(side) {
    const key = steps()[state.step] ? steps()[state.step].key : null;
    state.side = side;
    const list = steps();
    // the same step on the other side when it has one (layer 1's feed-forward stays layer 1's feed-forward)
    let at = list.findIndex((s) => s.key === key);
    if (at < 0 && key) at = list.findIndex((s) => s.key === key.replace("cross_attn", "self_attn"));
    state.step = at >= 0 ? at : Math.min(state.step, list.length - 1);
    show();
  }

  let tokensBox = null, outputLine = null, path = null, panel = null;

  function show() {
    const run = state.run, model = state.model;
    if (!run) return;
    const side = run[state.side], list = side.steps;
    const p = state.pos[state.side];
    const step = list[state.step];
    // controls
    ui.side.value = state.side;
    setOptions(ui.position, side.pieces.map((piece, i) => [i, `${i}: ${journeyPiece(piece)}`]), p);
    ui.step.max = list.length - 1;
    ui.step.value = state.step;
    const readout = `${state.step + 1} / ${list.length}`;
    ui.step.setAttribute("aria-valuetext", `${readout}: ${step.name}`);
    ui.step.parentNode.querySelector("output").textContent = readout;
    enable(true);
    // tokens of this side, the chosen one marked
    tokensBox.replaceChildren();
    make("div", { class: "te-journey-label" }, tokensBox,
      state.side === "source" ? "Source tokens (encoder input):"
        : "Target tokens (decoder input: <bos> + the output):");
    const box = chips(tokensBox, side.pieces.map(journeyPiece), side.ids, side.vocab);
    Array.from(box.children).forEach((chip, i) => {
      if (i === p) { chip.classList.add("te-journey-here"); chip.setAttribute("aria-current", "true"); }
    });
    // the path of steps, this one marked
    Array.from(path.children).forEach((li) => li.remove());
    list.forEach((s, i) => {
      const li = make("li", { "data-te-index": i, class: i === state.step ? "te-journey-current" : null,
        "aria-current": i === state.step ? "step" : null, title: s.kind === "id" ? "token id" : s.name }, path,
      s.short);
      li.addEventListener("click", () => go(i));
    });
    // the step itself
    panel.replaceChildren();
    const headLine = make("p", { class: "te-journey-head", "aria-live": "polite" }, panel);
    make("span", { class: "te-muted" }, headLine,
      `Step ${state.step + 1} of ${list.length} \u00b7 ${state.side} position ${p} ` +
      `${quoted(journeyPiece(side.pieces[p]))} \u00b7 `);
    const title = step.kind === "id" ? `${step.name}[${side.ids[p]}]` : step.name;
    make("code", { class: "te-code te-journey-name", "data-te-role": "step-name" }, headLine, title);
    make("p", { class: "te-journey-words", "data-te-role": "step-words" }, panel,
      journeyWords(model, run, state.side, Object.assign({ prevKind: prevKind(list, state.step) }, step), p));
    const v = step.value[p];
    const hover = make("p", { class: "te-note", "data-te-role": "cell-readout" }, panel,
      "Hover over a cell for its number.");
    const tipOf = step.kind === "output"
      ? (i, x) => `logit of ${quoted(journeyPiece(side.vocab[i]))} (id ${i}): ${journeyNumber(x)}`
      : (i, x) => `dimension ${i}: ${journeyNumber(x)}`;
    journeyStrip(panel, v, tipOf, hover);
    panel.appendChild(hover);
    const first = Array.from(v.subarray(0, JOURNEY_FIRST), journeyNumber).join(", ");
    make("p", { class: "te-code te-journey-numbers", "data-te-role": "numbers" }, panel,
      `[${first}${v.length > JOURNEY_FIRST ? ", \u2026" : ""}]  the first ${Math.min(JOURNEY_FIRST, v.length)} of ` +
      `${v.length} numbers`);
    const figure = make("div", { class: "te-panels" }, panel);
    const statsBox = make("div", { class: "te-panel" }, figure);
    make("h4", {}, statsBox, "Mean, std (\u00f7 D, as LayerNorm) and norm of this position's vector");
    journeyStatsTable(statsBox, journeyStatsRows(model.config, step, p));
    if (step.kind === "attention") {
      const attnBox = make("div", { class: "te-panel" }, figure);
      const keys = step.attention === "encoder_self" ? run.source.pieces
        : step.attention === "cross" ? run.source.pieces : run.target.pieces;
      make("h4", {}, attnBox, `Attention weights of position ${p} over the ${step.attention === "cross"
        ? "source" : state.side} keys, per head (each row sums to 1)`);
      journeyHeatmap(attnBox, step.weights.map((head) => head[p]), keys, step.attention === "decoder_self",
        step.attention === "cross" ? -1 : p);
    }
    if (step.kind === "output") journeyTopK(figure, model, run, p);
  }

  function prevKind(list, i) {
    for (let k = i - 1; k >= 0; k--) {
      if (list[k].kind === "attention" || list[k].kind === "feed_forward") return list[k].kind;
    }
    return null;
  }

  // arrow keys step when the focus is in the view but not in a text box, a list or a slider (they have their own)
  root.addEventListener("keydown", (event) => {
    if (!state.run || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, select, textarea")) return;
    const to = { ArrowLeft: state.step - 1, ArrowRight: state.step + 1, Home: 0, End: steps().length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    go(to);
  });

  frame.input.addEventListener("input", () => { if (frame.area.hidden) enable(false); });

  frame.onDraw((model, source, area) => {
    state.model = model;
    state.run = journeyRun(model, source);
    for (const side of ["source", "target"]) { // keep the position while it exists; else the last one
      state.pos[side] = Math.max(0, Math.min(state.pos[side], state.run[side].pieces.length - 1));
    }
    state.step = Math.min(state.step, steps().length - 1);
    area.replaceChildren();
    tokensBox = make("div", { class: "te-journey-tokens" }, area);
    outputLine = make("p", { class: "te-readout", "data-te-role": "output" }, area);
    make("strong", {}, outputLine, "Output: ");
    outputLine.append(Engine.decodeIds(model.tokenizers.tgt, state.run.output.ids));
    path = make("ol", { class: "te-journey-path", "data-te-role": "path", "aria-label": "the steps" }, area);
    panel = make("div", { class: "te-journey-step", "data-te-role": "step" }, area);
    show();
  });
}
