import pytest
import torch
from torch import nn

from transformer_edu import (Block, Encoder, MultiHeadAttention, Stack, Transformer, TransformerConfig,
                             causal_mask, greedy_decode)
from transformer_edu.checks import (NonFiniteError, check_features, check_int, check_mask, check_model, check_number,
                                    check_positions, check_real_tokens, check_token_ids, checked_by,
                                    describe_non_finite, is_finite, is_number, is_trusted, non_finite_parameters,
                                    trusted, weight_dtype)


def test_good_inputs_pass():
    check_features(torch.randn(2, 3, 8), 8, dtype=torch.float32)
    check_int("d_model", 8)
    assert weight_dtype(nn.Linear(2, 2).double()) == torch.float64 and weight_dtype(nn.ReLU()) is None


@pytest.mark.parametrize("x, message", [
    ([[0.0] * 8], "input must be a torch.Tensor of shape \\(batch, length, d_model=8\\), got list"),
    (torch.ones(2, 3, 8, dtype=torch.long), "floating-point"),
    (torch.randn(3, 8), r"got \(3, 8\)"),
    (torch.randn(2, 3, 7), r"got \(2, 3, 7\)"),
    (torch.randn(2, 0, 8), "empty"),
    (torch.randn(2, 3, 8, dtype=torch.float64), "torch.float64 but the module's weights are torch.float32"),
])
def test_bad_features_name_what_was_expected(x, message):
    with pytest.raises(ValueError, match=message):
        check_features(x, 8, dtype=torch.float32)


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "8", None])
def test_bad_sizes(value):
    with pytest.raises(ValueError, match="n_heads must be an int >= 1"):
        check_int("n_heads", value)


def test_is_number_accepts_ints_and_floats_but_not_bools():
    assert is_number(1) and is_number(0.5) and is_number(float("inf"))
    assert not any(is_number(v) for v in (True, False, "1", None, torch.tensor(1.0)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_is_finite_finds_one_bad_value_anywhere(dtype, value):
    x = torch.randn(3, 5, 7).to(dtype)
    assert is_finite(x) and is_finite(torch.empty(0, 4, dtype=dtype))
    for i in range(x.numel()):  # every position: no lane of a vectorized reduction is skipped
        bad = x.clone()
        bad.view(-1)[i] = value
        assert not is_finite(bad)


def test_non_finite_values_are_counted_and_located():
    x = torch.zeros(2, 4, 8)
    x[1, 3, 5], x[1, 3, 6], x[0, 2, 1] = float("nan"), float("nan"), -float("inf")
    assert describe_non_finite(x) == "2 NaN and 1 inf among 64 values, the first at index (0, 2, 1)"
    assert describe_non_finite(torch.tensor(float("nan"))) == "1 NaN among 1 values, the first at index ()"


def test_check_features_looks_for_nan_only_when_asked():
    x = torch.randn(2, 3, 8)
    x[1, 0, 4] = float("nan")
    check_features(x, 8)  # the layers' own check: shapes and dtypes only
    with pytest.raises(NonFiniteError, match=r"^input holds 1 NaN among 48 values, the first at index \(1, 0, 4\)\. "
                                             r"Usual causes: non-finite weights"):
        check_features(x, 8, finite=True)
    assert issubclass(NonFiniteError, ValueError)


def test_non_finite_parameters_are_named_once_even_when_shared():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
    model[2].weight = model[0].weight  # one matrix under two names
    assert non_finite_parameters(model) == []
    with torch.no_grad():
        model[0].weight[1, 1] = float("inf")
        model[2].bias[0] = float("nan")
    assert non_finite_parameters(model) == ["0.weight", "2.bias"]


def test_rows_of_padding_only_are_named():
    check_real_tokens(torch.tensor([[5, 0, 0], [0, 0, 6]]), pad_id=0)
    with pytest.raises(ValueError, match=r"src_ids row\(s\) \[0, 2\] of the batch of shape \(3, 2\) hold only padding "
                                         r"\(pad_id 3\)"):
        check_real_tokens(torch.tensor([[3, 3], [4, 3], [3, 3]]), pad_id=3)


# --- token ids: the range is checked on the CPU and named ------------------------------------------------

@pytest.mark.parametrize("ids, values", [
    (torch.tensor([[1, 7], [2, 3]]), "from 1 to 7"),
    (torch.tensor([[-2, 3]]), "from -2 to 3"),
    (torch.tensor([[5]], dtype=torch.int32), "from 5 to 5"),
])
def test_token_ids_out_of_range_name_the_range_and_the_values(ids, values):
    check_token_ids(torch.tensor([[0, 4], [4, 0]]), 5, "tgt_ids")  # both ends of the range are fine
    with pytest.raises(ValueError, match=rf"^tgt_ids must be in \[0, 4\] for a vocabulary of 5, got values {values}$"):
        check_token_ids(ids, 5, "tgt_ids")


def test_token_ids_without_a_vocabulary_check_only_dtype_and_shape():
    check_token_ids(torch.tensor([[-1, 10 ** 6]]))
    with pytest.raises(ValueError, match=r"ids must have shape \(batch, length\)"):
        check_token_ids(torch.tensor([1, 2]))


# --- shared validators ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0.0, -1, float("nan"), float("inf"), True, "1"])
def test_check_number_names_its_bounds(value):
    check_number("temperature", 1e-300, 0, low_open=True)
    with pytest.raises(ValueError, match=rf"^temperature must be a finite number > 0, got {value!r}$".replace("(", "\\(")):
        check_number("temperature", value, 0, low_open=True)


def test_check_int_adds_why_after_the_range():
    with pytest.raises(ValueError, match=r"^top must be an int in \[1, 9\] \(at most the vocabulary size\), got 10$"):
        check_int("top", 10, 1, 9, " (at most the vocabulary size)")


def test_check_positions():
    check_positions(3, 7, 10)
    with pytest.raises(ValueError, match=r"^start must be an int >= 0 \(the first position\), got -1$"):
        check_positions(-1, 2, 10)
    with pytest.raises(ValueError, match=r"^positions 3..10 exceed max_len=10; build the model with a larger max_len$"):
        check_positions(3, 8, 10)


def test_check_mask_wants_all_four_axes_from_modules_only():
    scores = (2, 4, 3, 3)
    check_mask(causal_mask(3), scores)
    check_mask(torch.ones(3, 3, dtype=torch.bool), scores, four_dims=False)  # broadcasts from the right
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\) does not broadcast to attention scores of shape "
                                         r"\(2, 4, 3, 3\) \(batch, heads, queries, keys\) with all four axes"):
        check_mask(torch.ones(3, 3, dtype=torch.bool), scores)
    with pytest.raises(ValueError, match="must be a bool tensor"):
        check_mask(torch.ones(1, 1, 3, 3), scores)


def test_check_model_takes_the_protocol_not_the_class():
    check_model(Transformer(TransformerConfig.small(vocab_size=10, n_encoder_layers=1, n_decoder_layers=1)))

    class NoCache(nn.Module):  # encode and decode, but not the rest of the protocol
        config = None

        def encode(self, src_ids, src_mask=None, return_attention=False): ...

        def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False): ...

    for bad, name in ((NoCache(), "NoCache"), (nn.Linear(2, 2), "Linear"), (None, "NoneType")):
        with pytest.raises(ValueError, match=r"^model must be an nn.Module with the Seq2SeqModel protocol's attributes "
                                             r"\(config, new_cache, attention_layers, encode, decode\), as "
                                             rf"transformer_edu.Transformer has; got {name}$"):
            check_model(bad)


# --- check once: the entry point checks, the modules inside trust it ----------------------------------------

def count_checks(monkeypatch, cls) -> list:
    """Count the calls of cls.check_inputs (the original still runs)."""
    calls, original = [], cls.check_inputs

    def spy(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(cls, "check_inputs", spy)
    return calls


def tiny_model() -> Transformer:
    return Transformer(TransformerConfig.small(vocab_size=12, d_model=16, n_heads=4, d_ff=32)).eval()


def test_inside_a_model_call_the_modules_do_not_check_again(monkeypatch):
    mha, block, stack = (count_checks(monkeypatch, cls) for cls in (MultiHeadAttention, Block, Stack))
    forward = []
    original = Transformer.check_forward
    monkeypatch.setattr(Transformer, "check_forward", lambda self, *a, **k: forward.append(1) or original(self, *a, **k))
    model = tiny_model()
    src, tgt = torch.randint(3, 12, (2, 5)), torch.randint(3, 12, (2, 4))
    model(src, tgt)
    model(src, tgt, return_attention=True)
    assert forward == [1, 1] and mha == [] and block == [] and stack == []
    assert not is_trusted()  # the trusted context ends with the call


def test_decoding_checks_the_source_once_and_no_step(monkeypatch):
    mha = count_checks(monkeypatch, MultiHeadAttention)
    decode_checks = []
    original = Transformer.check_decode
    monkeypatch.setattr(Transformer, "check_decode",
                        lambda self, *a, **k: decode_checks.append(1) or original(self, *a, **k))
    greedy_decode(tiny_model(), torch.randint(3, 12, (2, 5)), max_len=6, stop_at_eos=False)
    assert mha == [] and decode_checks == []


def test_a_module_called_directly_checks_its_inputs_once(monkeypatch):
    mha, block, stack = (count_checks(monkeypatch, cls) for cls in (MultiHeadAttention, Block, Stack))
    attention = MultiHeadAttention(16, 4)
    x = torch.randn(2, 3, 16)
    attention(x, x, x)
    assert mha == ["MultiHeadAttention"]
    encoder = Encoder(2, 16, 4, 32)
    encoder(x)
    # the stack checks its input, and layer 0's arguments once (Stack.check_inputs); the layers then trust it
    assert stack == ["Encoder"] and block == ["EncoderLayer"] and mha == ["MultiHeadAttention"]


def test_a_bad_input_to_a_module_called_directly_still_raises_after_a_model_call():
    model = tiny_model()
    model(torch.randint(3, 12, (2, 5)), torch.randint(3, 12, (2, 4)))
    attention = model.encoder.layers[0].self_attn
    x = torch.randn(2, 3, 16)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 3\) does not broadcast .* with all four axes"):
        attention(x, x, x, mask=torch.ones(2, 1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="d_model=16"):
        model.decoder.layers[1](torch.randn(2, 3, 8), memory=x)
    y = torch.randn(2, 1, 16)
    y[1, 0, 3] = float("nan")
    with pytest.raises(NonFiniteError, match=r"^stack input holds 1 NaN among 32 values, the first at index \(1, 0, 3\)"):
        model.decoder(y, x)


def test_an_error_inside_a_trusted_call_does_not_leave_the_inputs_trusted():
    model = tiny_model()
    with torch.no_grad():
        model.output.weight[0, 0] = float("nan")  # the tied matrix: the logits check fails inside decode
    with pytest.raises(NonFiniteError, match="logits"):
        model(torch.randint(3, 12, (2, 5)), torch.randint(3, 12, (2, 4)))
    assert not is_trusted()
    with pytest.raises(ValueError, match="d_model=16"):
        MultiHeadAttention(16, 4)(torch.randn(1, 2, 8), torch.randn(1, 2, 16), torch.randn(1, 2, 16))


def test_checked_by_runs_the_check_then_the_body_trusted():
    seen = []

    def check(x):
        seen.append(("check", is_trusted()))
        if x < 0:
            raise ValueError("x must be >= 0")

    @checked_by(check)
    def f(x):
        seen.append(("body", is_trusted()))
        return x

    assert f(1) == 1 and seen == [("check", False), ("body", True)]
    with pytest.raises(ValueError, match="x must be >= 0"):
        f(-1)
    seen.clear()
    with trusted():
        assert f(-1) == -1  # a trusted caller has checked already
    assert seen == [("body", True)] and not is_trusted()
