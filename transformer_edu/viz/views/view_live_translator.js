// LiveTranslator: type a source; the model in the page translates it and lists every tensor's shape.
// data = {asset, text, title, max_chars, label}

// What each traced tensor is (the names are the Python modules' attribute paths).
function describeStep(name) {
  const layer = name.match(/^(encoder|decoder)\.layers\.(\d+)\.(\w+)/);
  if (!layer) {
    return { src_embed: "source embeddings x \u221ad_model", src_position: "+ positional encoding",
      tgt_embed: "target embeddings x \u221ad_model", tgt_position: "+ positional encoding",
      output: "final linear: logits over the vocabulary", "encoder.final_norm": "final LayerNorm (a later change)",
      "decoder.final_norm": "final LayerNorm (a later change)" }[name] || name;
  }
  const what = { self_attn: layer[1] === "encoder" ? "self-attention" : "masked self-attention",
    self_attn_norm: "Add & Norm", cross_attn: "encoder-decoder attention", cross_attn_norm: "Add & Norm",
    feed_forward: "feed-forward", ff_norm: "Add & Norm" }[layer[3]];
  return `${layer[1]} layer ${layer[2]}: ${what}`;
}

function render({ model: widget, el }) {
  const frame = liveFrame(el, widget, "live-translator");
  frame.onDraw((model, source, area) => {
    const c = model.config;
    const output = Engine.greedyDecode(model, source.ids);
    const trace = [];
    const enc = Engine.encode(model, source.ids, { trace: trace });
    const dec = Engine.decode(model, output.ids.slice(0, -1), enc.memory, { trace: trace });
    const S = source.ids.length, T = output.ids.length - 1;
    area.replaceChildren();
    chips(area, source.pieces, source.ids, model.tokenizers.src.vocab);
    const answer = make("p", { class: "te-readout", "data-te-role": "output" }, area);
    make("strong", {}, answer, "Output: ");
    answer.append(Engine.decodeIds(model.tokenizers.tgt, output.ids));
    const table = make("table", { class: "te-table", "data-te-role": "shapes" }, area);
    const head = make("tr", {}, make("thead", {}, table));
    for (const h of ["step", "tensor", "shape"]) make("th", {}, head, h);
    const body = make("tbody", {}, table);
    const row = (step, name, shape) => {
      const tr = make("tr", {}, body);
      make("td", {}, tr, step);
      make("td", { class: "te-code" }, tr, name);
      make("td", { class: "te-code" }, tr, `(${shape.join(", ")})`);
    };
    row("source ids", "src_ids", [1, S]);
    for (const { name, value } of trace) {
      if (name === "tgt_embed") {
        row("memory: the encoder's output", "memory", [1, S, c.d_model]);
        row("target ids: <bos> + the output, without its last token <eos>", "tgt_ids", [1, T]);
      }
      row(describeStep(name), name, [1, value.length, value[0].length]);
    }
    const attn = make("p", { class: "te-note" }, area);
    attn.textContent = `Attention weights, per layer: encoder self (1, ${c.n_heads}, ${S}, ${S}); decoder self ` +
      `(1, ${c.n_heads}, ${T}, ${T}); encoder-decoder (1, ${c.n_heads}, ${T}, ${S}). B = 1 sentence, S = ${S} source ` +
      `tokens, T = ${T} target positions, D = ${c.d_model}, V = ${c.tgt_vocab_size}.`;
  });
}
