// MaskedAttentionExplorer: one matrix of scores; softmax and the masks are computed here, in the browser.
// data = {title, scores: T x S, query_tokens, key_tokens, pad_positions: [key index], causal_possible,
//         padding, causal}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const root = viewRoot(el, "masked-attention", data.title);
    const pads = new Set(data.pad_positions);
    const state = { padding: Boolean(data.padding), causal: Boolean(data.causal), show: "weights", query: null };
    const bar = controlBar(root);
    const padBox = checkControl(bar, "padding-mask", "padding mask", state.padding, (v) => { state.padding = v; update(); });
    padBox.disabled = pads.size === 0;
    const causalBox = checkControl(bar, "causal-mask", "causal mask (no looking ahead)", state.causal,
      (v) => { state.causal = v; update(); });
    causalBox.disabled = !data.causal_possible;
    selectControl(bar, "show", "Show:", [["weights", "weights (after softmax)"], ["scores", "scores (before softmax)"]],
      "weights", (v) => { state.show = v; update(); });
    const figure = make("div", { class: "te-figure" }, root);
    const map = heatmap(figure, data.query_tokens, data.key_tokens, { cell: 34, values: true });
    map.svg.querySelectorAll("[data-te-role=col-label]").forEach((g, j) => {
      if (!pads.has(j)) return;
      g.setAttribute("font-style", "italic");
      g.querySelector("title").textContent += " (padding)";
    });
    const readout = make("p", { class: "te-readout", "aria-live": "polite" }, root);
    const note = make("p", { class: "te-note" }, root);
    if (pads.size) {
      note.textContent = `Padding positions (keys): ${[...pads].sort((a, b) => a - b).join(", ")}. ` +
        "The padding mask hides these keys from every query; the causal mask hides every key after the query's own position.";
    } else {
      note.textContent = "The causal mask hides every key after the query's own position.";
    }
    if (!data.causal_possible) note.textContent += " The causal mask needs as many queries as keys.";

    const allowed = () => data.scores.map((row, i) => row.map((_, j) =>
      !(state.padding && pads.has(j)) && !(state.causal && j > i)));
    let weights = null;
    let mask = null;
    const describe = (i) => {
      const blocked = mask.map((row) => row.every((a) => !a));
      const empty = blocked.map((b, r) => (b ? r : -1)).filter((r) => r >= 0);
      let text = state.padding || state.causal
        ? `Masked scores are set to \u2212\u221e before softmax, so their weights are exactly 0.`
        : "No mask: every query attends to every key.";
      if (empty.length) {
        text += ` Rows ${empty.join(", ")} have no key left: softmax is undefined there (0/0); ` +
          "the package's attention returns all-zero weights for such rows, and so does this view.";
      }
      if (i !== null && i !== undefined) {
        const row = weights[i];
        const sum = row.reduce((a, b) => a + b, 0);
        text = `Query ${i} ${quoted(data.query_tokens[i])}: weights ` +
          row.map((w, j) => `${shortToken(data.key_tokens[j], 8)} ${w.toFixed(2)}`).join(", ") +
          ` (sum ${sum.toFixed(2)}).`;
      }
      readout.textContent = text;
    };
    const focus = (i) => {
      state.query = i === undefined ? null : i;
      map.highlightRow(state.query);
      describe(state.query);
    };
    const update = () => {
      mask = allowed();
      weights = data.scores.map((row, i) => softmax(row, mask[i]));
      if (state.show === "weights") {
        map.setValues(weights, (v, i, j) => (mask[i][j] ? viridis(v) : null), (v) => v.toFixed(2),
          (v, i, j) => `${data.query_tokens[i]} \u2192 ${data.key_tokens[j]}: weight ${v.toFixed(3)}` +
            (mask[i][j] ? "" : " (masked)"));
      } else {
        let lo = Infinity;
        let hi = -Infinity;
        data.scores.forEach((row, i) => row.forEach((v, j) => {
          if (mask[i][j]) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        }));
        const span = hi > lo ? hi - lo : 1;
        map.setValues(data.scores, (v, i, j) => (mask[i][j] ? viridis((v - lo) / span) : null),
          (v, i, j) => (mask[i][j] ? v.toFixed(2) : "\u2212\u221e"),
          (v, i, j) => `${data.query_tokens[i]} \u2192 ${data.key_tokens[j]}: score ${v.toFixed(3)}` +
            (mask[i][j] ? "" : " (masked: \u2212\u221e)"));
      }
      focus(state.query);
    };
    const hl = highlighter(focus);
    map.rowLabels.forEach((g, i) => hl.bind(g, i, `query ${i}: ${data.query_tokens[i]}`));
    update();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
