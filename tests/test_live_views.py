"""The live views (transformer_edu/viz/views/live.py): their data, checks and text form; the JavaScript run
in node where a test needs the page's numbers."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from transformer_edu.viz import views


# ---- TokenJourney (view_live_journey.js): one token's journey through every sub-layer ----------------------

JOURNEY_JS = Path(__file__).resolve().parents[1] / "transformer_edu" / "viz" / "views"


class TestJourneyView:
    def test_journey_construction_and_defaults(self):
        from transformer_edu.viz.views.live import LiveView, TokenJourney

        view = TokenJourney()
        assert isinstance(view, LiveView)
        assert view.data == {"asset": "dates", "text": "Wed 25 Nov 2026", "title": None, "max_chars": 200,
                             "label": "Source:"}
        code = view._esm
        assert code.rstrip().endswith("export default { render };")
        assert code.count("const Engine = ") == 1 and code.count("function liveFrame(") == 1
        assert 'liveFrame(el, widget, "token-journey"' in code

    def test_journey_data_keeps_asset_text_and_title(self):
        from transformer_edu.viz.views.live import TokenJourney

        view = TokenJourney("Mon 3 Feb 1999", asset="dates_blind_spot", title="One token's journey")
        assert view.data["asset"] == "dates_blind_spot" and view.data["text"] == "Mon 3 Feb 1999"
        assert view.data["title"] == "One token's journey"
        view.update("", asset="dates")  # an empty box is allowed: the page shows what to type
        assert view.data["text"] == "" and view.data["asset"] == "dates"
        xss = "<img src=x onerror=alert(1)>"
        assert TokenJourney(xss).data["text"] == xss  # stored as is; the page sets it as a value, never as HTML

    def test_journey_rejects_bad_input_with_a_clear_message(self):
        from transformer_edu.viz.views.live import TokenJourney

        with pytest.raises(ValueError, match=r"asset must name a checkpoint in checkpoints/, one of \['dates'"):
            TokenJourney(asset="no_such_model")
        with pytest.raises(ValueError, match="text must have at most 200 characters .* got 201"):
            TokenJourney("1" * 201)
        with pytest.raises(ValueError, match="text must be a str, got int"):
            TokenJourney(25)
        with pytest.raises(ValueError, match="title must be a str"):
            TokenJourney(title=3)

    def test_journey_repr_is_stable(self):
        from transformer_edu.viz.views.live import TokenJourney

        view = TokenJourney()
        assert repr(view) == "TokenJourney(asset='dates', text='Wed 25 Nov 2026')" == repr(TokenJourney())
        view.update("Mon 3 Feb 1999")
        assert repr(view) == "TokenJourney(asset='dates', text='Mon 3 Feb 1999')"

    def test_journey_javascript_is_offline_and_never_parses_html(self):
        from transformer_edu.viz.views.live import TokenJourney

        own = (JOURNEY_JS / "view_live_journey.js").read_text(encoding="utf-8")
        assert "http" not in own and "import" not in own
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in TokenJourney._esm, sink
        for hook in ('"side"', '"position"', '"step"', '"data-te-control": "prev"', '"data-te-control": "next"',
                     '"data-te-role": "vector"', '"data-te-role": "step-name"', "ArrowLeft", "ArrowRight"):
            assert hook in own, hook


def _journey_run_node(script: str, tmp_path):
    path = tmp_path / "journey.mjs"
    path.write_text(script, encoding="utf-8")
    result = subprocess.run(["node", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_journey_steps_are_the_package_sublayer_outputs(tmp_path):
    """Every step the view shows, at every position, is what the torch model computes in that module."""
    from transformer_edu import greedy_decode, load_checkpoint
    from transformer_edu.web_export import browser_asset

    model, tokenizers, _ = load_checkpoint(JOURNEY_JS.parents[1] / "checkpoints" / "dates.pt")
    model.eval()
    text = "Wed 25 Nov 2026"
    code = "\n".join((JOURNEY_JS / name).read_text(encoding="utf-8")
                     for name in ("view_common.js", "engine.js", "view_live.js", "view_live_journey.js"))
    script = code + f"""
const model = Engine.loadModel({json.dumps(browser_asset(model, tokenizers, "dates"))});
const run = journeyRun(model, sourceFor(model, {json.dumps(text)}));
const out = {{}};
for (const side of ["source", "target"]) {{
  out[side] = {{ ids: run[side].ids, steps: run[side].steps.map((s) => ({{ name: s.name, kind: s.kind, key: s.key,
    value: s.value.map((r) => Array.from(r)), weights: s.weights ? s.weights.map((h) => h.map((r) => Array.from(r)))
      : null, stats: run[side].ids.map((_, p) => journeyStatsRows(model.config, s, p).map(([label, v, shown]) =>
      [label, journeyStats(v), Boolean(shown)])),
    add: s.kind === "norm" ? run[side].ids.map((_, p) => Array.from(journeyStatsRows(model.config, s, p)[2][1])) : null,
  }})) }};
}}
out.output = run.output.ids;
out.words = run.target.steps.map((s) => journeyWords(model, run, "target", s, 1));
console.log(JSON.stringify(out));"""
    got = _journey_run_node(script, tmp_path)

    # the package, with a forward hook on every module the view names
    seen = []
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: seen.append(
        (name, (o[0] if isinstance(o, tuple) else o)[0].detach().double().numpy())))
        for name, module in model.named_modules()
        if name in ("src_embed", "src_position", "tgt_position", "output") or re.fullmatch(
            r"(encoder|decoder)\.layers\.\d+\.(self_attn|cross_attn|feed_forward)(_norm)?|.*\.ff_norm", name)]
    src = torch.tensor([tokenizers[0].encode(text)])
    with torch.no_grad():
        memory, enc_weights = model.encode(src, return_attention=True)
        encoded, seen[:] = list(seen), []
        expected_ids = greedy_decode(model, src)[0].tolist()
        seen.clear()
        tgt = torch.tensor([got["output"][:-1]])
        _, dec_weights = model.decode(tgt, memory, return_attention=True)
        decoded = [("tgt_embed" if name == "src_embed" else name, value) for name, value in seen]
    for hook in hooks:
        hook.remove()
    assert got["output"] == expected_ids  # the view follows the package's greedy output
    assert got["source"]["ids"] == src[0].tolist()

    table = model.src_embed.table.weight.detach().double().numpy()
    for side, trace, weights in (("source", encoded, enc_weights), ("target", decoded, dec_weights)):
        steps = got[side]["steps"]
        ids = got[side]["ids"]
        assert steps[0]["kind"] == "id"
        np.testing.assert_array_equal(np.array(steps[0]["value"]), table[ids])  # the stored rows, not scaled
        assert [s["name"] for s in steps[1:]] == [name for name, _ in trace]
        for step, (name, value) in zip(steps[1:], trace):
            np.testing.assert_allclose(np.array(step["value"]), value, atol=2e-5, err_msg=name)
            if step["kind"] == "attention":
                layer = int(name.split(".")[2])
                kind = {"source": "encoder_self"}.get(side, "cross" if "cross" in name else "decoder_self")
                expected = getattr(weights, kind)[layer][0].double().numpy()  # (H, T, S)
                np.testing.assert_allclose(np.array(step["weights"]), expected, atol=5e-6, err_msg=name)
        # Add & Norm: the Add and the normalized vector; mean 0 and std sqrt(var / (var + eps)) before gamma, beta
        for step in steps:
            if step["kind"] != "norm":
                continue
            norm = model.get_submodule(step["name"])  # the LayerNorm of the Add the table shows gives the drawn vector
            np.testing.assert_allclose(norm(torch.tensor(step["add"])).detach().numpy(), step["value"], atol=2e-5)
            for rows in step["stats"]:
                labels = [label for label, _, _ in rows]
                assert labels[2].startswith("x + Sublayer(x)") and labels[3].startswith("normalized")
                add, normalized, shown = rows[2][1], rows[3][1], rows[4][1]
                assert rows[4][2] and not rows[3][2]  # the drawn vector is gamma * normalized + beta
                assert abs(normalized["mean"]) < 1e-12
                assert normalized["std"] == pytest.approx((add["variance"] / (add["variance"] + 1e-5)) ** 0.5)
    shown_stds = [rows[4][1]["std"] for s in got["source"]["steps"] if s["kind"] == "norm" for rows in s["stats"]]
    assert max(abs(std - 1) for std in shown_stds) > 0.01  # gamma and beta: the drawn vector's std is not 1
    steps = got["target"]["steps"]
    assert steps[-1]["kind"] == "output" and len(steps[-1]["value"][0]) == model.config.tgt_vocab_size
    assert [s["key"] for s in got["source"]["steps"]][:4] == ["id", "embed", "position", "layers.0.self_attn"]
    assert "\u221ad_model = \u221a64 = 8" in got["words"][1] and "positions 0 to 1 only" in got["words"][3]


# ---- LiveDecoding (view_live_decoding.js): greedy decoding, sampling and beam search, step by step -----------

DECODING_JS = Path(__file__).resolve().parents[1] / "transformer_edu" / "viz" / "views"
DECODING_DEFAULTS = {"asset": "dates", "text": "Wed 25 Nov 2026", "title": None, "max_chars": 200, "label": "Source:",
                     "temperature": 1.0, "top_k": None, "seed": 0, "beam_size": 4, "length_penalty": 0.6}


def test_live_decoding_construction_and_defaults():
    from transformer_edu.viz.views.live import LiveDecoding, LiveView

    view = LiveDecoding()
    assert isinstance(view, LiveView)
    assert view.data == DECODING_DEFAULTS
    code = view._esm
    assert code.rstrip().endswith("export default { render };")
    assert code.count("const Engine = ") == 1 and code.count("function liveFrame(") == 1
    assert 'liveFrame(el, widget, "live-decoding"' in code
    own = (DECODING_JS / "view_live_decoding.js").read_text(encoding="utf-8")
    assert "http" not in own and "import" not in own
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    for hook in ('"temperature"', '"top-k"', '"seed"', '"beam-size"', '"step"', '"beam-step"',
                 '"data-te-role": "bar"', '"data-te-chosen"', '"data-te-role": "beam"', '"live"',
                 '"data-te-role": "beam-stop"', "`output-${role}`", '"beam-score"'):
        assert hook in own, hook
    # the engine decodes, synchronously: no copy of its loop or sampler, no time slices, no busy state
    for gone in ("nextLogits", "randomGenerator", "temperedProbabilities", "MessageChannel", "requestAnimationFrame",
                 "setTimeout", "teState", "run-beam"):
        assert gone not in own, gone
    for call in ("Engine.greedyDecode(", "Engine.sample(", "Engine.beamSearch("):
        assert call in own, call


def test_live_decoding_data_keeps_every_setting():
    from transformer_edu.viz.views.live import LiveDecoding

    xss = "<img src=x onerror=alert(1)>"
    view = LiveDecoding(xss, asset="dates_blind_spot", temperature=2, top_k=55, seed=2 ** 32 - 1, beam_size=8,
                        length_penalty=0, title="Three ways to decode")
    assert view.data == {**DECODING_DEFAULTS, "asset": "dates_blind_spot", "text": xss, "temperature": 2.0,
                         "top_k": 55, "seed": 2 ** 32 - 1, "beam_size": 8, "length_penalty": 0.0,
                         "title": "Three ways to decode"}
    assert isinstance(view.data["temperature"], float) and isinstance(view.data["length_penalty"], float)
    assert json.loads(json.dumps(view.data)) == view.data  # plain JSON for the widget state
    view.update("", temperature=0.05, top_k=1, beam_size=1)  # an empty box is allowed: the page says what to type
    assert view.data == {**DECODING_DEFAULTS, "text": "", "temperature": 0.05, "top_k": 1, "beam_size": 1}


@pytest.mark.parametrize("kwargs, message", [
    ({"asset": "nope"}, r"asset must name a checkpoint in checkpoints/, one of \['dates'"),
    ({"text": 3}, r"text must be a str, got int"),
    ({"text": "x" * 201}, r"text must have at most 200 characters"),
    ({"temperature": 0}, r"temperature must be a finite number > 0, got 0"),
    ({"temperature": -1.0}, r"temperature must be a finite number > 0, got -1.0"),
    ({"temperature": float("nan")}, r"temperature must be a finite number > 0, got nan"),
    ({"temperature": float("inf")}, r"temperature must be a finite number > 0, got inf"),
    ({"temperature": "1"}, r"temperature must be a finite number > 0, got '1'"),
    ({"temperature": True}, r"temperature must be a finite number > 0, got True"),
    ({"top_k": 0}, r"top_k must be an int in \[1, 55\] \(None keeps the whole vocabulary\), got 0"),
    ({"top_k": 56}, r"top_k must be an int in \[1, 55\]"),
    ({"top_k": 2.0}, r"top_k must be an int in \[1, 55\].*got 2.0"),
    ({"top_k": True}, r"top_k must be an int in \[1, 55\].*got True"),
    ({"seed": -1}, r"seed must be an int in \[0, 4294967295\] \(the page's generator takes 32-bit seeds\)"),
    ({"seed": 2 ** 32}, r"seed must be an int in \[0, 4294967295\]"),
    ({"seed": 1.5}, r"seed must be an int in \[0, 4294967295\].*got 1.5"),
    ({"seed": None}, r"seed must be an int in \[0, 4294967295\].*got None"),
    ({"beam_size": 0}, r"beam_size must be an int in \[1, 8\] \(the view's menu offers 1 to 8\), got 0"),
    ({"beam_size": 9}, r"beam_size must be an int in \[1, 8\]"),
    ({"beam_size": "4"}, r"beam_size must be an int in \[1, 8\].*got '4'"),
    ({"length_penalty": -0.1}, r"length_penalty \(alpha; the paper uses 0.6\) must be a finite number >= 0, got -0.1"),
    ({"length_penalty": float("nan")}, r"length_penalty \(alpha; the paper uses 0.6\) must be a finite number >= 0"),
    ({"length_penalty": None}, r"length_penalty .* must be a finite number >= 0, got None"),
    ({"title": 5}, r"title must be a str, got int"),
])
def test_live_decoding_rejects_every_bad_argument(kwargs, message):
    from transformer_edu.viz.views.live import LiveDecoding

    with pytest.raises(ValueError, match=message):
        LiveDecoding(**kwargs)
    view = LiveDecoding()
    with pytest.raises(ValueError, match=message):  # update checks the same way and keeps the old data
        view.update(**kwargs)
    assert view.data == DECODING_DEFAULTS


def test_live_decoding_repr_is_stable():
    from transformer_edu.viz.views.live import LiveDecoding

    expected = ("LiveDecoding(asset='dates', text='Wed 25 Nov 2026', temperature=1.0, top_k=None, seed=0, "
                "beam_size=4, length_penalty=0.6)")
    assert repr(LiveDecoding()) == repr(LiveDecoding()) == expected
    view = LiveDecoding("12/05/2031", temperature=0.5, top_k=3, seed=7, beam_size=2, title="not in the text form")
    assert repr(view) == ("LiveDecoding(asset='dates', text='12/05/2031', temperature=0.5, top_k=3, seed=7, "
                          "beam_size=2, length_penalty=0.6)")
    assert "0x" not in repr(view) and "\n" not in repr(view)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_live_decoding_numbers_are_the_package_decoding(tmp_path):
    """What the view shows equals Python: greedy decoding's output, its step-by-step top tokens and probabilities
    (decode_step_by_step), the log P of the greedy and sampled outputs (the model's own, from the steps the
    engine returns) and beam search's output and score."""
    from transformer_edu import load_checkpoint
    from transformer_edu.beam import beam_search, lp
    from transformer_edu.decoding import decode_step_by_step, greedy_decode
    from transformer_edu.web_export import browser_asset

    model, tokenizers, _ = load_checkpoint(DECODING_JS.parents[1] / "checkpoints" / "dates.pt")
    model.eval()
    texts = ["Wed 25 Nov 2026", "12/05/2031", "<img src=x onerror=alert(1)>"]
    settings = [[1, None, 0], [5, None, 3], [0.3, 3, 7], [2, 10, 4294967295]]  # temperature, top_k, seed
    code = "\n".join((DECODING_JS / name).read_text(encoding="utf-8")
                     for name in ("view_common.js", "engine.js", "view_live.js", "view_live_decoding.js"))
    script = code + f"""
const model = Engine.loadModel({json.dumps(browser_asset(model, tokenizers, "dates"))});
const out = [];
for (const text of {json.dumps(texts)}) {{
  const ids = sourceFor(model, text).ids;
  const greedy = Engine.greedyDecode(model, ids);
  const top = greedy.steps.map(({{ probs }}) =>  // as the view's bars: PAD and BOS left out, ties by id
    [...probs.keys()].filter((i) => i > 1).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, 5).map((i) => [i, probs[i]]));
  const samples = {json.dumps(settings)}.map(([temperature, topK, seed]) => {{
    const s = Engine.sample(model, ids, {{ temperature: temperature, topK: topK || undefined, seed: seed }});
    return [s.ids, logP(s)];
  }});
  const beams = [1, 4, 8].map((K) => Engine.beamSearch(model, ids, {{ beamSize: K }}));
  out.push({{ ids: ids, greedy: greedy.ids, logP: logP(greedy), top: top, samples: samples,
    beams: beams.map((b) => [b.ids, b.score]) }});
}}
console.log(JSON.stringify(out));"""
    path = tmp_path / "decoding.mjs"
    path.write_text(script, encoding="utf-8")
    result = subprocess.run(["node", str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr

    def model_log_p(src, ids):  # the model's own log P of ids (BOS first) at temperature 1, one decoder run
        with torch.no_grad():
            logits = model(src, torch.tensor([ids[:-1]]))[0].double()
        return float(torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).sum())

    for text, got in zip(texts, json.loads(result.stdout)):
        src = torch.tensor([got["ids"]])
        assert got["ids"] == tokenizers[0].encode(text)
        assert got["greedy"] == greedy_decode(model, src)[0].tolist(), text
        steps = decode_step_by_step(model, src, top=5)
        assert len(steps) == len(got["top"])
        for step, top in zip(steps, got["top"]):  # the model's own probabilities, PAD and BOS left out
            assert [i for i, _ in top] == step.top_ids
            np.testing.assert_allclose([p for _, p in top], step.top_probs, atol=1e-5)
        assert got["logP"] == pytest.approx(sum(np.log(step.top_probs[0]) for step in steps), abs=1e-4)
        assert got["logP"] == pytest.approx(model_log_p(src, got["greedy"]), abs=1e-4)
        for (ids, log_p), setting in zip(got["samples"], settings):  # log P at temperature 1, whatever was drawn
            assert ids[0] == 1 and len(ids) > 1, (text, setting)
            assert log_p == pytest.approx(model_log_p(src, ids), abs=1e-4), (text, setting)
        for (ids, score), beam_size in zip(got["beams"], (1, 4, 8)):
            expected, expected_score = beam_search(model, src, beam_size=beam_size, return_scores=True)
            assert ids == expected[0].tolist(), (text, beam_size)
            assert score == pytest.approx(float(expected_score[0]), abs=1e-5)
        width_one = got["beams"][0]
        if width_one[0] == got["greedy"]:  # beam width 1 is greedy decoding: the same log P / lp shown
            assert got["logP"] / lp(len(got["greedy"]) - 1, 0.6) == pytest.approx(width_one[1], abs=1e-12)


# ---------------------------------------------------------------------------------------------- LiveTranslator,
# LiveAttention, and what every live view shares

def test_translator_and_attention_keep_their_settings():
    translator = views.LiveTranslator("14 March 1986", title="t")
    assert translator.data == {"asset": "dates", "text": "14 March 1986", "title": "t", "max_chars": 200,
                               "label": "Source:"}
    assert repr(translator) == "LiveTranslator(asset='dates', text='14 March 1986')"
    attention = views.LiveAttention("Sat 4 Jul 2026", kind="encoder_self", layer=1, head=2)
    assert (attention.data["kind"], attention.data["layer"], attention.data["head"]) == ("encoder_self", 1, 2)
    assert attention.data["measured"] == [] and views.LiveAttention(head="mean").data["head"] == "mean"
    for view in (translator, attention):
        assert "const Engine = " in view._esm  # the engine travels with the view: nothing to import
        assert ".te-ablation" in view._css and view._css.startswith(views.AttentionExplorer._css)


@pytest.mark.parametrize("kwargs, message", [
    ({"asset": "nope"}, "asset must name a checkpoint"),
    ({"text": 3}, "text must be a str"),
    ({"text": "x" * 201}, "at most 200 characters"),
    ({"kind": "self"}, "kind must be one of"),
    ({"layer": -1}, "layer"),
    ({"head": "all"}, "head"),
    ({"measured_on": 5}, "measured_on must be a str"),
    ({"measured": [{"heads": [["cross", 0, 1]], "exact_match": 1.5}]}, "exact match in [0, 1]"),
    ({"measured": [{"heads": [["crosss", 0, 1]], "exact_match": 0.5}]}, "kinds from"),
])
def test_live_attention_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        views.LiveAttention(**kwargs)


def test_ablation_measurements_lists_every_single_head_and_the_extra_sets():
    scores = {"cross": torch.tensor([[0.5, 1.0], [0.25, 0.0]])}
    found = views.ablation_measurements(scores, 0.99, [({("cross", 1, 0), ("cross", 1, 1)}, 0.0)])
    assert found[0] == {"heads": [], "exact_match": 0.99}
    assert {"heads": [["cross", 1, 0]], "exact_match": 0.25} in found and len(found) == 1 + 4 + 1
    assert sorted(found[-1]["heads"]) == [["cross", 1, 0], ["cross", 1, 1]]
    json.dumps(found)  # plain JSON for the page


def test_a_live_view_sends_the_model_when_the_page_asks(monkeypatch):
    """In JupyterLab the page asks the kernel for the model (a custom widget message): the answer is the asset
    web_export builds from the checkpoint; a message of another kind gets no answer."""
    from transformer_edu.checkpoint import load_checkpoint
    from transformer_edu.viz.views.live import CHECKPOINTS
    from transformer_edu.web_export import browser_asset

    view = views.LiveAttention()
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    view._handle_custom_msg({"request": "something else"}, [])
    assert sent == []
    view._handle_custom_msg({"request": "asset", "name": "dates"}, [])
    model, tokenizers, _ = load_checkpoint(CHECKPOINTS / "dates.pt")
    assert sent == [{"asset_for": "dates", "asset": browser_asset(model, tokenizers, "dates")}]


# ---------------------------------------------------------------------------------------------- LiveGeneration
# (view_live_generation.js): a GPT checkpoint continues a prompt in the page, step by step.

GENERATION_DEFAULTS = {"asset": "shakespeare", "text": "**ROMEO**  \n", "title": None, "max_chars": 200,
                       "label": "Prompt:", "temperature": 0.8, "top_k": None, "top_p": None, "seed": 0,
                       "max_new_tokens": 120, "generation_max": 300}


@pytest.fixture
def gpt_checkpoint():
    """The shipped GPT checkpoint (shakespeare.pt, `make gpt-checkpoint`): the view's default asset."""
    from transformer_edu.viz.views.live import CHECKPOINTS
    path = CHECKPOINTS / "shakespeare.pt"
    assert path.exists(), f"{path} is missing: `make gpt-checkpoint` writes it"
    return path


def test_live_generation_construction_and_defaults(gpt_checkpoint):
    from transformer_edu.viz.views.live import GENERATION_MAX, LiveGeneration, LiveView

    view = LiveGeneration()
    assert isinstance(view, LiveView) and view.data == GENERATION_DEFAULTS
    assert GENERATION_MAX == GENERATION_DEFAULTS["generation_max"]
    code = view._esm
    assert code.rstrip().endswith("export default { render };")
    assert code.count("const Engine = ") == 1 and code.count("function liveFrame(") == 1
    assert 'liveFrame(el, widget, "live-generation"' in code
    own = (DECODING_JS / "view_live_generation.js").read_text(encoding="utf-8")
    assert "http" not in own and "import" not in own
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    for hook in ('"temperature"', '"top-k"', '"top-p"', '"seed"', '"tokens"', '"data-te-control": "generate"',
                 '"step"', '"data-te-role": "output"', '"data-te-role": "status"', '"data-te-role": "context"',
                 '"data-te-role": "bar"', '"data-te-chosen"', "ctrlKey", "metaKey"):
        assert hook in own, hook
    # the engine generates: no copy of its loop, its filters or its generator in the view
    for gone in ("gptForward", "randomGenerator", "nextTokenProbabilities", "topKFilter", "topPFilter", "newCache"):
        assert gone not in own, gone
    assert "Engine.generation(" in own and ".te-generation-output" in view._css


def test_live_generation_keeps_every_setting(gpt_checkpoint):
    from transformer_edu.viz.views.live import LiveGeneration

    xss = "<img src=x onerror=alert(1)>"
    view = LiveGeneration(xss, temperature=None, top_k=5, top_p=0.9, seed=2 ** 32 - 1, max_new_tokens=300,
                          title="Write on")
    assert view.data == {**GENERATION_DEFAULTS, "text": xss, "temperature": None, "top_k": 5, "top_p": 0.9,
                         "seed": 2 ** 32 - 1, "max_new_tokens": 300, "title": "Write on"}
    assert json.loads(json.dumps(view.data)) == view.data
    view.update("", temperature=2, top_p=1)  # an empty box is allowed: the page says what to type
    assert view.data == {**GENERATION_DEFAULTS, "text": "", "temperature": 2.0, "top_p": 1.0}
    assert isinstance(view.data["temperature"], float) and isinstance(view.data["top_p"], float)


@pytest.mark.parametrize("kwargs, message", [
    ({"asset": "nope"}, r"asset must name a checkpoint in checkpoints/"),
    ({"asset": "dates"}, r"LiveGeneration runs a decoder-only language model \(a GPT checkpoint\); 'dates' holds a "
                         r"Transformer"),
    ({"text": 3}, r"text must be a str, got int"),
    ({"text": "x" * 201}, r"text must have at most 200 characters"),
    ({"temperature": 0}, r"temperature \(None decodes greedily\) must be a finite number > 0, got 0"),
    ({"temperature": float("inf")}, r"temperature \(None decodes greedily\) must be a finite number > 0, got inf"),
    ({"temperature": "0.8"}, r"temperature .* got '0.8'"),
    ({"top_k": 0}, r"top_k must be an int in \[1, \d+\] \(None keeps the whole vocabulary\), got 0"),
    ({"top_k": 10 ** 6}, r"top_k must be an int in \[1, \d+\]"),
    ({"top_k": 2.0}, r"top_k must be an int .* got 2.0"),
    ({"top_p": 0}, r"top_p \(None keeps the whole vocabulary\) must be a finite number > 0 and <= 1, got 0"),
    ({"top_p": 1.5}, r"top_p .* got 1.5"),
    ({"top_p": float("nan")}, r"top_p .* got nan"),
    ({"seed": -1}, r"seed must be an int in \[0, 4294967295\] \(the page's generator takes 32-bit seeds\)"),
    ({"seed": 2 ** 32}, r"seed must be an int in \[0, 4294967295\]"),
    ({"max_new_tokens": 0}, r"max_new_tokens must be an int in \[1, 300\] \(the view's limit\), got 0"),
    ({"max_new_tokens": 301}, r"max_new_tokens must be an int in \[1, 300\]"),
    ({"max_new_tokens": True}, r"max_new_tokens must be an int in \[1, 300\].*got True"),
    ({"title": 5}, r"title must be a str, got int"),
])
def test_live_generation_rejects_every_bad_argument(gpt_checkpoint, kwargs, message):
    from transformer_edu.viz.views.live import LiveGeneration

    with pytest.raises(ValueError, match=message):
        LiveGeneration(**kwargs)
    view = LiveGeneration()
    with pytest.raises(ValueError, match=message):  # update checks the same way and keeps the old data
        view.update(**kwargs)
    assert view.data == GENERATION_DEFAULTS


def test_live_generation_repr_is_stable(gpt_checkpoint):
    from transformer_edu.viz.views.live import LiveGeneration

    expected = ("LiveGeneration(asset='shakespeare', text='**ROMEO**  \\n', temperature=0.8, top_k=None, top_p=None, "
                "seed=0, max_new_tokens=120)")
    assert repr(LiveGeneration()) == repr(LiveGeneration()) == expected
    view = LiveGeneration("JULIET:", temperature=None, top_k=3, top_p=0.5, seed=7, max_new_tokens=40, title="t")
    assert repr(view) == ("LiveGeneration(asset='shakespeare', text='JULIET:', temperature=None, top_k=3, top_p=0.5, "
                          "seed=7, max_new_tokens=40)")


def test_live_generation_sends_the_gpt_when_the_page_asks(gpt_checkpoint, monkeypatch):
    """In JupyterLab the view gets the same asset as the book's file, from the kernel."""
    from transformer_edu.checkpoint import load_checkpoint
    from transformer_edu.viz.views.live import LiveGeneration
    from transformer_edu.web_export import browser_asset

    view = LiveGeneration()
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    view._handle_custom_msg({"request": "asset", "name": "shakespeare"}, [])
    model, tokenizers, _ = load_checkpoint(gpt_checkpoint)
    assert sent == [{"asset_for": "shakespeare", "asset": browser_asset(model, tokenizers, "shakespeare")}]
    assert sent[0]["asset"]["model"] == "GPT"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_live_generation_prompt_messages_and_tokens(gpt_checkpoint, tmp_path):
    """The prompt box's checks (promptFor, in node): the messages for an empty prompt, characters outside the
    vocabulary (hostile markup among them) and a prompt too long for the box, the note for a prompt longer than
    the context; a good prompt's ids are the tokenizer's; and the greedy tokens the view shows (Engine.generation,
    step by step) are gpt.generate's."""
    from transformer_edu import load_checkpoint
    from transformer_edu.gpt import generate
    from transformer_edu.web_export import browser_asset

    model, tokenizers, _ = load_checkpoint(gpt_checkpoint)
    n = model.config.max_len
    texts = ["", "<img src=x onerror=alert(1)>", "caf\u00e9 \u00e9\u00e9 \u2603", "x" * 201, "ROMEO" * 20,
             "**ROMEO**  \n", "\n"]
    code = "\n".join((DECODING_JS / name).read_text(encoding="utf-8")
                     for name in ("view_common.js", "engine.js", "view_live.js", "view_live_generation.js"))
    script = code + f"""
const model = Engine.loadModel({json.dumps(browser_asset(model, tokenizers, "shakespeare"))});
const out = {json.dumps(texts)}.map((text) => {{
  try {{
    const p = promptFor(model, text, 200), n = Math.max(0, {n} - p.ids.length) + 4; // 4 steps past the context
    return {{ ids: p.ids, note: p.note, greedy: [...Engine.generation(model, p.ids, {{ maxNewTokens: n,
      temperature: null }})].map((s) => s.chosen) }};
  }} catch (e) {{ return {{ error: e.message }}; }}
}});
console.log(JSON.stringify(out));"""
    path = tmp_path / "generation.mjs"
    path.write_text(script, encoding="utf-8")
    result = subprocess.run(["node", str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got[0] == {"error": "Type a prompt such as \u201c**ROMEO**\u201d and a line break."}
    unknown = [c for c in dict.fromkeys(texts[1]) if c not in tokenizers[0].vocab]
    assert got[1]["error"].startswith("Not in the model's vocabulary: " + ", ".join(f"\u201c{c}\u201d" for c in
                                                                                   unknown[:5]))
    assert got[2]["error"].startswith("Not in the model's vocabulary: \u201c\u00e9\u201d, \u201c\u2603\u201d.")
    assert got[3] == {"error": "That is 201 characters; the prompt takes at most 200."}
    assert got[4]["note"] == f"The prompt has 100 tokens; the model sees only the last {n} (its context), " \
                             "as gpt.generate does."
    for text, g in zip(texts[4:], got[4:]):
        assert g["ids"] == tokenizers[0].encode(text)
        steps = max(0, n - len(g["ids"])) + 4
        want = generate(model, torch.tensor([g["ids"]]), steps, temperature=None)[0, len(g["ids"]):].tolist()
        assert g["greedy"] == want, text
    assert got[5]["note"] == got[6]["note"] == ""
