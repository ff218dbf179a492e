// Live views: the trained model runs in the page (engine.js, placed before this file). What they share:
// getting the model asset, turning typed text into source ids, and the input box with its message line.
//
// The asset comes from the book's static files in the published pages (a classic <script>, which a page
// opened from file:// may load) and from the Python kernel in JupyterLab (a custom widget message, which is
// never stored in the notebook). Sphinx writes the path from the page to the site root into
// <html data-content_root>, so the book also works under a sub-path; JupyterLab's page has no such attribute.

const LOADED = globalThis.TE_ENGINE_MODELS || (globalThis.TE_ENGINE_MODELS = {}); // asset name -> Promise of a model

function assetFromBook(name) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `${document.documentElement.dataset.content_root}_static/live/${encodeURIComponent(name)}.js`;
    script.onload = () => {
      const asset = window.TE_MODELS && window.TE_MODELS[name];
      if (asset) resolve(asset);
      else reject(new Error(`${script.src} did not define the model "${name}"`));
    };
    script.onerror = () => reject(new Error(`could not load the model file ${script.src}`));
    document.head.appendChild(script);
  });
}

function assetFromKernel(widget, name) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the Python kernel did not send the model: run the cell again")),
      60000);
    const answer = (msg) => {
      if (!msg || msg.asset_for !== name) return;
      widget.off("msg:custom", answer);
      clearTimeout(timer);
      if (msg.asset) resolve(msg.asset);
      else reject(new Error(msg.error || "the Python kernel sent no model"));
    };
    widget.on("msg:custom", answer);
    widget.send({ request: "asset", name: name });
  });
}

function liveModel(widget, name) {
  if (!LOADED[name]) {
    const shipped = window.TE_MODELS && window.TE_MODELS[name];
    const inBook = document.documentElement.dataset.content_root !== undefined;
    const asset = shipped ? Promise.resolve(shipped) : inBook ? assetFromBook(name) : assetFromKernel(widget, name);
    LOADED[name] = asset.then(Engine.loadModel);
    LOADED[name].catch(() => { delete LOADED[name]; }); // a later view may try again
  }
  return LOADED[name];
}

// Typed text -> {pieces, ids, unknown, note}; throws an Error that says what to type instead.
function sourceFor(model, text) {
  const example = model.name === "dates" ? " such as \u201cWed 25 Nov 2026\u201d" : "";
  if (!text.trim()) throw new Error(`Type something${example}.`);
  const source = Engine.encodeText(model.tokenizers.src, text);
  if (!source.ids.length) throw new Error(`\u201c${shortToken(text, 40)}\u201d gives no tokens: type letters or digits${example}.`);
  if (source.ids.length > model.config.max_len) {
    throw new Error(`That is ${source.ids.length} tokens; the model has positions for ${model.config.max_len} at most. ` +
      "Type a shorter text.");
  }
  if (source.ids.every((id) => id === 3)) {
    throw new Error(`None of the pieces of \u201c${shortToken(text, 40)}\u201d is in the model's vocabulary` +
      `${example ? ": type a date" + example : ""}.`);
  }
  const unknown = [...new Set(source.unknown)];
  source.note = unknown.length ? `Not in the vocabulary, so read as <unk>: ${unknown.slice(0, 5).map(quoted).join(", ")}` +
    `${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""}. The model still runs, but its answer may well be wrong.` : "";
  return source;
}

// The frame of every live view: title, a text box, a message line, and the area `draw` fills.
// draw(model, source, area) runs on every edit with valid text; the message line shows problems as text.
// options.read(model, text) turns the text into `source` or throws (default: sourceFor, a source sentence);
// options.multiline makes the box a <textarea> (a prompt may hold line breaks).
function liveFrame(el, widget, kind, controls, options = {}) {
  const data = widget.get("data");
  const read = options.read || sourceFor;
  const root = viewRoot(el, kind, data.title);
  const bar = controlBar(root);
  const wrap = make("label", { class: "te-control te-text" }, bar);
  make("span", {}, wrap, data.label || "Source:");
  const input = options.multiline
    ? make("textarea", { rows: 2, maxlength: data.max_chars, spellcheck: "false", autocomplete: "off",
      "data-te-control": "text" }, wrap)
    : make("input", { type: "text", value: data.text, maxlength: data.max_chars, spellcheck: "false",
      autocomplete: "off", "data-te-control": "text" }, wrap);
  input.value = data.text;
  const extra = controls ? controls(bar) : null;
  const message = make("p", { class: "te-message", role: "status", "data-te-role": "message" }, root,
    "Loading the model\u2026");
  const area = make("div", { class: "te-live-area" }, root);
  let model = null;
  let draw = () => {};
  const refresh = () => {
    if (!model) return;
    try {
      const source = read(model, input.value);
      message.textContent = source.note;
      message.classList.toggle("te-error", Boolean(source.note));
      area.hidden = false;
      draw(model, source, area);
    } catch (error) {
      message.textContent = error.message;
      message.classList.add("te-error");
      area.hidden = true;
    }
  };
  input.addEventListener("input", refresh);
  liveModel(widget, data.asset).then((loaded) => { model = loaded; refresh(); }, (error) => {
    message.textContent = `The model could not be loaded: ${error.message}`;
    message.classList.add("te-error");
  });
  return { root: root, bar: bar, extra: extra, input: input, area: area, refresh: refresh,
    onDraw(fn) { draw = fn; refresh(); } };
}

// A small <input type=number> with a label; onChange(number) when it holds a whole number in [min, max].
function numberControl(parent, name, label, min, max, value, onChange) {
  const wrap = make("label", { class: "te-control" }, parent);
  make("span", {}, wrap, label);
  const input = make("input", { type: "number", min: min, max: max, step: 1, value: value, "data-te-control": name,
    class: "te-number" }, wrap);
  input.addEventListener("input", () => {
    const v = Number(input.value);
    if (Number.isInteger(v) && v >= min && v <= max) onChange(v);
  });
  return input;
}

// Token chips: each piece with its id underneath (the TokenExplorer's look).
function chips(parent, pieces, ids, vocab) {
  const box = make("div", { class: "te-chips", "data-te-role": "chips" }, parent);
  pieces.forEach((piece, i) => {
    const chip = make("span", { class: "te-chip", "data-te-role": "chip",
      style: `background:${CHIP_COLOURS[i % CHIP_COLOURS.length]}` }, box);
    make("span", { class: "te-piece" }, chip, shortToken(piece, 16));
    make("span", { class: "te-id" }, chip, ids[i] === 3 && vocab[3] !== piece ? "3 <unk>" : ids[i]);
  });
  return box;
}
