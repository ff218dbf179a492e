import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from transformer_edu import Transformer, TransformerConfig, sinusoidal_table
from transformer_edu.viz import plots

TOKENS = ["The", "cat", "$5$", "<img src=x onerror=alert(1)>"]


def panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_attention_heatmap_one_head_labels_both_axes():
    w = torch.softmax(torch.randn(4, 4), -1)
    fig = plots.attention_heatmap(w, TOKENS, TOKENS, title="t")
    assert isinstance(fig, Figure)
    (ax,) = panels(fig)
    assert len(fig.axes) == 2  # the panel and its colour bar
    assert [t.get_text() for t in ax.get_yticklabels()] == [plots.display_token(t) for t in TOKENS]
    assert [t.get_text() for t in ax.get_xticklabels()] == [plots.display_token(t) for t in TOKENS]
    assert all(not t.get_parse_math() for t in ax.get_xticklabels())  # "$5$" stays literal, not TeX
    assert ax.get_xlabel() and ax.get_ylabel()
    np.testing.assert_allclose(ax.images[0].get_array(), w.numpy(), rtol=1e-6)


@pytest.mark.parametrize("heads, expected_panels", [(1, 1), (4, 4), (6, 6)])
def test_attention_heatmap_one_panel_per_head(heads, expected_panels):
    w = torch.softmax(torch.randn(heads, 3, 5), -1)
    fig = plots.attention_heatmap(w, ["a", "b", "c"], list("vwxyz"))
    assert len(panels(fig)) == expected_panels
    if heads > 1:
        assert [ax.get_title() for ax in panels(fig)] == [f"head {h}" for h in range(heads)]


def test_attention_heatmap_shape_mismatch_names_both_sizes():
    w = torch.rand(3, 4)
    with pytest.raises(ValueError, match=r"query_tokens has 2 tokens.*size 3"):
        plots.attention_heatmap(w, ["a", "b"], list("wxyz"))
    with pytest.raises(ValueError, match=r"key_tokens has 5 tokens.*size 4"):
        plots.attention_heatmap(w, ["a", "b", "c"], list("vwxyz"))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        plots.attention_heatmap(torch.rand(2, 2, 3, 4), ["a", "b", "c"], list("wxyz"))
    with pytest.raises(ValueError, match="list of token strings"):
        plots.attention_heatmap(w, "abc", list("wxyz"))


def test_positional_figures():
    table = sinusoidal_table(20, 16)
    fig = plots.positional_encoding_heatmap(table)
    (ax,) = panels(fig)
    assert ax.images[0].get_array().shape == (20, 16)
    assert "position" in ax.get_ylabel() and "dimension" in ax.get_xlabel()
    fig = plots.positional_similarity(table)
    np.testing.assert_allclose(panels(fig)[0].images[0].get_array(), (table @ table.T).numpy(), rtol=1e-5, atol=1e-5)
    cos = panels(plots.positional_similarity(table, normalize=True))[0].images[0].get_array()
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="2-D"):
        plots.positional_encoding_heatmap(torch.zeros(5))


def test_pca_2d_matches_torch_and_has_a_fixed_sign():
    x = torch.randn(30, 8, dtype=torch.float64) @ torch.randn(8, 8, dtype=torch.float64)
    points, ratio = plots.pca_2d(x)
    _, _, v = torch.pca_lowrank(x, q=8, center=True)  # q = full rank, so the randomized method is exact
    reference = ((x - x.mean(0)) @ v[:, :2]).numpy()  # (N, 2), signs arbitrary
    np.testing.assert_allclose(np.abs(points), np.abs(reference), atol=1e-8)
    assert 0 < ratio[1] <= ratio[0] and ratio.sum() <= 1
    flipped, _ = plots.pca_2d(-x)  # negating the data negates the points: the convention fixes the sign
    np.testing.assert_allclose(flipped, -points, atol=1e-10)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        plots.pca_2d(torch.randn(1, 5))


def test_embedding_projection_groups_and_labels():
    x = torch.randn(9, 6)
    groups = ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    fig = plots.embedding_projection(x, [f"w{i}" for i in range(9)], groups)
    (ax,) = fig.axes
    assert len(ax.collections) == 3  # one scatter per group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"w{i}" for i in range(9))
    assert "principal component 1" in ax.get_xlabel()
    with pytest.raises(ValueError, match="labels has 8 tokens.*9"):
        plots.embedding_projection(x, [f"w{i}" for i in range(8)])


def test_learning_rate_schedule_and_loss_curves():
    steps = np.arange(1, 101)
    lrs = np.minimum(steps / 10, (10 / steps) ** 0.5) * 1e-3
    fig = plots.learning_rate_schedule(steps, lrs, warmup_steps=10)
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lrs)
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "learning rate"
    with pytest.raises(ValueError, match="100 steps and 99 lrs"):
        plots.learning_rate_schedule(steps, lrs[:-1])

    history = {"step": [10, 20, 30], "train_loss": [3.0, 2.0, 1.5], "val_loss": [(15, 2.5), (30, 1.9)],
               "val_exact_match": [(15, 0.2), (30, 0.6)]}
    fig = plots.loss_curves(history)
    assert len(fig.axes) == 2
    loss_ax, metric_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train_loss", "val_loss"]
    np.testing.assert_allclose(loss_ax.lines[0].get_xdata(), [10, 20, 30])
    np.testing.assert_allclose(metric_ax.lines[0].get_ydata(), [0.2, 0.6])
    assert len(plots.loss_curves({"train_loss": [1.0, 0.5]}).axes) == 1
    with pytest.raises(ValueError, match="at least one non-empty series"):
        plots.loss_curves({"step": [1, 2]})
    with pytest.raises(ValueError, match="dict"):
        plots.loss_curves([1.0, 2.0])


def test_parameter_breakdown():
    parts = {"attention": 1_050_624, "feed-forward": 2_099_712, "norms": 2_048}
    fig = plots.parameter_breakdown(parts)
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == list(parts.values())
    assert "3,152,384" in ax.get_title()
    with pytest.raises(ValueError, match="non-negative"):
        plots.parameter_breakdown({"x": -1})


def texts_of(fig):
    return [t.get_text() for t in fig.axes[0].texts]


@pytest.mark.parametrize("n_enc, n_dec, norm_first, final_norm", [(2, 2, False, False), (3, 1, True, True)])
def test_model_diagram_reads_the_model(n_enc, n_dec, norm_first, final_norm):
    config = TransformerConfig.small(vocab_size=16, n_encoder_layers=n_enc, n_decoder_layers=n_dec,
                                     norm_first=norm_first, final_norm=final_norm)
    texts = texts_of(plots.model_diagram(Transformer(config)))
    assert f"Encoder\nN = {n_enc}" in texts and f"Decoder\nN = {n_dec}" in texts
    assert f"Multi-head self-attention, h = {config.n_heads}" in texts
    assert f"Feed-forward {config.d_model} -> {config.d_ff} -> {config.d_model}" in texts
    assert ("Final LayerNorm (not in the paper)" in texts) == final_norm
    assert ("Add & Norm" in texts) == (not norm_first)
    assert f"Linear: {config.d_model} -> 16 scores" in texts
    with pytest.raises(ValueError, match="encoder.layers"):
        plots.model_diagram(torch.nn.Linear(2, 2))


def test_no_figure_is_left_open_in_pyplot():
    plots.attention_heatmap(torch.eye(2), ["a", "b"], ["a", "b"])
    plots.positional_similarity(sinusoidal_table(4, 4))
    assert plt.get_fignums() == []


def test_head_grid_writes_every_value_and_labels_axes():
    values = torch.tensor([[0.0, 0.25, 1.0], [0.5, 0.125, 0.75]])  # (N=2 layers, H=3 heads)
    fig = plots.head_grid(values, title="drop", value_label="accuracy drop")
    (ax,) = panels(fig)
    np.testing.assert_allclose(ax.images[0].get_array(), values.numpy())
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.2f}" for v in values.flatten().tolist())
    assert ax.get_xlabel() == "head" and ax.get_ylabel() == "layer" and fig._suptitle.get_text() == "drop"
    assert ax.images[0].get_cmap().name == "viridis"
    assert fig.axes[-1].get_ylabel() == "accuracy drop"  # the colour bar
    text = {t.get_text(): t.get_color() for t in ax.texts}
    assert text["0.00"] == "white" and text["1.00"] == "black"  # dark viridis end, light end
    assert plt.get_fignums() == []


def test_head_grid_panels_share_one_scale_and_signed_values_diverge():
    grids = {"encoder self": torch.zeros(2, 4), "cross": torch.tensor([[-0.5, 0.0, 0.25, 1.0], [0, 0, 0, 0]])}
    fig = plots.head_grid(grids, decimals=1)
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == ["encoder self", "cross"]
    assert {ax.images[0].get_clim() for ax in axes} == {(-1.0, 1.0)}  # symmetric around 0, shared
    assert axes[0].images[0].get_cmap().name == "RdBu_r" and len(axes[1].texts) == 8
    assert "-0.5" in [t.get_text() for t in axes[1].texts]


@pytest.mark.parametrize("values, kwargs, words", [
    (torch.zeros(2, 3, 4), {}, "2-D"),
    (torch.zeros(0, 4), {}, "non-empty"),
    ({}, {}, "empty dict"),
    ({"a": torch.zeros(2)}, {}, r"values\['a'\] must be 2-D"),
    (torch.zeros(2, 2), {"decimals": 9}, "decimals"),
    (torch.ones(2, 2), {"vmin": 1.0, "vmax": 0.5}, "vmin must be below vmax"),
    ("abc", {}, "nested list of numbers"),
])
def test_head_grid_rejects_bad_input(values, kwargs, words):
    with pytest.raises(ValueError, match=words):
        plots.head_grid(values, **kwargs)


@pytest.mark.parametrize("token, shown", [("a\nb", "a\\nb"), ("a\tb", "a\\tb"), ("a\u2028b", "a\\u2028b"),
                                          ("a\u2029b", "a\\u2029b"), ("x" * 20, "x" * 15 + "\u2026")])
def test_display_token_spells_out_line_breaks_and_shortens(token, shown):
    assert plots.display_token(token) == shown


def run(values, steps=(0, 25, 50)):
    return [(s, v) for s, v in zip(steps, values)]


CURVES = {"2017 baseline": [run([4.6, 2.6, 2.2]), run([4.5, 2.7, 2.4])],
          "pre-LN": [run([4.6, 2.5, 2.1]), run([4.6, 2.4, 2.0]), run([4.6, 2.5, 2.3])],
          "RMSNorm": [run([4.6, 2.6, 2.2]), None]}


def test_seed_curves_draw_the_mean_and_the_range_of_each_row():
    fig = plots.seed_curves(CURVES)
    (ax,) = panels(fig)
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines) == list(CURVES)
    np.testing.assert_allclose(lines["pre-LN"].get_ydata(), [4.6, 2.4666667, 2.1333333], rtol=1e-6)
    band = ax.collections[1].get_paths()[0].vertices  # pre-LN's band: from the lowest run to the highest
    assert np.isclose(band[:, 1].min(), 2.0) and np.isclose(band[:, 1].max(), 4.6)
    assert "RMSNorm: 1 of 2 runs diverged" in [t.get_text() for t in ax.texts]
    np.testing.assert_allclose(lines["RMSNorm"].get_ydata(), [4.6, 2.6, 2.2])  # the finished run alone


def test_seed_curves_with_a_baseline_give_each_row_its_panel():
    fig = plots.seed_curves(CURVES, baseline="2017 baseline", ncols=2, ylim=(1.8, 3.0))
    axes = [ax for ax in panels(fig) if ax.axison]
    assert [ax.get_title() for ax in axes] == ["pre-LN", "RMSNorm"]
    for ax in axes:  # the baseline, dashed, on every panel
        baseline = [line for line in ax.lines if line.get_label() == "2017 baseline"]
        assert len(baseline) == 1 and baseline[0].get_linestyle() == "--"
        assert ax.get_ylim() == (1.8, 3.0)
    np.testing.assert_allclose(baseline[0].get_ydata(), [4.55, 2.65, 2.3])


@pytest.mark.parametrize("curves, kwargs, words", [
    ({}, {}, "non-empty dict"),
    ({"a": []}, {}, "non-empty list of runs"),
    ({"a": [run([1, 2]), run([1, 2], steps=(0, 10))]}, {}, "same steps"),
    ({"a": [[(0, 1, 2)]]}, {}, r"\(step, value\) pairs"),
    (CURVES, {"baseline": "post-LN"}, "not one of the rows"),
    ({"a": [run([1, 2])]}, {"baseline": "a"}, "at least one other row"),
])
def test_seed_curves_reject_bad_input(curves, kwargs, words):
    with pytest.raises(ValueError, match=words):
        plots.seed_curves(curves, **kwargs)


def test_seed_ranges_show_every_seed_and_shade_the_baseline():
    values = {"2017 baseline": [2.30, 2.34, 2.32], "pre-LN": [2.20, 2.22, 2.21], "diverged": [None, float("nan")]}
    fig = plots.seed_ranges(values, baseline="2017 baseline", xlabel="loss")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == list(values)
    (shade,) = ax.patches
    assert np.isclose(shade.get_x(), 2.30) and np.isclose(shade.get_x() + shade.get_width(), 2.34)
    dots = [line for line in ax.lines if line.get_marker() not in ("None", "|") and len(line.get_xdata()) == 3]
    np.testing.assert_allclose(sorted(dots[1].get_xdata()), [2.20, 2.21, 2.22])
    means = [line.get_xdata()[0] for line in ax.lines if line.get_marker() == "|"]
    np.testing.assert_allclose(means, [2.32, 2.21])
    assert "no value" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="not one of the rows"):
        plots.seed_ranges(values, baseline="GELU")
    with pytest.raises(ValueError, match="at least one number"):
        plots.seed_ranges({"a": []})
    assert plt.get_fignums() == []
