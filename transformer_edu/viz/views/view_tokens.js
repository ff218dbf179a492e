// TokenExplorer: pre-computed tokenizations shown as chips (the piece, and its id underneath).
// data = {title, texts: [name], tokenizers: [name], table: [text][tokenizer] -> [[piece, id], ...] or null, note}

function render({ model, el }) {
  const draw = () => {
    const data = model.get("data");
    const root = viewRoot(el, "tokens", data.title);
    const state = { text: 0, tokenizer: data.tokenizers.length > 1 ? "all" : 0 };
    const bar = controlBar(root);
    const textSelect = selectControl(bar, "text", "Example:", data.texts.map((t, i) => [i, shortToken(t, 40)]), 0,
      (v) => { state.text = Number(v); update(); });
    textSelect.disabled = data.texts.length < 2;
    const tokOptions = data.tokenizers.map((t, i) => [i, t || "tokenizer"]);
    if (data.tokenizers.length > 1) tokOptions.push(["all", "all, one row each"]);
    const tokSelect = selectControl(bar, "tokenizer", "Tokenizer:", tokOptions, state.tokenizer,
      (v) => { state.tokenizer = v === "all" ? "all" : Number(v); update(); });
    tokSelect.disabled = data.tokenizers.length < 2;
    const body = make("div", { "data-te-role": "tokenizations" }, root);
    make("p", { class: "te-note" }, root, data.note);

    const update = () => {
      body.replaceChildren();
      const which = state.tokenizer === "all" ? data.tokenizers.map((_, i) => i) : [state.tokenizer];
      for (const k of which) {
        const pairs = data.table[state.text][k];
        const name = data.tokenizers[k];
        const head = make("div", { class: "te-row-name" }, body);
        head.textContent = (name ? name + ": " : "") +
          (pairs === null ? "not tokenized with this tokenizer" : `${pairs.length} token${pairs.length === 1 ? "" : "s"}`);
        if (pairs === null) continue;
        const chips = make("div", { class: "te-chips", role: "list", "aria-label": `${name || "tokens"}` }, body);
        pairs.forEach(([piece, id], i) => {
          const chip = make("span", { class: "te-chip", role: "listitem", "data-te-role": "chip",
            title: `token ${i}: id ${id}`, style: `background:${CHIP_COLOURS[i % CHIP_COLOURS.length]}` }, chips);
          make("span", { class: "te-piece" }, chip, piece);
          make("span", { class: "te-id" }, chip, id);
        });
      }
    };
    update();
  };
  draw();
  model.on("change:data", draw);
  return () => model.off("change:data", draw);
}
