import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from transformer_edu import Transformer, TransformerConfig, causal_mask, scaled_dot_product_attention, sinusoidal_table
from transformer_edu.viz import views

XSS = "<img src=x onerror=alert(1)>"
VIEWS = [views.AttentionExplorer, views.MaskedAttentionExplorer, views.PositionalEncodingExplorer,
         views.EmbeddingExplorer, views.TokenExplorer, views.DistributionExplorer, views.LayerStatisticsExplorer]
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def numbers(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v)


def assert_rounded(values, decimals):
    found = list(numbers(values))
    assert found, "expected some numbers"
    assert all(round(x, decimals) == x for x in found)


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.__name__)
def test_javascript_is_offline_and_never_parses_data_as_html(view):
    code = view._esm
    assert re.findall(r"https?://[^\s\"'`]+", code) == [SVG_NAMESPACE]  # a namespace name, never fetched
    assert "//cdn" not in code and "import " not in code.replace("import(", "")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code
    assert code.rstrip().endswith("export default { render };")
    assert code.count("function viridis(") == 1  # the shared helpers are included once, not copied per view
    assert "http" not in view._css


def test_the_docstring_names_only_controls_that_exist():
    doc = views.__doc__
    controls = set(re.findall(r"data-te-control=([\w-]+)", doc))
    kinds = set(re.findall(r'data-te-view="([\w-]+)"', doc))
    live = (views.LiveTranslator, views.TokenJourney, views.LiveDecoding, views.LiveAttention, views.LiveGeneration)
    code = "".join(v._esm for v in (*VIEWS, *live, views.Quiz))
    assert len(kinds) == 13 and controls >= {"head", "causal-mask", "dimension", "position", "point", "text",
                                             "temperature", "metric", "series", "log-scale", "layer", "ablate",
                                             "next", "beam-size", "seed"}
    for name in controls:
        assert f'"{name}"' in code, name
    for kind in kinds:
        assert f'viewRoot(el, "{kind}"' in code or f'liveFrame(el, widget, "{kind}"' in code, kind


def test_attention_explorer_single_matrix():
    w = torch.softmax(torch.randn(3, 4), -1)
    view = views.AttentionExplorer(w, ["a", XSS, "c"], list("wxyz"), title="one")
    (kind,) = view.data["kinds"]
    assert np.array(kind["layers"]).shape == (1, 1, 3, 4)  # layers, heads, queries, keys
    assert kind["query_tokens"][1] == XSS  # tokens travel as data; the browser sets them with textContent
    assert_rounded(kind["layers"], 3)
    np.testing.assert_allclose(kind["layers"][0][0], w.numpy(), atol=5e-4)
    assert "0x" not in repr(view) and repr(view).startswith("AttentionExplorer(")
    json.dumps(view.data)  # plain JSON, no tensors


def test_attention_explorer_from_model_attention_keeps_every_kind():
    model = Transformer(TransformerConfig.small(vocab_size=20)).eval()
    src = torch.tensor([[5, 6, 7, 2, 0], [8, 9, 10, 11, 2]])
    tgt = torch.tensor([[1, 12, 13], [1, 14, 15]])
    with torch.no_grad():
        _, attn = model(src, tgt, return_attention=True)
    view = views.AttentionExplorer.from_model_attention(attn, list("abcde"), list("xyz"), example=1)
    shapes = {k["name"]: np.array(k["layers"]).shape for k in view.data["kinds"]}
    L, H = model.config.n_encoder_layers, model.config.n_heads
    assert shapes == {"encoder self-attention": (L, H, 5, 5), "decoder self-attention (masked)": (L, H, 3, 3),
                      "encoder-decoder attention": (L, H, 3, 5)}
    cross = view.data["kinds"][2]
    assert cross["query_tokens"] == list("xyz") and cross["key_tokens"] == list("abcde")
    np.testing.assert_allclose(cross["layers"][1], attn.cross[1][1].numpy(), atol=5e-4)
    with pytest.raises(ValueError, match=r"example must be in \[0, 1\], got 2"):
        views.AttentionExplorer.from_model_attention(attn, list("abcde"), list("xyz"), example=2)


def test_attention_explorer_rejects_bad_input():
    w = torch.softmax(torch.randn(2, 3, 4), -1)
    with pytest.raises(ValueError, match=r"query_tokens has 2 tokens.*size 3"):
        views.AttentionExplorer(w, ["a", "b"], list("wxyz"))
    with pytest.raises(ValueError, match=r"key_tokens has 3 tokens.*size 4"):
        views.AttentionExplorer(w, list("abc"), list("xyz"))
    with pytest.raises(ValueError, match=r"\[0, 1\].*MaskedAttentionExplorer"):
        views.AttentionExplorer(torch.randn(3, 4) * 5, list("abc"), list("wxyz"))
    with pytest.raises(ValueError, match=r"head must be in \[0, 1\]"):
        views.AttentionExplorer(w, list("abc"), list("wxyz"), head=2)
    with pytest.raises(ValueError, match="max_numbers"):
        views.AttentionExplorer(w, list("abc"), list("wxyz"), max_numbers=10)
    with pytest.raises(ValueError, match="same shape"):
        views.AttentionExplorer([w, w[:, :2]], list("abc"), list("wxyz"))


def run_node(script: str):
    result = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_masked_softmax_in_javascript_matches_the_package():
    torch.manual_seed(0)
    q, k = torch.randn(5, 8, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    scores = (q @ k.T / 8 ** 0.5)  # (T, S)
    pads = [0, 3, 4]  # key 0 padded too, so row 0 under both masks has no key left
    keep = torch.ones(5, dtype=torch.bool)
    keep[pads] = False
    mask = keep[None, :] & causal_mask(5)[0, 0]  # (T, S)
    _, expected = scaled_dot_product_attention(q, k, k, mask=mask)
    view = views.MaskedAttentionExplorer(scores, list("abcde"), pad_positions=pads)
    data = view.data
    common = (Path(views.__file__).parent / "view_common.js").read_text()
    script = common + f"""
const d = {json.dumps(data)};
const pads = new Set(d.pad_positions);
const out = d.scores.map((row, i) => softmax(row, row.map((_, j) => !pads.has(j) && j <= i)));
console.log(JSON.stringify(out));"""
    got = np.array(run_node(script))
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-3)  # scores were rounded to 4 decimals
    assert (got[0] == 0).all()  # fully masked row: zeros, as the package returns


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_javascript_colour_helpers():
    common = (Path(views.__file__).parent / "view_common.js").read_text()
    got = run_node(common + """
console.log(JSON.stringify([viridis(0), viridis(1), diverging(0, 1), inkOn(viridis(0)), inkOn(viridis(1)),
  meanOf([[[0.2, null]], [[0.4, 0.5]]]), shortToken("a\\nb"), shortToken("x".repeat(30))]));""")
    assert got[0] == [68, 1, 84] and got[1] == [253, 231, 37]  # viridis end points
    assert got[2] == [247, 246, 246]  # the diverging map's neutral middle
    assert got[3] == "#ffffff" and got[4] == "#000000"  # readable text on dark and light cells
    assert got[5][0][0] == pytest.approx(0.3) and got[5][0][1] is None
    assert got[6] == "a\\nb" and len(got[7]) == 14


def test_masked_attention_explorer():
    view = views.MaskedAttentionExplorer(torch.randn(4, 4), ["I", "am", XSS, "<pad>"], pad_positions=[3])
    d = view.data
    assert np.array(d["scores"]).shape == (4, 4) and d["key_tokens"][2] == XSS and d["pad_positions"] == [3]
    assert d["causal_possible"] and not d["padding"] and not d["causal"]
    assert_rounded(d["scores"], 4)
    rect = views.MaskedAttentionExplorer(torch.randn(2, 3), ["a", "b"], key_tokens=list("xyz"))
    assert not rect.data["causal_possible"]
    with pytest.raises(ValueError, match=r"causal mask needs as many queries as keys.*\(2, 3\)"):
        views.MaskedAttentionExplorer(torch.randn(2, 3), ["a", "b"], key_tokens=list("xyz"), causal=True)
    with pytest.raises(ValueError, match=r"pad_positions must be key indices in \[0, 3\]"):
        views.MaskedAttentionExplorer(torch.randn(4, 4), list("abcd"), pad_positions=[4])
    with pytest.raises(ValueError, match=r"tokens has 3 tokens.*size 4"):
        views.MaskedAttentionExplorer(torch.randn(4, 4), list("abc"))
    with pytest.raises(ValueError, match="finite"):
        views.MaskedAttentionExplorer(torch.tensor([[0.0, float("-inf")]]), ["a"], key_tokens=["x", "y"])


def test_positional_encoding_explorer():
    view = views.PositionalEncodingExplorer(d_model=16, max_len=10, dimension=3, position=2)
    d = view.data
    assert np.array(d["table"]).shape == (10, 16) and d["sinusoidal"]
    assert_rounded(d["table"], 3)
    np.testing.assert_allclose(d["table"], sinusoidal_table(10, 16).numpy(), atol=5e-4)
    assert d["wavelengths"][0] == pytest.approx(2 * np.pi, abs=0.01)
    assert d["wavelengths"][2] == d["wavelengths"][3] == pytest.approx(2 * np.pi * 10000 ** (2 / 16), abs=0.01)
    learned = views.PositionalEncodingExplorer(torch.randn(10, 16) * 0.1)
    assert not learned.data["sinusoidal"] and learned.data["wavelengths"] is None
    with pytest.raises(ValueError, match="either a table or both d_model and max_len"):
        views.PositionalEncodingExplorer(torch.randn(4, 4), d_model=4, max_len=4)
    with pytest.raises(ValueError, match="either a table"):
        views.PositionalEncodingExplorer(d_model=16)
    with pytest.raises(ValueError, match=r"dimension must be in \[0, 15\]"):
        views.PositionalEncodingExplorer(d_model=16, max_len=10, dimension=16)
    with pytest.raises(ValueError, match="max_numbers"):
        views.PositionalEncodingExplorer(d_model=512, max_len=100)


def test_embedding_explorer_neighbours_come_from_the_original_space():
    x = torch.randn(12, 10)
    labels = [f"w{i}" for i in range(11)] + [XSS]
    view = views.EmbeddingExplorer.from_vectors(x, labels, ["a"] * 6 + ["b"] * 6, k=3)
    d = view.data
    assert np.array(d["points"]).shape == (12, 2) and d["labels"][-1] == XSS
    assert d["group_names"] == ["a", "b"] and d["groups"] == [0] * 6 + [1] * 6
    unit = torch.nn.functional.normalize(x, dim=1)
    sim = unit @ unit.T
    sim.fill_diagonal_(-2)
    assert d["neighbours"] == sim.topk(3, dim=1).indices.tolist()
    np.testing.assert_allclose(d["scores"], sim.topk(3, dim=1).values.numpy(), atol=5e-4)
    assert_rounded(d["points"], 3)
    assert "10 dimensions" in d["metric"]
    with pytest.raises(ValueError, match=r"labels has 11 tokens.*\(12, 2\)"):
        views.EmbeddingExplorer(np.zeros((12, 2)), labels[:11])
    with pytest.raises(ValueError, match="finite \\(N, 2\\)"):
        views.EmbeddingExplorer(np.zeros((12, 3)), labels)
    with pytest.raises(ValueError, match=r"indices in \[0, 11\]"):
        views.EmbeddingExplorer(np.zeros((12, 2)), labels, neighbours=np.full((12, 2), 12))
    with pytest.raises(ValueError, match=r"k must be in \[1, 11\]"):
        views.nearest_neighbours(x, k=12)


def test_token_explorer_flat_and_nested():
    flat = views.TokenExplorer({"one": [("The", 5), (" cat", 6)], "two": [(XSS, 7)]})
    assert flat.data["texts"] == ["one", "two"] and flat.data["tokenizers"] == [""]
    assert flat.data["table"][1][0] == [[XSS, 7]]
    assert "cannot tokenize new text" in flat.data["note"]
    nested = views.TokenExplorer({"The cat": {"chars": [("T", 84)], "words": [("The", 1), (" cat", 2)]},
                                  "Hi": {"chars": [("H", 72), ("i", 105)]}})
    assert nested.data["tokenizers"] == ["chars", "words"]
    assert nested.data["table"][1][1] is None  # "Hi" was not tokenized with "words"
    with pytest.raises(ValueError, match=r"\[1\] must be a \(piece: str, id: int >= 0\) pair"):
        views.TokenExplorer({"x": [("a", 1), ("b", -1)]})
    with pytest.raises(ValueError, match="non-empty dict"):
        views.TokenExplorer({})


def test_distribution_explorer():
    view = views.DistributionExplorer(torch.randn(6) * 3, list("abcdef"), top_k=3)
    d = view.data
    assert np.array(d["logits"]).shape == (1, 6) and d["temperatures"][d["temperature_index"]] == 1.0
    assert_rounded(d["logits"], 4)
    two = views.DistributionExplorer(torch.randn(2, 4), ["a", "b", XSS, "d"], [0.5, 1.0, 2.0],
                                     position_labels=["p0", "p1"])
    assert two.data["positions"] == ["p0", "p1"] and two.data["vocab"][2] == XSS
    with pytest.raises(ValueError, match=r"vocab has 3 tokens.*size 4"):
        views.DistributionExplorer(torch.randn(4), list("abc"))
    with pytest.raises(ValueError, match="positive"):
        views.DistributionExplorer(torch.randn(4), list("abcd"), [0.0, 1.0])
    with pytest.raises(ValueError, match="must be one of temperatures"):
        views.DistributionExplorer(torch.randn(4), list("abcd"), [0.5, 2.0])
    with pytest.raises(ValueError, match=r"top_k must be in \[1, 4\]"):
        views.DistributionExplorer(torch.randn(4), list("abcd"), top_k=5)


def test_update_replaces_the_data():
    view = views.DistributionExplorer(torch.zeros(3), list("abc"))
    view.update(torch.tensor([1.0, 2.0]), ["x", "y"])
    assert view.data["vocab"] == ["x", "y"] and view.data["logits"] == [[1.0, 2.0]]


def test_importing_viz_is_quiet_and_lazy():
    code = ("import sys, transformer_edu.viz as v; "
            "print(sorted(m for m in ('transformer_edu.viz.widgets', 'transformer_edu.viz.bertviz_views', 'bertviz') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n" and result.stderr == ""


def char_tokenizer(text):
    return [(c, 3 + ord(c) % 15) for c in text]  # ids in [3, 18), inside a 20-token vocabulary


def test_live_widgets_recompute():
    from transformer_edu.viz import widgets

    box = widgets.live_tokenizer({"chars": char_tokenizer}, text="ab")
    note, text, view = box.children
    assert widgets.LIVE_NOTE in note.value
    assert view.data["table"] == [[[["a", 3 + 97 % 15], ["b", 3 + 98 % 15]]]]
    text.value = XSS
    assert view.data["texts"] == [XSS] and len(view.data["table"][0][0]) == len(XSS)

    model = Transformer(TransformerConfig.small(vocab_size=20)).eval()
    box = widgets.live_attention(model, char_tokenizer, text="hello", head=0)
    note, text, controls, message, image = box.children
    assert image.value[:4] == b"\x89PNG" and message.value == ""
    before = image.value
    controls.children[1].value = 1  # head 1
    assert image.value != before
    with pytest.raises(ValueError, match="encode"):
        widgets.live_attention(torch.nn.Linear(2, 2), char_tokenizer)

    box = widgets.live_temperature(lambda t: torch.arange(float(len(t) + 2)), ["a", "b", "c", "d"], text="ab",
                                   top_k=2)
    _, text, message, view = box.children
    assert view.data["logits"] == [[0.0, 1.0, 2.0, 3.0]]
    text.value = "abc"  # five logits for a four-token vocabulary: reported, not raised
    assert "vocab has 4 tokens" in message.value


def test_live_translation_shows_the_greedy_output_and_its_cross_attention():
    from transformer_edu import greedy_decode
    from transformer_edu.tokenizer import CharTokenizer
    from transformer_edu.viz import widgets

    src_tok, tgt_tok = CharTokenizer.train(["abc<>=/ "]), CharTokenizer.train(["xyz<"])
    config = TransformerConfig.small(src_vocab_size=src_tok.vocab_size, tgt_vocab_size=tgt_tok.vocab_size,
                                       share_embeddings=False)
    model = Transformer(config).train()
    box = widgets.live_translation(model, src_tok, tgt_tok, text="abc", max_len=5)
    note, text, controls, answer, image = box.children
    assert widgets.LIVE_NOTE in note.value and model.training  # evaluated in eval mode, left as it was
    with torch.no_grad():
        expected = greedy_decode(model.eval(), torch.tensor([src_tok.encode("abc")]), max_len=5)
    shown = tgt_tok.decode(expected[0]).replace("<", "&lt;").replace(">", "&gt;")  # an untrained model may write <unk>
    assert answer.value == f"<p>Model output: <code>{shown}</code></p>"
    assert image.value[:4] == b"\x89PNG" and int(image.width) > 100
    before = image.value
    controls.children[1].value = 0  # one head instead of the mean
    assert image.value != before
    text.value = ""
    assert answer.value == "<p>Could not compute: the text gave no tokens</p>"
    text.value = XSS  # its pieces go into the PNG only; the HTML line holds the escaped decoded output
    assert "<img" not in answer.value and answer.value.startswith("<p>Model output:")
    with pytest.raises(ValueError, match="decoder layer in \\[0, 1\\]"):
        widgets.live_translation(model, src_tok, tgt_tok, layer=2)
    with pytest.raises(ValueError, match="head must be"):
        widgets.live_translation(model, src_tok, tgt_tok, head=4)
    with pytest.raises(ValueError, match="tgt_tokenizer must be a transformer_edu tokenizer"):
        widgets.live_translation(model, src_tok, char_tokenizer)
    with pytest.raises(ValueError, match=r"model must be an nn.Module with the Seq2SeqModel protocol's attributes "
                                         r"\(config, new_cache, attention_layers, encode, decode\).*got Linear"):
        widgets.live_translation(torch.nn.Linear(2, 2), src_tok, tgt_tok)


def test_tokenize_with_accepts_the_package_tokenizers():
    from transformer_edu.tokenizer import CharTokenizer
    from transformer_edu.viz import widgets

    tok = CharTokenizer.train(["hello"])
    assert widgets.tokenize_with(tok, "hel") == [[p, i] for p, i in zip(tok.tokenize("hel"), tok.encode("hel"))]


# ---------------------------------------------------------------------------------------------- LayerStatisticsExplorer

def layer_values(n_layers=6):
    """Two metrics x three series, one number per layer; "exploding" spans many decades."""
    depth = torch.arange(1, n_layers + 1, dtype=torch.float64)
    return {"activation std": {"post-LN": torch.ones(n_layers), "pre-LN": depth.sqrt(), "exploding": 10.0 ** depth},
            "gradient norm": {"post-LN": 0.1 + 0.01 * depth, "pre-LN": 0.2 / depth.sqrt(), "exploding": 0.3 * depth}}


def test_layer_statistics_explorer_keeps_every_series_and_metric():
    values = layer_values()
    view = views.LayerStatisticsExplorer(values, x_label="block", metric="gradient norm", hidden=["exploding"],
                                         layer=2, title="stack")
    d = view.data
    assert d["series"] == ["post-LN", "pre-LN", "exploding"] and d["x"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert [m["name"] for m in d["metrics"]] == ["activation std", "gradient norm"]
    assert d["metric"] == 1 and d["hidden"] == [2] and d["layer"] == 2 and d["x_label"] == "block"
    for m, metric in zip(values, d["metrics"]):
        assert np.array(metric["values"]).shape == (3, 6)  # series x layers
        for k, s in enumerate(d["series"]):
            np.testing.assert_allclose(metric["values"][k], values[m][s].numpy(), rtol=5e-4)
    # "auto": a log scale where the values span two decades or more, a linear one where they do not
    assert d["metrics"][0]["log"] and not d["metrics"][1]["log"]
    assert "0x" not in repr(view) and repr(view) == (
        "LayerStatisticsExplorer(metrics=['activation std', 'gradient norm'], "
        "series=['post-LN', 'pre-LN', 'exploding'], layers=6)")
    forced = views.LayerStatisticsExplorer(values, log_scale={"gradient norm": True}).data["metrics"]
    assert [m["log"] for m in forced] == [True, True]
    assert [m["log"] for m in views.LayerStatisticsExplorer(values, log_scale=False).data["metrics"]] == [False, False]


def test_layer_statistics_explorer_keeps_significant_figures_across_decades():
    tiny = torch.tensor([1.23456e-13, 2.5e-7, 0.0, -0.0, 987654321.0, float("nan")], dtype=torch.float64)
    view = views.LayerStatisticsExplorer({"gradient": {"a": tiny}}, x=[0, 2, 4, 8, 16, 32], digits=3)
    values = view.data["metrics"][0]["values"][0]
    assert values == [1.23e-13, 2.5e-7, 0.0, 0.0, 988000000.0, None]  # fixed decimals would turn 1e-13 into 0
    assert str(values[3]) == "0.0"  # no -0.0
    assert not view.data["metrics"][0]["log"]  # zeros: "auto" stays linear (a log scale could not draw them)
    assert view.data["x"] == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert views.significant([[1 / 3, float("inf")]], 2) == [[0.33, None]]


def test_layer_statistics_explorer_data_round_trips_through_json_and_widget_state():
    from ipywidgets.embed import embed_data

    view = views.LayerStatisticsExplorer(layer_values(48), x_label="layer (block) index")
    assert json.loads(json.dumps(view.data)) == view.data and view.data_size < 4_000
    state = embed_data(views=[view], drop_defaults=False)["manager_state"]["state"]
    assert state[view.model_id]["state"]["data"] == view.data  # what the static book's page receives, unchanged
    view.update({"only": {XSS: [3.0, 4.0]}}, x_label=XSS)
    assert view.data["series"] == [XSS] and view.data["x_label"] == XSS  # labels travel as data, set as text
    assert view.data["metrics"] == [{"name": "only", "values": [[3.0, 4.0]], "log": False}]


def test_layer_statistics_explorer_rejects_bad_input():
    good = layer_values()
    LSE = views.LayerStatisticsExplorer
    with pytest.raises(ValueError, match=r"values must be a non-empty dict .*got list"):
        LSE([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"values must be a non-empty dict .*got dict \(empty\)"):
        LSE({})
    with pytest.raises(ValueError, match=r"values\['m'\] must be a non-empty dict .*got list"):
        LSE({"m": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"same series: values\['b'\] has \['x'\] but values\['a'\] has \['x', 'y'\]"):
        LSE({"a": {"x": [1, 2], "y": [3, 4]}, "b": {"x": [1, 2]}})
    with pytest.raises(ValueError, match=r"values\['a'\]\['y'\] has 3 numbers but values\['a'\]\['x'\] has 2"):
        LSE({"a": {"x": [1, 2], "y": [3, 4, 5]}})
    with pytest.raises(ValueError, match=r"values\['a'\]\['x'\] must be 1-D, got shape \(2, 2\)"):
        LSE({"a": {"x": [[1, 2], [3, 4]]}})
    with pytest.raises(ValueError, match="got none"):
        LSE({"a": {"x": []}})
    with pytest.raises(ValueError, match="at most 8 series"):
        LSE({"a": {f"s{i}": [1.0] for i in range(9)}})
    with pytest.raises(ValueError, match="no finite number"):
        LSE({"a": {"x": [float("nan"), float("inf")]}})
    with pytest.raises(ValueError, match=r"x must be 6 finite, increasing numbers .*got 6 numbers: \[1.0, 1.0"):
        LSE(good, x=[1, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"x must be 6 finite, increasing numbers .*got 2 numbers"):
        LSE(good, x=[1, 2])
    with pytest.raises(ValueError, match=r"log_scale names metrics \['loss'\] that are not in values"):
        LSE(good, log_scale={"loss": True})
    with pytest.raises(ValueError, match="log_scale must be 'auto', True, False"):
        LSE(good, log_scale="yes")
    with pytest.raises(ValueError, match=r"log scale needs positive values, but metric 'a' has none"):
        LSE({"a": {"x": [0.0, -1.0]}}, log_scale=True)
    with pytest.raises(ValueError, match=r"metric must be one of \['activation std', 'gradient norm'\].*got 'loss'"):
        LSE(good, metric="loss")
    with pytest.raises(ValueError, match=r"metric must be a name .* or an index in \[0, 1\], got 2"):
        LSE(good, metric=2)
    with pytest.raises(ValueError, match=r"hidden names series \['post-ln'\] that are not in values"):
        LSE(good, hidden=["post-ln"])
    with pytest.raises(ValueError, match="hidden must be a list of series names, got str"):
        LSE(good, hidden="post-LN")
    with pytest.raises(ValueError, match=r"layer must be an index in \[0, 5\], got 6"):
        LSE(good, layer=6)
    with pytest.raises(ValueError, match=r"digits must be an int in \[1, 15\] \(significant figures\), got 0"):
        LSE(good, digits=0)
    with pytest.raises(ValueError, match="holds 36 numbers, more than max_numbers=30"):
        LSE(good, max_numbers=30)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the views' JavaScript")
def test_layer_statistics_axes_and_numbers_in_javascript():
    folder = Path(views.__file__).parent
    code = (folder / "view_common.js").read_text() + (folder / "view_layer_statistics.js").read_text()
    got = run_node(code + """
const log = yAxis([1.4e-13, 0.5, 1.7e6, null], true);
const lin = yAxis([0.035, 0.13], false);
console.log(JSON.stringify([sig(1.4e-13), sig(1.64e6), sig(0.09551), sig(823), sig(0), sig(null),
  log.log, log.ticks.map(t => t[1]), log.scale(1e-13), log.scale(1e7), log.scale(0),
  lin.log, lin.ticks.map(t => t[0]), lin.scale(0), yAxis([0, 1], true).log, MARKER_SHAPES.length]));""")
    assert got[:6] == ["1.4 \u00d7 10\u207b\u00b9\u00b3", "1.64 \u00d7 10\u2076", "0.0955", "823", "0", "\u2013"]
    assert got[6] is True and got[7][0] == "10\u207b\u00b9\u00b2" and "1" in got[7]  # decades; 1 is a tick
    assert got[8] == pytest.approx(0) and got[9] == pytest.approx(1) and got[10] is None  # 0 is not drawn on a log axis
    assert got[11] is False and got[12] == pytest.approx([0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14])
    assert got[13] == 0  # a linear axis of positive values starts at 0
    assert got[14] is True and got[15] == 8  # a log axis still draws the positive values; one shape per series


def test_live_explorers_have_a_stable_one_line_text_form_and_the_live_class():
    from transformer_edu.viz import widgets

    box = widgets.live_tokenizer({"chars": char_tokenizer}, text="ab")
    assert repr(box) == f"live_tokenizer: 'ab' in ['chars']. {widgets.LIVE_NOTE}"
    assert box._repr_mimebundle_()["text/plain"] == repr(box)  # what the notebook stores and nbval compares
    assert widgets.LIVE_CLASS in box._dom_classes
    box.children[1].value = "abc"
    assert repr(box).startswith("live_tokenizer: 'abc'")
