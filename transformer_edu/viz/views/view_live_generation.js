// LiveGeneration: a decoder-only model (a GPT checkpoint) continues a prompt in the page, one token at a time,
// with each step's probabilities. The Python original is gpt.generate (temperature, top-k, top-p, the key/value
// cache, the context crop); engine.js mirrors it, and this view only draws what Engine.generation yields.
// It runs in slices of about 40 ms, so the page stays responsive and the text appears as it is written; a new
// run (Generate) abandons the one before.
// data = {asset, text, title, max_chars, label, temperature (null: greedy), top_k, top_p, seed, max_new_tokens,
//         generation_max}

const GENERATION_TEMPERATURES = [null, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1, 1.2, 1.5, 2]; // null: greedy
const GENERATION_TOP_KS = [1, 2, 3, 5, 10, 20, 40];
const GENERATION_TOP_PS = [0.5, 0.8, 0.9, 0.95];
const GENERATION_BARS = 5; // next-token candidates drawn at each step
const GENERATION_SLICE_MS = 40; // how long one slice of generation may hold the page
const GENERATION_SEED_MAX = 4294967295; // the page's generator takes 32-bit seeds

const generationNumber = (x) => (x === null ? "greedy" : String(x));

// A token as it is drawn in a label: a space, a line break made visible.
function generationLabel(vocab, id) {
  const piece = vocab[id];
  if (piece === " ") return "\u2423";
  return piece === "\n" ? "\u21b5" : shortToken(piece, 12);
}

// The typed prompt -> {pieces, ids, note}; throws an Error that says what to type instead. A language model
// has never seen <unk>, so characters outside its vocabulary are refused rather than read as <unk>.
function promptFor(model, text, maxChars) {
  const example = model.name === "shakespeare" ? " such as \u201c**ROMEO**\u201d and a line break" : "";
  if (!text) throw new Error(`Type a prompt${example}.`);
  const length = Array.from(text).length;
  if (length > maxChars) throw new Error(`That is ${length} characters; the prompt takes at most ${maxChars}.`);
  const prompt = Engine.encodeText(model.tokenizers.src, text);
  const unknown = [...new Set(prompt.unknown)];
  if (unknown.length) {
    throw new Error(`Not in the model's vocabulary: ${unknown.slice(0, 5).map(quoted).join(", ")}` +
      `${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""}. The model knows only the ` +
      `${model.config.vocab_size - 4} pieces of its training text: type others.`);
  }
  const n = model.config.max_len;
  prompt.note = prompt.ids.length > n ? `The prompt has ${prompt.ids.length} tokens; the model sees only the ` +
    `last ${n} (its context), as gpt.generate does.` : "";
  return prompt;
}

// Bars for the most probable next tokens: the distribution drawn from (or, greedy, the model's own), with the
// model's own probability beside it; the chosen token in the accent colour, outlined and named.
function generationBars(parent, vocab, step, order) {
  const labelW = 50, barW = 260, valueW = 210, rowH = 24, axisH = 20;
  const width = labelW + barW + valueW, height = rowH * order.length + axisH;
  const shown = step.drawn || step.probs;
  const text = (id) => (step.drawn ? `p = ${fmt(step.drawn[id], 4)} (model ${fmt(step.probs[id], 4)})`
    : `p = ${fmt(step.probs[id], 4)}`);
  const svg = makeSvg("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "data-te-role": "next-token", "aria-label": "next-token probabilities: " + order.map((id) =>
      `${generationLabel(vocab, id)} ${text(id)}${id === step.chosen ? " (chosen)" : ""}`).join(", ") }, parent);
  order.forEach((id, r) => {
    const y = r * rowH, isChosen = id === step.chosen;
    const g = makeSvg("g", { "data-te-token": id }, svg);
    tooltip(g, `token ${quoted(vocab[id])} (id ${id}): ${text(id)}${isChosen ? ", chosen" : ""}`);
    makeSvg("text", { x: labelW - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central",
      class: "te-generation-token", "font-weight": isChosen ? 700 : 400 }, g, generationLabel(vocab, id));
    makeSvg("rect", { x: labelW, y: y + 3, width: barW, height: rowH - 6, fill: "var(--te-panel)" }, g);
    makeSvg("rect", { x: labelW, y: y + 3, width: Math.max(0.5, shown[id] * barW), height: rowH - 6,
      fill: isChosen ? "var(--te-accent)" : "var(--te-other)", stroke: isChosen ? "currentColor" : "none",
      "stroke-width": 1.5, "data-te-role": "bar", "data-te-token": id, "data-te-chosen": isChosen,
      "data-te-p": shown[id] }, g);
    makeSvg("text", { x: labelW + barW + 8, y: y + rowH / 2, "dominant-baseline": "central",
      "font-weight": isChosen ? 700 : 400 }, g, `${text(id)}${isChosen ? "  \u25c0 chosen" : ""}`);
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

// What one run used, in words.
function generationSettings(run) {
  const { temperature, topK, topP } = run.options;
  if (temperature === null) return "greedy (the most probable token at every step)";
  return `temperature ${temperature} \u00b7 top-k ${topK || "all"} \u00b7 top-p ${topP || "all"} \u00b7 seed ` +
    `${run.options.seed}`;
}

// Step `k` (1-based) of a run: the context the model saw, then its most probable next tokens.
function generationStep(box, model, run, k) {
  const c = model.config, vocab = model.tokenizers.tgt.vocab, step = run.steps[k - 1];
  const end = run.prompt.length + k - 1; // the tokens before this step
  box.replaceChildren();
  const head = make("p", { class: "te-note" }, box);
  const seen = end - step.start;
  head.textContent = `Step ${k}: the model sees ${seen} token${seen === 1 ? "" : "s"} at positions 0 to ${seen - 1}` +
    (step.start ? ` (the last ${c.max_len}: the first ${step.start} no longer fit its context, so it recomputes the ` +
      "whole window without the cache, as gpt.generate does)" : (k > 1 ? " (the newest through the key/value cache)" : "")) +
    ":";
  const context = make("pre", { class: "te-generation-context", "data-te-role": "context" }, box);
  if (step.start) make("span", { class: "te-muted" }, context, "\u2026");
  context.append(Engine.decodeIds(model.tokenizers.tgt, run.ids.slice(step.start, end)));
  const order = [...step.probs.keys()].sort((a, b) => step.probs[b] - step.probs[a] || a - b)
    .slice(0, GENERATION_BARS);
  if (!order.includes(step.chosen)) order.push(step.chosen); // a draw from the tail: shown too
  const chose = make("p", { class: "te-note" }, box);
  chose.textContent = step.drawn ? `Drawn from softmax(logits / ${run.options.temperature})` +
    `${run.options.topK ? `, top-k ${run.options.topK}` : ""}${run.options.topP ? `, top-p ${run.options.topP}` : ""}` +
    `${run.options.topP ? ", renormalized" : ""}: ${quoted(vocab[step.chosen])}.` :
    `Greedy: the most probable token, ${quoted(vocab[step.chosen])}.`;
  generationBars(box, vocab, step, order);
  const shown = order.reduce((a, id) => a + (step.drawn || step.probs)[id], 0);
  const kept = step.drawn ? step.drawn.filter((p) => p > 0).length : vocab.length;
  make("p", { class: "te-note" }, box, `The other ${vocab.length - order.length} tokens share ` +
    `${fmt(Math.max(0, 1 - shown), 4)}` + (step.drawn ? `; ${kept} of the ${vocab.length} tokens could be drawn ` +
      "at this step. \u201cmodel\u201d is the model's own probability, softmax(logits)." : "."));
}

function render({ model: widget, el }) {
  const data = widget.get("data");
  const temperatures = [...new Set([...GENERATION_TEMPERATURES, data.temperature])]
    .sort((a, b) => (a === null ? -1 : b === null ? 1 : a - b));
  const topKs = [...new Set([...GENERATION_TOP_KS, ...(data.top_k ? [data.top_k] : [])])].sort((a, b) => a - b);
  const topPs = [...new Set([...GENERATION_TOP_PS, ...(data.top_p ? [data.top_p] : [])])].sort((a, b) => a - b);
  const state = { temperature: data.temperature, topK: data.top_k, topP: data.top_p, seed: data.seed,
    n: data.max_new_tokens, step: 1, runs: 0, prompt: null, model: null, shown: null };
  const ui = {};
  const settingsKey = () => JSON.stringify([state.prompt && state.prompt.ids, state.temperature, state.topK,
    state.topP, state.seed, state.n]);
  const changed = () => { // a setting differs from the run shown: say so; Generate runs again
    if (!ui.status || !state.shown || state.shown.running) return;
    const stale = state.shown.key !== settingsKey();
    ui.status.textContent = stale ? "Settings changed: press Generate to run with them." : state.shown.summary;
    ui.status.dataset.teState = stale ? "changed" : "done";
  };

  const frame = liveFrame(el, widget, "live-generation", (bar) => {
    const filters = [];
    rangeControl(bar, "temperature", "Temperature:", 0, temperatures.length - 1,
      temperatures.indexOf(data.temperature), (i) => {
        state.temperature = temperatures[i];
        filters.forEach((f) => { f.disabled = state.temperature === null; }); // greedy ignores them
        changed();
      }, (i) => generationNumber(temperatures[i]));
    filters.push(selectControl(bar, "top-k", "Top-k:", [["all", "all"], ...topKs.map((k) => [k, String(k)])],
      state.topK || "all", (v) => { state.topK = v === "all" ? null : Number(v); changed(); }));
    filters.push(selectControl(bar, "top-p", "Top-p:", [["all", "all"], ...topPs.map((p) => [p, String(p)])],
      state.topP || "all", (v) => { state.topP = v === "all" ? null : Number(v); changed(); }));
    filters.forEach((f) => { f.disabled = state.temperature === null; });
    const seed = numberControl(bar, "seed", "Seed:", 0, GENERATION_SEED_MAX, state.seed,
      (v) => { state.seed = v; changed(); });
    const tokens = numberControl(bar, "tokens", "New tokens:", 1, data.generation_max, state.n,
      (v) => { state.n = v; changed(); });
    ui.generate = make("button", { type: "button", class: "te-button", "data-te-control": "generate" }, bar,
      "Generate");
    ui.generate.addEventListener("click", () => start());
    for (const box of [seed, tokens]) {
      box.addEventListener("keydown", (event) => { if (event.key === "Enter") start(); });
    }
  }, { multiline: true, read: (model, text) => promptFor(model, text, data.max_chars) });
  frame.input.addEventListener("keydown", (event) => { // Ctrl+Enter (or Cmd+Enter) in the prompt generates
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      start();
    }
  });

  // one generation: the engine's steps, in slices of GENERATION_SLICE_MS, drawn as they come
  function start() {
    if (!state.model || !state.prompt || frame.area.hidden) return; // no model yet, or the message says what is wrong
    const model = state.model, prompt = state.prompt.ids, id = ++state.runs;
    const options = { maxNewTokens: state.n, temperature: state.temperature, topK: state.topK, topP: state.topP,
      seed: state.seed };
    const run = { prompt: prompt, ids: prompt.slice(), steps: [], options: options, key: settingsKey(),
      running: true, began: performance.now() };
    const steps = Engine.generation(model, prompt, options);
    state.shown = run;
    state.step = 1;
    draw(model, run);
    const slice = () => {
      if (id !== state.runs) return; // a newer run took over
      const until = performance.now() + GENERATION_SLICE_MS;
      let next = steps.next();
      while (!next.done) {
        run.steps.push(next.value);
        run.ids.push(next.value.chosen);
        if (performance.now() > until) break;
        next = steps.next();
      }
      if (next.done) {
        run.running = false;
        const seconds = (performance.now() - run.began) / 1000;
        run.summary = `Generated ${run.steps.length} tokens in ${seconds.toFixed(1)} s: ${generationSettings(run)}.`;
      }
      update(model, run);
      if (!next.done) setTimeout(slice, 0);
    };
    slice();
  }

  // the area for a run: status, the text (prompt, then the new tokens), the step slider and the step
  function draw(model, run) {
    const area = frame.area, vocab = model.tokenizers.tgt.vocab;
    area.replaceChildren();
    ui.status = make("p", { class: "te-note", "data-te-role": "status", "data-te-state": "running", role: "status",
      "aria-busy": "true" }, area, "Generating\u2026"); // read out once, when the run is done
    ui.output = make("pre", { class: "te-generation-output", "data-te-role": "output" }, area);
    make("span", { class: "te-generation-prompt", "data-te-role": "prompt" }, ui.output,
      Engine.decodeIds(model.tokenizers.tgt, run.prompt));
    ui.tokens = [];
    make("h4", { class: "te-generation-heading" }, area, "Step by step");
    const bar = controlBar(area);
    ui.step = rangeControl(bar, "step", "Step:", 1, 1, 1, (v) => {
      state.step = v;
      showStep(model, run);
    }, (v) => `${v} of ${run.steps.length}`);
    ui.stepOut = ui.step.parentNode.querySelector("output");
    ui.box = make("div", { class: "te-generation-step", "data-te-role": "step" }, area);
    make("p", { class: "te-note" }, area, "Greedy generation here gives the tokens of Python's gpt.generate with " +
      "temperature=None, and every step's probabilities are decoding.next_token_probabilities's (computed here in " +
      "float64, in torch in float32: they agree to about 1e-6). Sampling draws with the page's own seeded " +
      "generator, not torch's: the same seed gives other text than gpt.generate with a torch.Generator, drawn " +
      "from the same probabilities.");
    ui.vocab = vocab;
  }

  // new steps arrived: the text grows, the slider reaches further, the status counts
  function update(model, run) {
    for (let i = ui.tokens.length; i < run.steps.length; i++) {
      const k = i + 1, id = run.steps[i].chosen;
      const span = make("span", { class: "te-generation-new", "data-te-step": k,
        title: `step ${k}: ${quoted(ui.vocab[id])} (id ${id})` }, ui.output,
      Engine.decodeIds(model.tokenizers.tgt, [id]));
      span.addEventListener("click", () => { // the mouse may pick a step too; the keyboard has the slider
        state.step = k;
        ui.step.value = String(k);
        showStep(model, run);
      });
      ui.tokens.push(span);
    }
    ui.step.max = String(Math.max(1, run.steps.length));
    if (run.running) {
      ui.status.textContent = `Generating\u2026 ${run.steps.length} of ${run.options.maxNewTokens} tokens`;
    } else {
      ui.status.textContent = run.summary;
      ui.status.dataset.teState = "done";
      ui.status.setAttribute("aria-busy", "false");
      changed();
    }
    if (run.steps.length) showStep(model, run);
  }

  function showStep(model, run) {
    const k = Math.min(state.step, run.steps.length);
    ui.tokens.forEach((span, i) => span.classList.toggle("te-generation-current", i === k - 1));
    ui.stepOut.textContent = `${k} of ${run.steps.length}`;
    ui.step.setAttribute("aria-valuetext", ui.stepOut.textContent);
    generationStep(ui.box, model, run, k);
  }

  frame.onDraw((model, prompt) => {
    const first = !state.model;
    state.model = model;
    state.prompt = prompt;
    if (first) start(); // the first run starts by itself; later edits wait for Generate
    else changed();
  });
}
