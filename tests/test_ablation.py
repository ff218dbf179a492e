import copy
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu import Transformer, TransformerConfig, greedy_decode
from transformer_edu.ablation import KINDS, ablate_heads, attention_module, check_heads, head_ablation_scores
from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.data import make_dataset
from transformer_edu.training import exact_match

SHIPPED = Path(transformer_edu.__file__).parent / "checkpoints" / "dates.pt"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = TransformerConfig.small(vocab_size=17, d_model=16, n_heads=4, d_ff=32, n_encoder_layers=2,
                                     n_decoder_layers=3, dropout=0.0, max_len=20)
    return Transformer(config).double().eval()


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randint(3, 17, (3, 6), generator=g), torch.randint(3, 17, (3, 5), generator=g)


def n_hooks(model) -> int:
    return sum(len(m._forward_pre_hooks) for m in model.modules())


def zero_w_o_columns(model, kind, layer, heads):
    """Reference: a copy whose W^O ignores `heads` (their d_k input columns of the weight set to 0)."""
    other = copy.deepcopy(model)
    module = attention_module(other, kind, layer)
    with torch.no_grad():
        for h in heads:
            module.w_o.weight[:, h * module.d_k:(h + 1) * module.d_k] = 0.0
    return other


def test_ablating_no_head_changes_nothing(model, batch):
    before = model(*batch)
    with ablate_heads(model, set()) as same:
        assert same is model and n_hooks(model) == 0
        assert torch.equal(model(*batch), before)


@pytest.mark.parametrize("kind", KINDS)
def test_one_head_equals_zeroing_its_columns_of_w_o(model, batch, kind):
    reference = zero_w_o_columns(model, kind, 1, [2])(*batch)
    with ablate_heads(model, {(kind, 1, 2)}):
        ablated = model(*batch)
    torch.testing.assert_close(ablated, reference)
    assert not torch.allclose(ablated, model(*batch))  # removing one head changes the output


@pytest.mark.parametrize("kind", KINDS)
def test_all_heads_of_a_layer_leave_only_the_bias_of_w_o(model, batch, kind):
    module = attention_module(model, kind, 0)
    with ablate_heads(model, {(kind, 0, h) for h in range(4)}):
        ablated = model(*batch)
    # the same model with W^O's weight all zero: the sub-layer then outputs its bias b^O at every position
    reference = zero_w_o_columns(model, kind, 0, range(4))
    assert torch.count_nonzero(attention_module(reference, kind, 0).w_o.weight) == 0
    torch.testing.assert_close(ablated, reference(*batch))
    x = torch.randn(2, 3, 16, dtype=torch.float64)
    with ablate_heads(model, {(kind, 0, h) for h in range(4)}):
        out = module(x, x, x)
    torch.testing.assert_close(out, module.w_o.bias.expand(2, 3, 16))


def test_several_heads_in_several_modules_at_once(model, batch):
    heads = {("encoder_self", 0, 1), ("encoder_self", 0, 3), ("cross", 2, 0), ("decoder_self", 1, 1)}
    reference = copy.deepcopy(model)
    for kind, layer, head in heads:
        module = attention_module(reference, kind, layer)
        with torch.no_grad():
            module.w_o.weight[:, head * module.d_k:(head + 1) * module.d_k] = 0.0
    with ablate_heads(model, list(heads) + [("cross", 2, 0)]):  # a repeated head counts once
        assert n_hooks(model) == 3  # one hook per affected W^O
        torch.testing.assert_close(model(*batch), reference(*batch))
    assert n_hooks(model) == 0


def test_ablation_reaches_cached_decoding(model, batch):
    src = batch[0]
    with ablate_heads(model, {("cross", 0, 0), ("decoder_self", 2, 3)}):
        cached = greedy_decode(model, src, max_len=8, use_cache=True, stop_at_eos=False)
        full = greedy_decode(model, src, max_len=8, use_cache=False, stop_at_eos=False)
    assert torch.equal(cached, full)


def test_hooks_are_removed_after_an_exception(model, batch):
    before = model(*batch)
    with pytest.raises(RuntimeError, match="inside the block"):
        with ablate_heads(model, {("cross", 0, 1), ("encoder_self", 1, 0)}):
            assert n_hooks(model) == 2
            raise RuntimeError("inside the block")
    assert n_hooks(model) == 0
    assert torch.equal(model(*batch), before)


def test_training_mode_and_weights_are_untouched(model, batch):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    try:
        with ablate_heads(model, {("decoder_self", 0, 0)}):
            assert model.training
    finally:
        model.eval()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("heads, words", [
    ({("encoder", 0, 0)}, "kind must be one of"),
    ({("cross", 3, 0)}, r"layer must be an int in \[0, 2\]"),
    ({("encoder_self", 2, 0)}, r"layer must be an int in \[0, 1\] for kind 'encoder_self'"),
    ({("cross", 0, 4)}, r"head must be an int in \[0, 3\]"),
    ({("cross", 0, -1)}, r"head must be an int in \[0, 3\]"),
    ({("cross", 0, True)}, "head must be an int"),
    ([("cross", 0)], r"\(kind, layer, head\) triple"),
    (["cross"], r"\(kind, layer, head\) triple"),
    ("cross", "iterable of"),
    (3, "iterable of"),
])
def test_bad_heads_raise_value_error_before_any_hook(model, heads, words):
    with pytest.raises(ValueError, match=words):
        with ablate_heads(model, heads):
            pass
    assert n_hooks(model) == 0


def test_bad_model_raises_value_error():
    protocol = r"model must be an nn.Module with the Model protocol's attributes \(config, new_cache, " \
               r"attention_layers\), as transformer_edu.Transformer has; got "  # ablation needs no more (a GPT too)
    with pytest.raises(ValueError, match=protocol + "Linear"):
        check_heads(torch.nn.Linear(2, 2), set())
    with pytest.raises(ValueError, match=protocol + "str"):
        attention_module("model", "cross", 0)


@pytest.fixture(scope="module")
def shipped():
    model, tokenizers, _ = load_checkpoint(SHIPPED)
    return model, tokenizers, make_dataset("dates", 1, 1000, seed=0)[1][:60]


def test_head_ablation_scores_on_the_shipped_model(shipped):
    model, tokenizers, pairs = shipped
    assert exact_match(model, pairs, *tokenizers) == 1.0
    scores = head_ablation_scores(model, pairs, tokenizers, kinds=["cross", "encoder_self"])
    assert list(scores) == ["cross", "encoder_self"]
    for grid in scores.values():
        assert grid.shape == (2, 4) and grid.dtype == torch.float64
        assert bool(((grid >= 0) & (grid <= 1)).all())
        assert bool((grid * len(pairs) == (grid * len(pairs)).round()).all())  # counts of exactly right pairs
    layer, head = divmod(int(scores["cross"].argmin()), 4)
    with ablate_heads(model, {("cross", layer, head)}):  # the grid is what exact_match gives under ablation
        assert exact_match(model, pairs, *tokenizers) == scores["cross"][layer, head].item()
    all_cross_heads = {("cross", 1, h) for h in range(4)}  # one head alone may not matter; all of them must
    with ablate_heads(model, all_cross_heads):
        assert exact_match(model, pairs, *tokenizers) < 0.5
    assert n_hooks(model) == 0


@pytest.mark.parametrize("kwargs, words", [
    ({"kinds": ["cross", "bogus"]}, "kinds must be a non-empty list"),
    ({"kinds": []}, "kinds must be a non-empty list"),
    ({"kinds": "cross"}, "kinds must be a non-empty list"),
    ({"kinds": ["cross", "cross"]}, "must not repeat"),
    ({"tokenizers": None}, "tokenizers must be a"),
    ({"pairs": []}, "pairs must be a non-empty list"),
    ({"pairs": [("a", 1)]}, "pairs must be a non-empty list"),
    ({"batch_size": 0}, "batch_size"),
])
def test_head_ablation_scores_validates(shipped, kwargs, words):
    model, tokenizers, pairs = shipped
    args = {"pairs": pairs[:2], "tokenizers": tokenizers, **kwargs}
    with pytest.raises(ValueError, match=words):
        head_ablation_scores(model, **args)
    assert n_hooks(model) == 0
