"""transformer_edu.viz.bertviz_views: offline, deterministic, rounded, escaped bertviz output (no browser)."""
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from transformer_edu import AttentionWeights, Transformer, TransformerConfig
from transformer_edu.viz import bertviz_views
from transformer_edu.viz.bertviz_views import head_view, model_view

EVIL = "<img src=x onerror=alert(1)>"


def softmaxed(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=g), dim=-1)


def weights(S=5, T=4, H=2, N=2, seed=0):
    return AttentionWeights([softmaxed(1, H, S, S, seed=seed + i) for i in range(N)],
                            [softmaxed(1, H, T, T, seed=seed + 10 + i) for i in range(N)],
                            [softmaxed(1, H, T, S, seed=seed + 20 + i) for i in range(N)])


SRC = ["the", "cat", "sat", "down", "."]
TGT = ["<s>", "le", "chat", "assis"]


def params_of(html: str) -> dict:
    start = html.index("const params = ") + len("const params = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


@pytest.fixture(autouse=True)
def _fresh_ids():
    bertviz_views._used_ids.clear()


@pytest.mark.parametrize("view", [head_view, model_view])
def test_no_cdn_and_no_remote_script(view):
    html = view(weights(), SRC, TGT).data
    urls = re.findall(r"https?://[^\s\"'<>)]+", html)
    # Only bertviz's source attribution comment remains; nothing that a browser would fetch.
    assert all(u.startswith("https://github.com/") for u in urls), urls
    for host in ("cdnjs", "jsdelivr", "unpkg", "cloudflare"):
        assert host not in html
    assert not re.search(r"<script[^>]+src=", html)
    assert "require.config" not in html


@pytest.mark.parametrize("view", [head_view, model_view])
def test_same_input_same_output_and_distinct_ids(view):
    a = view(weights(), SRC, TGT).data
    bertviz_views._used_ids.clear()  # as in a fresh kernel
    b = view(weights(), SRC, TGT).data
    assert a == b
    again = view(weights(), SRC, TGT).data  # same view shown twice in one kernel
    other = view(weights(seed=5), SRC, TGT).data
    ids = [params_of(h)["root_div_id"] for h in (a, again, other)]
    assert len(set(ids)) == 3
    for html, id_ in zip((a, again, other), ids):
        assert f'id="{id_}"' in html and re.fullmatch(r"bertviz-[0-9a-f]{16}(-\d+)?", id_)


def test_output_is_identical_across_fresh_processes():
    code = ("from tests.test_bertviz_views import weights, SRC, TGT; "
            "from transformer_edu.viz.bertviz_views import head_view; "
            "import sys; sys.stdout.write(head_view(weights(), SRC, TGT).data)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outs[0] == outs[1] and len(outs[0]) > 1000


@pytest.mark.parametrize("decimals", [2, 3])
def test_weights_are_rounded(decimals):
    w = weights()
    params = params_of(head_view(w, SRC, TGT, decimals=decimals).data)
    encoder = [a for a in params["attention"] if a["name"] == "Encoder"][0]["attn"]
    got = torch.tensor(encoder, dtype=torch.float64)  # (layers, H, S, S)
    want = torch.cat(w.encoder_self).to(torch.float64)
    assert torch.allclose(got, want, atol=0.5 * 10 ** -decimals + 1e-12, rtol=0)
    numbers = re.findall(r"-?\d+\.\d+", json.dumps(encoder))
    assert numbers and all(len(n.split(".")[1]) <= decimals for n in numbers)


def test_rounding_makes_the_page_much_smaller():
    import bertviz

    w = weights(S=12, T=12, H=4, N=3)
    src, tgt = [f"s{i}" for i in range(12)], [f"t{i}" for i in range(12)]
    raw = bertviz.head_view(encoder_attention=w.encoder_self, decoder_attention=w.decoder_self,
                            cross_attention=w.cross, encoder_tokens=src, decoder_tokens=tgt, html_action="return")
    ours = head_view(w, src, tgt)
    assert len(ours.data) < 0.3 * len(raw.data)


def test_hostile_tokens_stay_text():
    html = head_view(weights(), ["a", EVIL, "</script><script>alert(2)</script>", "&amp;", "<!--"], TGT).data
    assert "<img" not in html
    assert html.lower().count("</script") == 1  # only the view's own closing tag
    assert "<!--" not in html
    tokens = [a for a in params_of(html)["attention"] if a["name"] == "Encoder"][0]["left_text"]
    assert tokens[1] == EVIL and tokens[3] == "&amp;"  # the JSON still decodes to the exact strings


# Spellings that end or change an HTML <script> element, markup and URLs that run code, entities, line separators.
HOSTILE = ["</SCRIPT><SCRIPT>alert(1)</SCRIPT>", "</ScRiPt/><img src=x onerror=alert(2)>", "</script >alert(3)",
           "<!--<script>", "<svg/onload=alert(4)>", "<a href=\"javascript:alert(5)\">x</a>", "javascript:alert(6)",
           "a & b &lt; c ]]>", "\u2028\u2029"]


@pytest.mark.parametrize("view", [head_view, model_view])
def test_every_spelling_of_a_hostile_token_stays_inside_the_json(view):
    html = view(weights(), HOSTILE[:5], HOSTILE[5:]).data
    start = html.index("const params = ") + len("const params = ")
    params, end = json.JSONDecoder().raw_decode(html, start)
    assert not set("<>&\u2028\u2029") & set(html[start:end])  # the data as written: only JSON escapes
    names = {a["name"]: (a["left_text"], a["right_text"]) for a in params["attention"]}
    assert names["Encoder"] == (HOSTILE[:5], HOSTILE[:5]) and names["Cross"] == (HOSTILE[5:], HOSTILE[:5])
    assert names["Decoder"] == (HOSTILE[5:], HOSTILE[5:])
    rest = html[:start] + html[end:]  # bertviz's own markup and code: no token anywhere in it
    assert not [t for t in HOSTILE if t in rest] and html.lower().count("</script") == 1 and "<!--" not in html


def test_plain_list_of_self_attention_and_real_model():
    html = head_view([softmaxed(1, 3, 4, 4), softmaxed(1, 3, 4, 4, seed=1)], ["a", "b", "c", "d"]).data
    assert [a["name"] for a in params_of(html)["attention"]] == [None]
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=20)).eval()
    src, tgt = torch.randint(1, 20, (2, 6)), torch.randint(1, 20, (2, 5))
    _, attn = model(src, tgt, return_attention=True)
    params = params_of(head_view(attn.example(1), [f"s{i}" for i in range(6)], [f"t{i}" for i in range(5)]).data)
    assert [a["name"] for a in params["attention"]] == ["Encoder", "Decoder", "Cross"]
    cross = torch.tensor(params["attention"][2]["attn"])  # (layers, H, T, S)
    assert cross.shape == (2, 4, 5, 6)
    assert torch.allclose(cross.sum(-1), torch.ones(2, 4, 5), atol=6 * 0.0005)


def test_kinds_select_what_is_shown():
    html = model_view(weights(), SRC, kinds=["encoder_self"]).data
    assert [a["name"] for a in params_of(html)["attention"]] == ["Encoder"]
    html = head_view(weights(), SRC, TGT, kinds=["cross"]).data
    assert [a["name"] for a in params_of(html)["attention"]] == ["Cross"]


def test_model_view_display_modes():
    assert "background:#fff" in model_view(weights(), SRC, TGT).data
    dark = model_view(weights(), SRC, TGT, display_mode="dark").data
    assert "background:#000" in dark and params_of(dark)["display_mode"] == "dark"


@pytest.mark.parametrize("call, message", [
    (lambda: head_view([torch.rand(2, 2, 5, 5)], SRC), "one example"),
    (lambda: head_view([torch.rand(2, 5, 5)], SRC), r"expected shape \(1, H, 5, 5\)"),
    (lambda: head_view([torch.rand(1, 2, 4, 4)], SRC), r"to match the tokens, got \(1, 2, 4, 4\)"),
    (lambda: head_view([softmaxed(1, 2, 5, 5), softmaxed(1, 3, 5, 5)], SRC), "expected 2 heads"),
    (lambda: head_view([], SRC), "non-empty list"),
    (lambda: head_view([torch.full((1, 1, 5, 5), float("nan"))], SRC), "finite"),
    (lambda: head_view([softmaxed(1, 2, 5, 5)], "the cat"), "list of strings"),
    (lambda: head_view([softmaxed(1, 2, 5, 5)], [1, 2, 3, 4, 5]), "list of strings"),
    (lambda: head_view(weights(), SRC), "tgt_tokens"),
    (lambda: head_view(weights(), SRC, TGT[:3]), r"\(1, H, 3, 3\)"),
    (lambda: head_view(weights(), SRC, TGT, kinds=["self"]), "kinds"),
    (lambda: head_view([softmaxed(1, 2, 5, 5)], SRC, TGT), "AttentionWeights only"),
    (lambda: head_view(AttentionWeights(weights().encoder_self, weights(N=3).decoder_self, []), SRC, TGT),
     "same number of layers"),
    (lambda: head_view(weights(), SRC, TGT, decimals=0), "decimals"),
    (lambda: head_view(weights(), SRC, TGT, layer=2), r"layer: expected an int in \[0, 1\]"),
    (lambda: model_view(weights(), SRC, TGT, heads=[2]), r"heads: expected indices in \[0, 1\]"),
    (lambda: model_view(weights(), SRC, TGT, layers=[]), "layers"),
    (lambda: model_view(weights(), SRC, TGT, display_mode="sepia"), "display_mode"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
