// engine.js: a trained model of the package running in the browser, for one sentence at a time: the
// encoder-decoder Transformer, or the decoder-only GPT built from the same blocks.
//
// It mirrors the Python package one block of the paper at a time, with the same names: tokenizer.py,
// embeddings.py, positional_encoding.py, attention.py, multi_head_attention.py, feed_forward.py, block.py,
// model.py, decoding.py, beam.py, ablation.py and gpt.py. With one sentence the batch axis B = 1 is left out,
// so a tensor (L, D) is a list of L rows, each a Float64Array of D numbers; attention weights are (H, T, S).
// The weights are the checkpoint's float32 values (web_export.py writes them); the arithmetic is
// JavaScript's float64, so results differ from torch's float32 only by torch's rounding (about 1e-6).
// Nothing here touches the page: the views (view_live*.js) call these functions and draw the results.

const Engine = (() => {
  // ---- the asset web_export.py writes: config, tokenizers and every weight tensor ----------------------
  function loadModel(asset) {
    if (!asset || asset.format !== "transformer_edu.web" || asset.version !== 1) {
      throw new Error("not a model asset written by transformer_edu.web_export (format transformer_edu.web, version 1)");
    }
    if (!["Transformer", "GPT"].includes(asset.model)) {
      throw new Error(`this engine runs a Transformer or a GPT, not a ${asset.model}`);
    }
    const bytes = Uint8Array.from(atob(asset.weights), (c) => c.charCodeAt(0));
    const all = new Float32Array(bytes.buffer); // little-endian float32, as written (every browser is little-endian)
    const params = {};
    let offset = 0;
    for (const [name, shape] of asset.tensors) {
      const size = shape.reduce((a, b) => a * b, 1);
      params[name] = { shape: shape, data: all.subarray(offset, offset + size) };
      offset += size;
    }
    for (const [alias, name] of asset.aliases) params[alias] = params[name]; // tied matrices: one copy
    const c = asset.config;
    const positions = c.positional === "sinusoidal" ? sinusoidalTable(c.max_len, c.d_model) : null;
    return { name: asset.name, kind: asset.model, config: c, tokenizers: asset.tokenizers, params: params,
      positions: positions };
  }

  // ---- tokenizer.py: text -> pieces -> ids, and back ------------------------------------------------------
  const SPECIAL = 4; // <pad>=0, <bos>=1, <eos>=2, <unk>=3 start every vocabulary

  function tokenize(tokenizer, text) {
    if (tokenizer.type === "char") return Array.from(text); // one piece per Unicode code point, as Python's list(text)
    if (tokenizer.type === "word") {
      const regex = new RegExp(tokenizer.js_pattern, "gu"); // the Python pattern, translated by web_export.py
      return Array.from(text.matchAll(regex), (m) => m[0]).filter((piece) => piece.length > 0);
    }
    throw new Error(`this engine reads char and word tokenizers, not "${tokenizer.type}"`);
  }

  function encodeText(tokenizer, text) {
    // -> {pieces, ids, unknown}: pieces not in the vocabulary become <unk> (id 3), as in Tokenizer.encode
    const index = tokenizer.index || (tokenizer.index = new Map(tokenizer.vocab.map((t, i) => [t, i])));
    const pieces = tokenize(tokenizer, text);
    const ids = pieces.map((p) => (index.has(p) ? index.get(p) : 3));
    return { pieces: pieces, ids: ids, unknown: pieces.filter((p) => !index.has(p)) };
  }

  function decodeIds(tokenizer, ids) {
    // Tokenizer.decode with skip_special=True: drop <pad>, <bos>, <eos>; join as the tokenizer does
    const pieces = ids.filter((i) => i > 2).map((i) => tokenizer.vocab[i]);
    if (tokenizer.type === "char" || tokenizer.separator === "") return pieces.join("");
    const mark = new RegExp(`^(?:${tokenizer.js_punctuation})$`, "u"); // no separator before a punctuation mark
    return pieces.map((p, i) => (i && !mark.test(p) ? tokenizer.separator : "") + p).join("");
  }

  // ---- small helpers: rows of numbers ---------------------------------------------------------------------
  const rows = (n, width) => Array.from({ length: n }, () => new Float64Array(width));

  function linear(x, p, name) {
    // nn.Linear: y = x W^T + b. x (L, in), weight (out, in) -> (L, out)
    const [nOut, nIn] = p[name + ".weight"].shape, w = p[name + ".weight"].data, b = p[name + ".bias"];
    return x.map((row) => {
      const y = new Float64Array(nOut);
      for (let o = 0, at = 0; o < nOut; o++, at += nIn) { // at: where row o of W starts
        // four partial sums of the dot product: their additions do not wait for each other (twice as fast)
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
        for (; i + 3 < nIn; i += 4) {
          s0 += row[i] * w[at + i];
          s1 += row[i + 1] * w[at + i + 1];
          s2 += row[i + 2] * w[at + i + 2];
          s3 += row[i + 3] * w[at + i + 3];
        }
        for (; i < nIn; i++) s0 += row[i] * w[at + i];
        y[o] = (b ? b.data[o] : 0) + (s0 + s1) + (s2 + s3);
      }
      return y;
    });
  }

  const add = (x, y) => x.map((row, t) => row.map((v, i) => v + y[t][i])); // the residual "Add"

  // ---- embeddings.py and positional_encoding.py -----------------------------------------------------------
  function tokenEmbedding(p, name, ids, dModel) {
    // the row of each id, times sqrt(d_model) (section 3.4). ids (L,) -> (L, D)
    const table = p[name + ".table.weight"].data, scale = Math.sqrt(dModel);
    return ids.map((id) => Float64Array.from(table.subarray(id * dModel, (id + 1) * dModel), (v) => v * scale));
  }

  function sinusoidalTable(maxLen, dModel) {
    // PE(pos, 2i) = sin(pos / 10000^(2i/D)), PE(pos, 2i+1) = cos(...), rounded to float32 as torch stores it
    return Array.from({ length: maxLen }, (_, pos) => {
      const row = new Float64Array(dModel);
      for (let i = 0; i < dModel; i += 2) {
        const angle = pos / Math.pow(10000, i / dModel);
        row[i] = Math.fround(Math.sin(angle));
        row[i + 1] = Math.fround(Math.cos(angle));
      }
      return row;
    });
  }

  function positionalEncoding(model, name, x, start) {
    // x + PE(start .. start + L - 1). (L, D) -> (L, D)
    const D = model.config.d_model;
    return x.map((row, t) => {
      const pe = model.positions ? model.positions[start + t]
        : model.params[name + ".table"].data.subarray((start + t) * D, (start + t + 1) * D);
      return row.map((v, i) => v + pe[i]);
    });
  }

  // ---- attention.py and multi_head_attention.py -----------------------------------------------------------
  function scaledDotProductAttention(q, k, v, mask) {
    // softmax(q k^T / sqrt(d_k)) v for one head.
    // q (T, d_k), k and v (S, d_k), mask(t, s) true = may attend
    const dK = q[0].length;
    const weights = q.map((qRow, t) => {
      const scores = k.map((kRow, s) => {
        // blocked keys get weight exp(-inf) = 0
        if (mask && !mask(t, s)) return -Infinity;
        let dot = 0;
        for (let i = 0; i < dK; i++) dot += qRow[i] * kRow[i];
        return dot / Math.sqrt(dK);
      });
      return softmaxRow(scores);
    }); // (T, S)
    const out = weights.map((w) => {
      const row = new Float64Array(v[0].length);
      w.forEach((ws, s) => {
        for (let i = 0; i < row.length; i++) row[i] += ws * v[s][i];
      });
      return row;
    }); // (T, d_k)
    return { out: out, weights: weights };
  }

  function softmaxRow(scores) {
    const top = Math.max(...scores);
    const e = scores.map((z) => Math.exp(z - top));
    const sum = e.reduce((a, b) => a + b, 0);
    return Float64Array.from(e, (x) => x / sum);
  }

  function rotate(x, start) {
    // rotary.py's apply_rotary (Su et al. 2021): each pair (x_2i, x_2i+1) at position m turned by the angle
    // m theta_i, theta_i = 10000^(-2i / d_k), with cos and sin rounded to float32 as torch holds them.
    // x (L, d_k) at positions start .. start + L - 1 -> (L, d_k)
    const dK = x[0].length;
    return x.map((row, t) => {
      const out = new Float64Array(dK);
      for (let i = 0; i < dK; i += 2) {
        const angle = (start + t) * Math.pow(10000, -i / dK);
        const cos = Math.fround(Math.cos(angle)), sin = Math.fround(Math.sin(angle));
        out[i] = row[i] * cos - row[i + 1] * sin;
        out[i + 1] = row[i] * sin + row[i + 1] * cos;
      }
      return out;
    });
  }

  function multiHeadAttention(
    p, name, query, source, mask, nHeads, ablated, cache, rotary = false) {
    // MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
    //   head_i = Attention(Q W^Q_i, K W^K_i, V W^V_i).
    // query (T, D), source (S, D) -> out (T, D), weights (H, T, S).
    // `ablated`: head indices whose part of the Concat is set to 0 before W^O
    // (ablation.py); they still compute their weights.
    // With a `cache` (kv_cache.py), keys and values are kept between decoding
    // steps, as MultiHeadAttention.forward_cached does.
    // Later changes (attention_variants.py): fewer key/value heads than query
    // heads (W^K and W^V are then narrower), `rotary` positions (rotary.py).
    const q = linear(query, p, name + ".w_q");
    const kept = cache ? cache.kept[name] : undefined;
    let k, v;
    if (kept && kept.static) {
      // encoder-decoder attention: the memory's keys and values,
      // projected at the first step
      ({ k, v } = kept);
    } else {
      k = linear(source, p, name + ".w_k"); // (S_new, H_kv * d_k), H_kv = H
      v = linear(source, p, name + ".w_v");
      if (cache && kept) { // self-attention: append (new arrays)
        k = kept.k.concat(k);
        v = kept.v.concat(v);
      }
      if (cache) cache.kept[name] = { static: source !== query, k: k, v: v };
    }
    const D = q[0].length, dK = D / nHeads;
    const groups = nHeads / (k[0].length / dK); // query heads per k/v head
    const concat = rows(query.length, D); // (T, H * d_k)
    const weights = [];
    // split_heads: head i's columns
    const part = (x, i) => x.map((row) => row.subarray(i * dK, (i + 1) * dK));
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / groups); // the key/value head of head h
      let qh = part(q, h), kh = part(k, g);
      if (rotary) { // the queries are the last T of the S positions
        qh = rotate(qh, k.length - q.length);
        kh = rotate(kh, 0);
      }
      const head = scaledDotProductAttention(qh, kh, part(v, g), mask);
      weights.push(head.weights);
      if (ablated.includes(h)) continue; // this head's columns stay 0
      head.out.forEach((row, t) => concat[t].set(row, h * dK)); // merge_heads
    }
    return { out: linear(concat, p, name + ".w_o"), weights: weights };
  }

  // ---- feed_forward.py, and normalization.py: the Norm of "Add & Norm" ----------
  function erf(x) { // Abramowitz and Stegun 7.1.26 (error below 1.5e-7), for GELU
    const t = 1 / (1 + 0.3275911 * Math.abs(x));
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t * Math.exp(-x * x);
    return x < 0 ? -y : y;
  }
  const ACTIVATIONS = { relu: (z) => Math.max(0, z), gelu: (z) => 0.5 * z * (1 + erf(z / Math.SQRT2)) };
  const swish = (z) => z / (1 + Math.exp(-z)); // z sigmoid(z), torch's SiLU

  function positionwiseFeedForward(p, name, x, activation) {
    // FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 (equation 2; GELU instead of max(0, .) when configured). SwiGLU
    // (Shazeer 2020): w_1 holds x W_1 + b_1 and x V + c side by side, and Swish(the first) * (the second) passes
    const inner = linear(x, p, name + ".w_1").map((row) => { // (L, F), or (L, 2F) before SwiGLU
      if (activation !== "swiglu") return row.map(ACTIVATIONS[activation]);
      const F = row.length / 2;
      return row.subarray(0, F).map((z, i) => swish(z) * row[F + i]);
    }); // (L, F)
    return linear(inner, p, name + ".w_2"); // (L, D)
  }

  function layerNorm(p, name, x, eps) {
    // (x - mean) / sqrt(var + eps) * gamma + beta over each row (biased variance, as torch)
    const g = p[name + ".weight"].data, b = p[name + ".bias"].data;
    return x.map((row) => {
      const mean = row.reduce((a, v) => a + v, 0) / row.length;
      const variance = row.reduce((a, v) => a + (v - mean) * (v - mean), 0) / row.length;
      const scale = 1 / Math.sqrt(variance + eps);
      return row.map((v, i) => (v - mean) * scale * g[i] + b[i]);
    });
  }

  function rmsNorm(p, name, x, eps) {
    // normalization.py's RMSNorm (Zhang and Sennrich 2019): x / sqrt(mean(x^2) + eps) * gain over each row
    const g = p[name + ".weight"].data;
    return x.map((row) => {
      const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / row.length + eps);
      return row.map((v, i) => (v / rms) * g[i]);
    });
  }

  function normalize(model, name, x) {
    // make_norm: the paper's LayerNorm, or RMSNorm when the config says norm "rms"
    const norm = model.config.norm === "rms" ? rmsNorm : layerNorm;
    return norm(model.params, name, x, model.config.layer_norm_eps);
  }

  // ---- block.py: one layer of either stack ------------------------------------------------------------------
  function block(model, name, x, mask, memory, kinds, ctx) {
    // Self-attention, encoder-decoder attention when `memory` is given,
    // feed-forward; each sub-layer wrapped as the paper does or as pre-LN does:
    //   post-LN (the paper): x = LayerNorm(x + Sublayer(x))
    //   pre-LN:              x = x + Sublayer(LN(x))
    const c = model.config, p = model.params, preLn = c.norm_first;
    const sublayer = (norm, run) => {
      if (preLn) return add(x, run(normalize(model, norm, x)));
      return normalize(model, norm, add(x, run(x)));
    };
    const rotary = c.positional === "rope"; // in self-attention only
    const attention = (kind, attn, source, m) => (h) => {
      const r = multiHeadAttention(p, name + "." + attn, h,
        source === null ? h : source, m, c.n_heads,
        ctx.ablated(kind, ctx.layer), ctx.cache, rotary && source === null);
      ctx.weights[kind].push(r.weights);
      ctx.trace(`${name}.${attn}`, r.out);
      return r.out;
    };
    const selfAttention = attention(kinds[0], "self_attn", null, mask);
    x = sublayer(name + ".self_attn_norm", selfAttention);
    ctx.trace(`${name}.self_attn_norm`, x);
    if (memory) {
      const crossAttention = attention(kinds[1], "cross_attn", memory, null);
      x = sublayer(name + ".cross_attn_norm", crossAttention);
      ctx.trace(`${name}.cross_attn_norm`, x);
    }
    x = sublayer(name + ".ff_norm", (h) => {
      const out =
        positionwiseFeedForward(p, name + ".feed_forward", h, c.activation);
      ctx.trace(`${name}.feed_forward`, out);
      return out;
    });
    ctx.trace(`${name}.ff_norm`, x);
    return x;
  }

  function context(options) {
    // what every call carries: the heads to ablate, the attention weights collected, an optional trace
    const ablate = new Map(); // "kind/layer" -> the head indices switched off there
    for (const [kind, layer, head] of options.ablate || []) {
      ablate.set(`${kind}/${layer}`, [...(ablate.get(`${kind}/${layer}`) || []), head]);
    }
    return {
      weights: { encoder_self: [], decoder_self: [], cross: [] }, layer: 0, cache: options.cache,
      ablated: (kind, layer) => ablate.get(`${kind}/${layer}`) || [],
      trace: options.trace ? (name, value) => options.trace.push({ name: name, value: value }) : () => {},
    };
  }

  function stack(model, prefix, n, x, mask, memory, kinds, ctx) {
    // Stack: N blocks, then the final LayerNorm when the config has one (a later change)
    for (let l = 0; l < n; l++) {
      ctx.layer = l;
      x = block(model, `${prefix}.layers.${l}`, x, mask, memory, kinds, ctx);
    }
    if (model.config.final_norm) {
      x = normalize(model, prefix + ".final_norm", x);
      ctx.trace(prefix + ".final_norm", x);
    }
    return x;
  }

  // ---- model.py: Transformer.encode and Transformer.decode --------------------------------------------------
  function checkKind(model, kind, what) {
    if (model.kind !== kind) {
      const other = kind === "GPT" ? "encode, decode and the decoding functions" : "gptForward and generate";
      throw new Error(`${what} runs a ${kind}; this model is a ${model.kind}: use ${other}`);
    }
  }

  function checkTokens(ids, what, vocab) {
    if (!ids.length) throw new Error(`the ${what} is empty: it needs at least one token`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`${what} id ${id} is outside 0..${vocab - 1}`);
    }
  }

  function checkIds(model, ids, what, vocab, start = 0) {
    checkTokens(ids, what, vocab);
    if (start + ids.length > model.config.max_len) {
      throw new Error(`the ${what} has ${start + ids.length} tokens; this model has positions for at most ${model.config.max_len}`);
    }
  }

  function encode(model, srcIds, options = {}) {
    // src ids (S,) -> {memory (S, D), weights: {encoder_self: N x (H, S, S)}}
    const c = model.config;
    checkKind(model, "Transformer", "encode");
    checkIds(model, srcIds, "source", c.src_vocab_size);
    const ctx = context(options);
    let x = tokenEmbedding(model.params, "src_embed", srcIds, c.d_model);
    ctx.trace("src_embed", x);
    x = positionalEncoding(model, "src_position", x, 0);
    ctx.trace("src_position", x);
    const memory = stack(model, "encoder", c.n_encoder_layers, x, null, null, ["encoder_self"], ctx);
    return { memory: memory, weights: ctx.weights };
  }

  // ---- kv_cache.py: the keys and values of earlier positions, kept between decoding steps -----------------
  const newCache = () => ({ length: 0, kept: {} }); // kept: attention module name -> {static, k, v}
  // A copy for another hypothesis (beam search): appending makes new arrays, so the two share what they hold.
  const forkCache = (cache) => ({ length: cache.length, kept: Object.assign({}, cache.kept) });

  function decode(model, tgtIds, memory, options = {}) {
    // target ids (T,), memory (S, D) -> {logits (T, V), weights: {decoder_self: N x (H, T, T), cross: N x (H, T, S)}}
    // With options.cache (newCache()), tgtIds are only the new tokens, at the positions after the cached ones.
    const c = model.config, start = options.cache ? options.cache.length : 0;
    checkKind(model, "Transformer", "decode");
    checkIds(model, tgtIds, "target", c.tgt_vocab_size, start);
    const ctx = context(options);
    let y = tokenEmbedding(model.params, "tgt_embed", tgtIds, c.d_model);
    ctx.trace("tgt_embed", y);
    y = positionalEncoding(model, "tgt_position", y, start);
    ctx.trace("tgt_position", y);
    const causalMask = (t, s) => s <= start + t; // position t may attend to positions 0..t (masks.py)
    y = stack(model, "decoder", c.n_decoder_layers, y, causalMask, memory, ["decoder_self", "cross"], ctx);
    if (options.cache) options.cache.length += tgtIds.length;
    const logits = linear(y, model.params, "output"); // (T, V): the pre-softmax linear layer
    ctx.trace("output", logits);
    return { logits: logits, weights: ctx.weights };
  }

  // ---- decoding.py: greedy decoding, sampling, step by step --------------------------------------------------
  const defaultMaxLen = (model, srcLength) => Math.min(srcLength + 50, model.config.max_len); // section 6.1

  function checkCount(name, value, high) {
    if (!Number.isInteger(value) || value < 1 || value > high) {
      throw new Error(`${name} must be a whole number from 1 to ${high}, got ${value}`);
    }
    return value;
  }

  function maxLength(model, srcIds, options) {
    // decoding.py's check_decoding: max_len defaults to the source length + 50, at most config.max_len
    if (options.maxLen === undefined) return defaultMaxLen(model, srcIds.length);
    return checkCount("maxLen", options.maxLen, model.config.max_len);
  }

  function neverGenerated(model) {
    // PAD only fills a row after EOS and BOS only starts it: no method chooses them
    const c = model.config;
    return [c.pad_id, c.bos_id].filter((id) => id !== c.eos_id);
  }

  function nextLogits(model, prefix, memory, options) {
    // logits for the token after `prefix` (V,), as decoding.py's next_logits: with options.cache only the
    // newest token runs through the decoder; without, the whole prefix runs again (the same numbers)
    const logits = decode(model, options.cache ? prefix.slice(-1) : prefix, memory, options).logits;
    return Float64Array.from(logits[logits.length - 1]);
  }

  function withoutNever(logits, never) {
    // PAD and BOS (`never`) at -inf: no decoding method chooses them
    const out = Float64Array.from(logits);
    for (const id of never) out[id] = -Infinity;
    return out;
  }

  const argmax = (xs) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0); // the first of equal maxima

  function decodingLoop(model, srcIds, choose, options) {
    // the loop greedy decoding and sampling share (decoding.py's _generate): encode once, then one token per
    // step until EOS
    const c = model.config, run = { ablate: options.ablate, cache: newCache() }; // no trace: it would repeat
    const maxLen = maxLength(model, srcIds, options);
    const memory = encode(model, srcIds, run).memory;
    const never = neverGenerated(model), ids = [c.bos_id], steps = [];
    for (let t = 0; t < maxLen; t++) {
      const logits = nextLogits(model, ids, memory, run);
      const token = choose(withoutNever(logits, never));
      // probs: the model's own (PAD and BOS shown as 0, not renormalized), as decode_step_by_step gives them
      const probs = softmaxRow(logits);
      for (const id of never) probs[id] = 0;
      steps.push({ prefix: ids.slice(), probs: probs, chosen: token });
      ids.push(token);
      if (token === c.eos_id) break;
    }
    return { ids: ids, steps: steps };
  }

  function greedyDecode(model, srcIds, options = {}) {
    // the most probable token at each step -> {ids (BOS first), steps: [{prefix, probs (V,), chosen}]}
    return decodingLoop(model, srcIds, argmax, options);
  }

  function randomGenerator(seed) {
    // mulberry32: a small seeded generator of numbers in [0, 1). The seed is scrambled first (MurmurHash3's
    // finalizer): without that, nearby small seeds (0, 1, 6 ...) start with related, very small draws. The same
    // seed gives the same draws here; torch's generator is another one, so Python's samples differ.
    let a = (seed >>> 0) + 0x9e3779b9;
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
    a = (a ^ (a >>> 16)) >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function temperedProbabilities(logits, temperature) {
    // softmax(logits / temperature), the largest logit subtracted first so a tiny temperature cannot overflow
    const top = Math.max(...logits);
    return softmaxRow(Array.from(logits, (z) => (z - top) / temperature));
  }

  function topKFilter(logits, k) {
    // -inf for every logit below the k-th largest (ties with it kept)
    const kth = Array.from(logits).sort((a, b) => b - a)[k - 1];
    return logits.map((z) => (z < kth ? -Infinity : z));
  }

  function topPFilter(probs, p) {
    // the nucleus (Holtzman et al. 2020): the fewest most probable tokens whose probability reaches p, and
    // every token tied with the least probable of them; 0 elsewhere (not renormalized)
    const ranked = Array.from(probs).sort((a, b) => b - a);
    let before = 0, kept = 0; // the mass of the more probable tokens, and how many are kept
    while (kept < ranked.length && before < p) before += ranked[kept++];
    const least = ranked[kept - 1];
    return probs.map((q) => (q < least ? 0 : q));
  }

  function nextTokenProbabilities(logits, temperature, topK, topP) {
    // decoding.py's: top-k on the logits, softmax(logits / temperature), then top-p, renormalized (V,)
    if (topK) logits = topKFilter(logits, topK); // dividing by a temperature keeps the order
    let probs = temperedProbabilities(logits, temperature);
    if (topP !== undefined && topP !== null) {
      probs = topPFilter(probs, topP);
      const kept = probs.reduce((a, q) => a + q, 0);
      probs = probs.map((q) => q / kept);
    }
    return probs;
  }

  function draw(probs, random) {
    // one token from `probs`: walk the cumulative probabilities up to a uniform number u
    let u = random(), chosen = -1;
    for (let v = 0; v < probs.length; v++) {
      if (probs[v] === 0) continue;
      chosen = v;
      if (u < probs[v]) break;
      u -= probs[v]; // (rounding can leave u just past the end: the last allowed token is kept)
    }
    return chosen;
  }

  function samplingOptions(options, vocab) {
    // temperature (default 1), topK and topP (default: the whole vocabulary), checked as decoding.py does
    const temperature = options.temperature === undefined ? 1 : options.temperature;
    if (!(temperature > 0 && Number.isFinite(temperature))) {
      throw new Error(`temperature must be a number > 0, got ${temperature}`);
    }
    const absent = (x) => x === undefined || x === null;
    if (!absent(options.topK)) checkCount("topK", options.topK, vocab);
    if (!absent(options.topP) && !(options.topP > 0 && options.topP <= 1)) {
      throw new Error(`topP must be a number in (0, 1], got ${options.topP}`);
    }
    return { temperature: temperature, topK: absent(options.topK) ? undefined : options.topK,
      topP: absent(options.topP) ? undefined : options.topP };
  }

  function sample(model, srcIds, options = {}) {
    // draw each token from nextTokenProbabilities: softmax(logits / temperature) among the top-k most probable
    // (ties at the k-th kept), then the top-p nucleus; PAD and BOS get probability 0 first
    const { temperature, topK, topP } = samplingOptions(options, model.config.tgt_vocab_size);
    const random = randomGenerator(options.seed || 0);
    const choose = (logits) => draw(nextTokenProbabilities(logits, temperature, topK, topP), random);
    return decodingLoop(model, srcIds, choose, options);
  }

  // ---- beam.py: beam search with the GNMT length penalty -------------------------------------------------------
  const lp = (length, alpha) => Math.pow((5 + length) / 6, alpha); // Wu et al. (2016)

  function logSoftmax(logits) {
    const top = Math.max(...logits);
    const logSum = Math.log(logits.reduce((a, z) => a + Math.exp(z - top), 0));
    return logits.map((z) => z - top - logSum);
  }

  function beamSearch(model, srcIds, options = {}) {
    // beam.py's search for one sentence: keep the beamSize best extensions by
    // log P; those ending in EOS are finished and ranked by log P / lp(|Y|);
    // stop once no live hypothesis can beat the best finished one.
    // -> {ids, score, steps: [{live: [{ids, score}], finished: [{ids, score}]}]}
    const c = model.config, run = { ablate: options.ablate };
    const beamSize = options.beamSize === undefined ? 4 : options.beamSize;
    const K = checkCount("beamSize", beamSize, c.tgt_vocab_size);
    const alpha = options.lengthPenalty === undefined ? 0.6 : options.lengthPenalty;
    if (!(alpha >= 0 && Number.isFinite(alpha))) {
      throw new Error(`lengthPenalty must be a number >= 0, got ${alpha}`);
    }
    const maxLen = maxLength(model, srcIds, options);
    const memory = encode(model, srcIds, run).memory;
    const never = neverGenerated(model);
    // each live hypothesis: its ids, log P, and its own key/value cache
    // (forked from the one it extends)
    let live = Array.from({ length: K }, (_, k) => ({
      ids: [c.bos_id], score: k === 0 ? 0 : -Infinity, cache: newCache(),
    }));
    let best = null, bestScore = -Infinity, done = false;
    const steps = [];
    for (let step = 1; step <= maxLen; step++) {
      const extended = []; // every (hypothesis, token) with its log P
      live.forEach((hyp, k) => {
        const logProbs = hyp.score === -Infinity ? null
          : logSoftmax(nextLogits(model, hyp.ids, memory,
            { ablate: options.ablate, cache: hyp.cache }));
        // PAD and BOS masked after the softmax: scores stay log P
        for (let v = 0; v < c.tgt_vocab_size; v++) {
          const allowed = logProbs && !never.includes(v);
          const score = allowed ? hyp.score + logProbs[v] : -Infinity;
          extended.push({ k: k, token: v, score: score });
        }
      });
      const byScore = (a, b) => b.score - a.score || a.k - b.k || a.token - b.token;
      const top = extended.sort(byScore).slice(0, K);
      const finished = [];
      for (const e of top) { // 1. those ending in EOS are finished hypotheses
        if (e.token !== c.eos_id || e.score === -Infinity) continue;
        const normalized = e.score / lp(step, alpha);
        finished.push({ ids: [...live[e.k].ids, e.token], score: normalized });
        if (normalized > bestScore) {
          bestScore = normalized;
          best = finished.at(-1).ids;
        }
      }
      live = top.map((e) => ({
        ids: [...live[e.k].ids, e.token],
        score: e.token === c.eos_id ? -Infinity : e.score,
        cache: forkCache(live[e.k].cache),
      }));
      const liveNow = live.filter((h) => h.score > -Infinity)
        .map(({ ids, score }) => ({ ids, score })); // (without their caches)
      steps.push({ live: liveNow, finished: finished });
      // 3. the bound (see beam.py)
      const bound = Math.max(...live.map((h) => h.score)) / lp(maxLen, alpha);
      done = bestScore >= bound;
      if (done) break;
    }
    // still searching at maxLen: the live hypotheses compete as they are
    if (!done || best === null) {
      const j = argmax(live.map((h) => h.score));
      if (best === null || live[j].score / lp(maxLen, alpha) > bestScore) {
        bestScore = live[j].score / lp(maxLen, alpha);
        best = live[j].ids;
      }
    }
    return { ids: best, score: bestScore, steps: steps };
  }

  // ---- gpt.py: a decoder-only language model from the same blocks -------------
  function gptForward(model, ids, options = {}) {
    // GPT.forward: ids (T,) -> {logits (T, V),
    //   weights: {decoder_self: N x (H, T, start + T)}}.
    // The decoder's blocks without encoder-decoder attention: embeddings
    // x sqrt(D), positions (none added when they are rotary), N causal blocks,
    // the final LayerNorm if configured, the output layer. With options.cache,
    // ids are the new tokens only, at the positions after the cached ones.
    const c = model.config, start = options.cache ? options.cache.length : 0;
    checkKind(model, "GPT", "gptForward");
    checkIds(model, ids, "input", c.vocab_size, start);
    const ctx = context(options);
    let x = tokenEmbedding(model.params, "embed", ids, c.d_model);
    ctx.trace("embed", x);
    if (c.positional !== "rope") { // rotary positions act inside the attention
      x = positionalEncoding(model, "position", x, start);
      ctx.trace("position", x);
    }
    const causalMask = (t, s) => s <= start + t; // t sees positions 0..t
    x = stack(model, "decoder", c.n_layers, x, causalMask, null,
      ["decoder_self"], ctx);
    if (options.cache) options.cache.length += ids.length;
    const logits = linear(x, model.params, "output"); // (T, V)
    ctx.trace("output", logits);
    return { logits: logits, weights: ctx.weights };
  }

  function generation(model, promptIds, options = {}) {
    // gpt.generate for one prompt, one step at a time: an iterator of
    // maxNewTokens steps. Each takes the most probable token (temperature
    // null: greedy, the lowest id among ties) or draws one from
    // nextTokenProbabilities; no token is special, nothing stops it early.
    // The model sees the last max_len tokens only (nanoGPT's crop), at
    // positions 0 .. max_len - 1: once the text is longer, every step runs
    // that whole window again, without the cache, as gpt.generate does.
    // A step: {start, probs (V,), drawn (V,) or null, chosen}. The window was
    // ids[start ..]; probs is the model's softmax, drawn what was sampled from.
    const c = model.config, maxLen = c.max_len;
    checkKind(model, "GPT", "generate");
    checkTokens(promptIds, "prompt", c.vocab_size);
    const n = options.maxNewTokens === undefined ? 1 : options.maxNewTokens;
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`maxNewTokens must be a whole number >= 0, got ${n}`);
    }
    const greedy = options.temperature === null; // top-k, top-p checked anyway
    const { temperature, topK, topP } = samplingOptions(
      { ...options, temperature: greedy ? 1 : options.temperature }, c.vocab_size);
    const random = randomGenerator(options.seed || 0);
    const cache = options.useCache === false ? null : newCache();
    const ids = promptIds.slice();
    function* steps() {
      for (let t = 0; t < n; t++) {
        const cached = cache && ids.length <= maxLen; // the text fits
        const start = cached ? 0 : Math.max(0, ids.length - maxLen);
        const run = cached // feed what the cache has not seen
          ? gptForward(model, ids.slice(cache.length), { cache: cache })
          : gptForward(model, ids.slice(start)); // the window, from position 0
        const logits = run.logits[run.logits.length - 1]; // (V,)
        const drawn = greedy ? null
          : nextTokenProbabilities(logits, temperature, topK, topP);
        const token = greedy ? argmax(logits) : draw(drawn, random);
        ids.push(token);
        yield { start: start, probs: softmaxRow(logits), drawn: drawn,
          chosen: token };
      }
    }
    return steps();
  }

  function generate(model, promptIds, options = {}) {
    // every step of `generation` -> {ids (prompt + new tokens), steps}
    const steps = [...generation(model, promptIds, options)];
    const ids = promptIds.concat(steps.map((step) => step.chosen));
    return { ids: ids, steps: steps };
  }

  // ---- what the views call ------------------------------------------------------
  return {
    loadModel, tokenize, encodeText, decodeIds, tokenEmbedding, sinusoidalTable, positionalEncoding,
    scaledDotProductAttention, rotate, multiHeadAttention, positionwiseFeedForward, layerNorm, rmsNorm, block,
    encode, decode, defaultMaxLen, newCache, forkCache, nextLogits, logSoftmax, greedyDecode, sample,
    randomGenerator, temperedProbabilities, topKFilter, topPFilter, nextTokenProbabilities, beamSearch, lp,
    gptForward, generation, generate,
  };
})();
