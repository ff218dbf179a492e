import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from transformer_edu import GPT, FlopCount, GPTConfig, Transformer, TransformerConfig, forward_flops, training_flops
from transformer_edu.flops import attention_flops

V, D, H, FF = 23, 32, 4, 48

GPT_VARIANTS = {  # the 2017 paper's choices, GPT-1's, GPT-2's, an untied output layer, and later changes
    "paper": dict(),
    "gpt1": dict(activation="gelu", positional="learned"),
    "gpt2": dict(activation="gelu", positional="learned", norm_first=True, final_norm=True),
    "untied": dict(share_embeddings=False, n_layers=3),
    "grouped-query": dict(n_kv_heads=2),
    "multi-query": dict(n_kv_heads=1),
    "swiglu": dict(activation="swiglu"),
    "rmsnorm": dict(norm="rms", norm_first=True, final_norm=True),
    "rotary": dict(positional="rope"),  # rotates queries and keys: elementwise, no product added
}


def gpt(**changes) -> GPT:
    torch.manual_seed(0)
    values = dict(vocab_size=V, d_model=D, n_heads=H, d_ff=FF, n_layers=2, max_len=24)
    return GPT(GPTConfig.small(**{**values, **changes}))


def counted(run) -> tuple[int, dict[str, dict]]:
    """torch's own count of the matrix products `run` performs: the total and the counts per module."""
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops(), counter.get_flop_counts()


def module_flops(per_module: dict, name: str) -> int:
    return sum(per_module.get(name, {}).values())


# --- agreement with torch's FlopCounterMode on the real models ------------------------------------------------

@pytest.mark.parametrize("variant", GPT_VARIANTS)
@pytest.mark.parametrize("batch_size, length", [(1, 1), (3, 7), (2, 24)])
def test_a_gpt_forward_pass_agrees_with_torchs_flop_counter(variant, batch_size, length):
    model = gpt(**GPT_VARIANTS[variant]).eval()
    ids = torch.randint(0, V, (batch_size, length))
    total, per_module = counted(lambda: model(ids))
    ours = forward_flops(model.config, batch_size, length)
    assert total == ours.total > 0
    assert module_flops(per_module, "GPT.output") == ours.output
    n = model.config.n_layers
    assert sum(module_flops(per_module, f"GPT.decoder.layers.{i}.feed_forward") for i in range(n)) == ours.feed_forward
    projections = sum(module_flops(per_module, f"GPT.decoder.layers.{i}.self_attn.w_{p}")
                      for i in range(n) for p in "qkvo")
    assert projections == ours.projections
    attention = sum(module_flops(per_module, f"GPT.decoder.layers.{i}.self_attn") for i in range(n))
    assert attention - projections == ours.scores + ours.mixing  # the two batched products of each layer


@pytest.mark.parametrize("variant", GPT_VARIANTS)
def test_a_gpt_training_step_is_three_forward_passes_and_agrees_with_torchs_flop_counter(variant):
    model = gpt(**GPT_VARIANTS[variant]).train()
    x, y = torch.randint(0, V, (2, 2, 9))

    def step():
        F.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()

    total, _ = counted(step)
    assert total == training_flops(model.config, 2, 9).total == 3 * forward_flops(model.config, 2, 9).total


@pytest.mark.parametrize("past, length", [(0, 5), (5, 1), (11, 3), (23, 1)])
def test_a_cached_gpt_forward_pass_counts_the_kept_keys_without_projecting_them_again(past, length):
    model = gpt().eval()
    ids = torch.randint(0, V, (2, past + length))
    cache = model.new_cache()
    with torch.no_grad():
        if past:
            model(ids[:, :past], cache=cache)
        total, _ = counted(lambda: model(ids[:, past:], cache=cache))
    assert total == forward_flops(model.config, 2, length, past=past).total
    assert forward_flops(model.config, 2, 1, past=past).projections == forward_flops(model.config, 2, 1).projections


@pytest.mark.parametrize("source_length, length, changes", [
    (1, 1, dict()), (9, 5, dict()), (4, 12, dict()), (6, 5, dict(n_kv_heads=1, activation="swiglu"))])
def test_the_encoder_decoder_forward_pass_and_training_step_agree_with_torchs_flop_counter(source_length, length,
                                                                                          changes):
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=V, d_model=D, n_heads=H, d_ff=FF, n_decoder_layers=3,
                                                **changes))
    src = torch.randint(4, V, (3, source_length))
    tgt, out = torch.randint(4, V, (2, 3, length))
    total, _ = counted(lambda: model.eval()(src, tgt))
    assert total == forward_flops(model.config, 3, length, source_length).total
    total, _ = counted(lambda: F.cross_entropy(model.train()(src, tgt).flatten(0, 1), out.flatten()).backward())
    assert total == training_flops(model.config, 3, length, source_length).total


@pytest.mark.parametrize("training", [False, True])
def test_torchs_counter_misses_the_fused_cpu_attention_kernel_which_does_the_same_products(training):
    # With attention_kernel="sdpa" the scores and the mixing run inside F.scaled_dot_product_attention, whose
    # CPU kernel FlopCounterMode has no formula for: it sees everything else, exactly.
    model = gpt(attention_kernel="sdpa").train(training)
    ids = torch.randint(0, V, (3, 7))

    def run():
        logits = model(ids)
        if training:
            F.cross_entropy(logits.flatten(0, 1), ids.flatten()).backward()

    total, _ = counted(run)
    count = training_flops if training else forward_flops
    ours = count(model.config, 3, 7)
    assert ours == count(gpt().config, 3, 7)  # the same products as equation 1 written out
    assert total == ours.total - ours.scores - ours.mixing


# --- independent counts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", GPT_VARIANTS)
def test_the_weight_products_are_six_flops_per_weight_per_token_in_training(variant):
    # Kaplan et al. (2020)'s rule from the parameters themselves: every weight matrix of a linear layer (the tied
    # output layer's too) takes part in one multiply-add per token forward and two backward.
    model = gpt(**GPT_VARIANTS[variant])
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    step = training_flops(model.config, 4, 16)
    assert step.projections + step.feed_forward + step.output == 6 * weights * 4 * 16


def test_the_small_gpt_by_hand():
    # GPTConfig.small (d_model 128, 4 layers, d_ff 512), 65 characters, batch 12 of 64: per layer, 4 projections
    # 4 x 2 x 768 x 128 x 128, scores and mixing 2 x 2 x 12 x 64 x 64 x 128, FFN 2 x 2 x 768 x 128 x 512.
    count = forward_flops(GPTConfig.small(vocab_size=65), 12, 64)
    assert count == FlopCount(projections=4 * 100_663_296, scores=4 * 12_582_912, mixing=4 * 12_582_912,
                              feed_forward=4 * 201_326_592, output=12_779_520)
    assert count.total == 1_321_402_368
    assert training_flops(GPTConfig.small(vocab_size=65), 12, 64).total == 3 * 1_321_402_368


def test_scores_grow_with_the_square_of_the_length_and_the_rest_linearly():
    config = GPTConfig.small()
    short, long = forward_flops(config, 1, 16), forward_flops(config, 1, 32)
    assert long.scores == 4 * short.scores and long.mixing == 4 * short.mixing
    assert long.projections == 2 * short.projections and long.feed_forward == 2 * short.feed_forward
    assert attention_flops(1, 1, 1, 10, 8).scores == 10 * attention_flops(1, 1, 1, 1, 8).scores


def test_counts_add_and_scale_part_by_part():
    a, b = FlopCount(1, 2, 3, 4, 5), FlopCount(10, 20, 30, 40, 50)
    assert a + b == FlopCount(11, 22, 33, 44, 55) and 3 * a == a * 3 == FlopCount(3, 6, 9, 12, 15)
    assert (a + b).total == 165


# --- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: forward_flops({"d_model": 128}, 1, 1), "config must be a GPTConfig or a TransformerConfig, got dict"),
    (lambda: forward_flops(GPTConfig.small(), 0, 4), "batch_size must be an int >= 1, got 0"),
    (lambda: forward_flops(GPTConfig.small(), 2, 4.0),
     "length must be an int >= 1 (tokens in the forward pass), got 4.0"),
    (lambda: forward_flops(GPTConfig.small(), 1, 1, past=-1), "past must be an int >= 0"),
    (lambda: forward_flops(GPTConfig.small(), 1, 60, past=5), "positions 5..64 exceed max_len=64"),
    (lambda: forward_flops(GPTConfig.small(), 1, 4, source_length=4), "source_length must be None for a GPTConfig"),
    (lambda: forward_flops(TransformerConfig.small(), 1, 4), "needs source_length"),
    (lambda: forward_flops(TransformerConfig.small(), 1, 4, 0), "source_length must be an int >= 1, got 0"),
    (lambda: forward_flops(TransformerConfig.small(), 1, 300, 4),
     "length must be an int in [1, 256] (at most max_len=256)"),
    (lambda: forward_flops(TransformerConfig.small(), 1, 1, 4, past=3), "for a GPTConfig only"),
    (lambda: training_flops(GPTConfig.small(), True, 4), "batch_size must be an int >= 1, got True"),
])
def test_bad_input_is_refused_with_what_was_expected(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
