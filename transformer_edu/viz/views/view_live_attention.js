// LiveAttention: the attention of the model running in the page, on typed text, and head ablation.
// data = {asset, text, title, max_chars, label, kind, layer, head, measured: [{heads: [[kind, layer, head]],
//         exact_match}], measured_on}
// Switching heads off follows ablation.py: a head's part of the Concat is zero before W^O.

const KIND_NAMES = { encoder_self: "encoder self-attention", decoder_self: "decoder self-attention (masked)",
  cross: "encoder-decoder attention" };
const headKey = ([kind, layer, head]) => `${kind}/${layer}/${head}`;
const setKey = (heads) => heads.map(headKey).sort().join(" ");

function render({ model: widget, el }) {
  const data = widget.get("data");
  const state = { kind: data.kind, layer: data.layer, head: data.head, off: new Set() };
  const measured = new Map((data.measured || []).map((m) => [setKey(m.heads), m.exact_match]));
  const baseline = measured.get(""); // exact match with every head on, when the chapter measured it
  const lost = (value) => (baseline === undefined ? "" :
    ` (${fmt(100 * (baseline - value), 1)} points below the ${fmt(100 * baseline, 1)}% with every head on)`);
  let selects = null;
  const frame = liveFrame(el, widget, "live-attention", (bar) => {
    const redraw = () => frame.refresh();
    selects = {
      kind: selectControl(bar, "kind", "Attention:", Object.entries(KIND_NAMES), state.kind,
        (v) => { state.kind = v; redraw(); }),
      layer: selectControl(bar, "layer", "Layer:", [[0, "0"]], state.layer, (v) => { state.layer = Number(v); redraw(); }),
      head: selectControl(bar, "head", "Head:", [[0, "0"]], state.head, (v) => { state.head = v; redraw(); }),
    };
  });
  let grid = null; // the ablation checkboxes, built once the model's sizes are known

  function buildGrid(model, parent) {
    const c = model.config;
    const box = make("fieldset", { class: "te-ablation", "data-te-role": "ablation" }, parent);
    make("legend", {}, box, "Switch heads off (tick to ablate):");
    const layersOf = { encoder_self: c.n_encoder_layers, decoder_self: c.n_decoder_layers, cross: c.n_decoder_layers };
    for (const kind of Object.keys(KIND_NAMES)) {
      for (let layer = 0; layer < layersOf[kind]; layer++) {
        const line = make("div", { class: "te-ablation-row" }, box);
        make("span", { class: "te-ablation-name" }, line, `${KIND_NAMES[kind]}, layer ${layer}:`);
        for (let head = 0; head < c.n_heads; head++) {
          const alone = measured.get(setKey([[kind, layer, head]]));
          const label = checkControl(line, "ablate", `head ${head}`, false, (on) => {
            if (on) state.off.add(headKey([kind, layer, head]));
            else state.off.delete(headKey([kind, layer, head]));
            frame.refresh();
          }).parentNode;
          const input = label.querySelector("input");
          setAttrs(input, { "data-te-kind": kind, "data-te-layer": layer, "data-te-head": head });
          if (alone !== undefined) {
            label.title = `measured: ${fmt(100 * alone, 1)}% exact match without this head alone${lost(alone)}`;
          }
        }
      }
    }
    const clear = make("button", { type: "button", class: "te-button", "data-te-control": "clear" }, box,
      "Switch every head back on");
    clear.addEventListener("click", () => {
      state.off.clear();
      box.querySelectorAll("input").forEach((i) => { i.checked = false; });
      frame.refresh();
    });
    return box;
  }

  frame.onDraw((model, source, area) => {
    const c = model.config;
    if (!grid) {
      const nLayers = state.kind === "encoder_self" ? c.n_encoder_layers : c.n_decoder_layers;
      setOptions(selects.layer, Array.from({ length: nLayers }, (_, l) => [l, String(l)]), state.layer);
      setOptions(selects.head, [...Array.from({ length: c.n_heads }, (_, h) => [h, String(h)]), ["mean", "mean of heads"]],
        state.head);
      grid = buildGrid(model, frame.root);
      frame.root.insertBefore(grid, frame.area);
    }
    const nLayers = state.kind === "encoder_self" ? c.n_encoder_layers : c.n_decoder_layers;
    state.layer = Math.min(state.layer, nLayers - 1);
    setOptions(selects.layer, Array.from({ length: nLayers }, (_, l) => [l, String(l)]), state.layer);
    const off = [...state.off].map((k) => k.split("/")).map(([kind, l, h]) => [kind, Number(l), Number(h)]);

    // the model twice: all heads on, and with the ticked heads off
    const intact = Engine.greedyDecode(model, source.ids);
    const ablated = off.length ? Engine.greedyDecode(model, source.ids, { ablate: off }) : intact;
    const memory = Engine.encode(model, source.ids, { ablate: off });
    const target = ablated.ids.slice(0, -1); // <bos> + the output, as the decoder read it
    const decoded = Engine.decode(model, target, memory.memory, { ablate: off });
    const weights = Object.assign({}, memory.weights, { decoder_self: decoded.weights.decoder_self,
      cross: decoded.weights.cross });
    const tgtVocab = model.tokenizers.tgt.vocab;
    const targetTokens = target.map((id) => tgtVocab[id]);

    area.replaceChildren();
    const outputs = make("div", { class: "te-panels" }, area);
    const panel = (title, ids, role) => {
      const p = make("div", { class: "te-panel" }, outputs);
      make("h4", {}, p, title);
      make("div", { class: "te-code", "data-te-role": role }, p, Engine.decodeIds(model.tokenizers.tgt, ids));
    };
    panel("All heads on", intact.ids, "output-intact");
    panel(off.length ? `${off.length} head${off.length > 1 ? "s" : ""} off` : "Nothing switched off", ablated.ids,
      "output-ablated");
    const verdict = make("p", { class: "te-readout", "data-te-role": "verdict" }, area);
    const known = measured.get(setKey(off));
    verdict.textContent = (off.length === 0 ? "Tick heads above to switch them off. " :
      intact.ids.join() === ablated.ids.join() ? "Same output without these heads. " : "The output changed. ") +
      (known === undefined ? (off.length ? "The chapter did not measure this set of heads on the held-out dates." : "")
        : `Measured in the chapter with ${off.length ? "exactly these heads off" : "all heads on"}: ` +
        `${fmt(100 * known, 1)}% exact match on ${data.measured_on}${off.length ? lost(known) : ""}.`);

    // the probability of each token of the intact output, with and without the heads
    const table = make("table", { class: "te-table", "data-te-role": "probabilities" }, area);
    const head = make("tr", {}, make("thead", {}, table));
    for (const h of ["step", "all heads on: token, p", "heads off: p of that token", "heads off chooses"]) make("th", {}, head, h);
    const body = make("tbody", {}, table);
    const withOff = off.length ? Engine.decode(model, intact.ids.slice(0, -1), memory.memory, { ablate: off }).logits : null;
    intact.steps.forEach((step, t) => {
      const tr = make("tr", {}, body);
      const token = step.chosen;
      make("td", {}, tr, t + 1);
      make("td", { class: "te-code" }, tr, `${shortToken(tgtVocab[token], 8)}  ${fmt(step.probs[token], 3)}`);
      if (!withOff) { make("td", {}, tr, "\u2013"); make("td", {}, tr, "\u2013"); return; }
      const logits = Float64Array.from(withOff[t]);
      for (const id of [c.pad_id, c.bos_id]) if (id !== c.eos_id) logits[id] = -Infinity;
      const probs = Engine.temperedProbabilities(logits, 1);
      const choice = probs.indexOf(Math.max(...probs));
      make("td", { class: "te-code" }, tr, fmt(probs[token], 3));
      make("td", { class: choice === token ? "te-code" : "te-code te-changed" }, tr,
        `${shortToken(tgtVocab[choice], 8)}  ${fmt(probs[choice], 3)}`);
    });
    make("p", { class: "te-note" }, area, "Every row reads the same prefix, the output with all heads on up to that " +
      "step, with and without the ticked heads: so each row shows what switching them off does to one step.");

    // the chosen attention as a heatmap (with the ticked heads off: later layers change; an ablated head still
    // computes its weights, nothing uses its output)
    const queries = state.kind === "encoder_self" ? source.pieces : targetTokens;
    const keys = state.kind === "decoder_self" ? targetTokens : source.pieces;
    const perHead = weights[state.kind][state.layer]; // (H, T, S)
    const matrix = state.head === "mean" ? meanOf(perHead.map((m) => m.map((r) => Array.from(r))))
      : perHead[Number(state.head)].map((r) => Array.from(r));
    const title = make("p", { class: "te-readout" }, area, `${KIND_NAMES[state.kind]}, layer ${state.layer}, ` +
      `${state.head === "mean" ? "mean of the heads" : `head ${state.head}`}, on the output ` +
      `${off.length ? "with the ticked heads off" : "of the model"}` +
      `${state.off.has(`${state.kind}/${state.layer}/${state.head}`) ? " (switched off: computed, not used)" : ""}`);
    title.setAttribute("data-te-role", "heatmap-title");
    const causal = state.kind === "decoder_self";
    const map = heatmap(make("div", { class: "te-figure" }, area), queries, keys, { values: true, cell: 32 });
    map.setValues(matrix, (v, i, j) => (causal && j > i ? null : viridis(v)), (v, i, j) => (causal && j > i ? "" : fmt(v, 2)),
      (v, i, j) => `${queries[i]} \u2192 ${keys[j]}: ${fmt(v, 3)}`);
  });
}
