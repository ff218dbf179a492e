import math

import pytest
import torch
import torch.nn.functional as F

from transformer_edu import (AttentionWeights, Block, CharTokenizer, KVCache, PositionalEncoding, Stack,
                             TokenEmbedding, copy_attention_to_torch, count_parameters, load_checkpoint,
                             save_checkpoint, sinusoidal_table, to_torch_convention)
from transformer_edu.checkpoint import MODELS
from transformer_edu.checks import NonFiniteError
from transformer_edu.config import PAD_ID
from transformer_edu.decoding import next_token_probabilities, top_k_filter, top_p_filter
from transformer_edu.gpt import GPT, GPTConfig, generate
from transformer_edu.masks import causal_mask

V, D, H, N = 20, 32, 4, 2


def small_gpt(**changes) -> GPT:
    config = GPTConfig.small(vocab_size=V, d_model=D, n_heads=H, d_ff=64, n_layers=N, max_len=16, **changes)
    return GPT(config).double().eval()


VARIANTS = {  # the 2017 paper's choices, GPT-1's, GPT-2's
    "paper": dict(),
    "gpt1": dict(activation="gelu", positional="learned"),
    "gpt2": dict(activation="gelu", positional="learned", norm_first=True, final_norm=True),
}


# --- the config -----------------------------------------------------------------------------------------------

def test_the_config_round_trips_through_a_dict_and_the_small_preset_is_nanogpts_cpu_recipe():
    config = GPTConfig.small()
    assert (config.d_model, config.n_heads, config.d_ff, config.n_layers, config.max_len) == (128, 4, 512, 4, 64)
    assert config.dropout == 0.0 and config.pad_id == PAD_ID and config.positional == "sinusoidal"
    assert config.share_embeddings and not config.final_norm and not config.norm_first
    assert GPTConfig.from_dict(config.to_dict()) == config
    assert "src_vocab_size" not in config.to_dict() and config.src_vocab_size == config.tgt_vocab_size == 64
    assert config.replace(n_layers=2).n_layers == 2 and config.block_settings()["d_model"] == 128


def test_gpt1_sizes_give_its_parameter_count():
    # 40,478 x 768 tokens + 512 x 768 positions + 12 x 7,087,872 per layer (attention 2,362,368 + FFN 4,722,432
    # + two LayerNorms 3,072); the output layer is the token embedding.
    with torch.device("meta"):  # sizes only: no memory, no time
        model = GPT(GPTConfig.gpt1())
    assert count_parameters(model) == 31_087_104 + 393_216 + 12 * 7_087_872 == 116_534_784


@pytest.mark.parametrize("changes", [dict(), dict(share_embeddings=False, positional="learned")])
def test_initialisation_is_the_transformers_in_the_same_order(changes):
    """GPT initialises as Transformer does (model.init_weights): layers' defaults, Xavier on every weight matrix
    of the stack, then the output layer, tied to the embedding or drawn with std d_model^-0.5."""
    config = GPTConfig.small(vocab_size=V, d_model=D, n_heads=H, d_ff=64, n_layers=N, max_len=16, **changes)
    torch.manual_seed(0)
    model = GPT(config)
    torch.manual_seed(0)
    embed = TokenEmbedding(V, D)
    position = PositionalEncoding(D, 16, 0.0, learned=config.positional == "learned")
    decoder = Stack([Block(cross_attention=False, causal=True, **config.block_settings()) for _ in range(N)])
    for p in decoder.parameters():
        if p.dim() > 1:
            torch.nn.init.xavier_uniform_(p)
    output = torch.nn.Linear(D, V, bias=False)
    if config.share_embeddings:
        output.weight = embed.weight
    else:
        torch.nn.init.normal_(output.weight, std=D ** -0.5)
    for name, module in [("embed", embed), ("position", position), ("decoder", decoder), ("output", output)]:
        ours = getattr(model, name).state_dict()
        assert all(torch.equal(ours[key], value) for key, value in module.state_dict().items()), name
    assert (model.output.weight is model.embed.weight) == config.share_embeddings


def test_untied_output_adds_one_vocabulary_matrix():
    tied, untied = small_gpt(), small_gpt(share_embeddings=False)
    assert tied.output.weight is tied.embed.weight
    assert count_parameters(untied) - count_parameters(tied) == V * D


# --- the model ------------------------------------------------------------------------------------------------

def test_the_layers_are_decoder_blocks_without_cross_attention():
    model = small_gpt(final_norm=True)
    assert len(model.decoder.layers) == N and model.decoder.final_norm is not None
    for layer in model.decoder.layers:
        assert type(layer) is Block and layer.cross_attn is None and layer.self_kind == "decoder_self"
    assert model.attention_layers() == {"decoder_self": [layer.self_attn for layer in model.decoder.layers]}
    assert isinstance(model.new_cache(), KVCache)


@pytest.mark.parametrize("batch, length", [(1, 1), (3, 7), (2, 16)])
def test_shapes_and_attention_weights(batch, length):
    model = small_gpt()
    ids = torch.randint(0, V, (batch, length))
    logits, weights = model(ids, return_attention=True)
    assert logits.shape == (batch, length, V) and isinstance(weights, AttentionWeights)
    assert [w.shape for w in weights.decoder_self] == [(batch, H, length, length)] * N
    assert weights.encoder_self == [] and weights.cross == []
    assert all(torch.all(w.triu(1) == 0) for w in weights.decoder_self)  # no position sees a later one
    torch.testing.assert_close(model(ids), logits, atol=0, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_later_tokens_do_not_change_earlier_logits(variant):
    model = small_gpt(**VARIANTS[variant])
    ids = torch.randint(0, V, (2, 9))
    changed = ids.clone()
    changed[:, 5:] = (ids[:, 5:] + 1) % V
    before, after = model(ids), model(changed)
    torch.testing.assert_close(after[:, :5], before[:, :5], atol=0, rtol=0)
    assert not torch.allclose(after[:, 5:], before[:, 5:])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("chunks", [[1] * 10, [4, 1, 1, 1, 3], [10]])
def test_the_cached_path_gives_the_logits_of_the_whole_sequence(variant, chunks):
    model = small_gpt(**VARIANTS[variant])
    ids = torch.randint(0, V, (2, 10))
    full, full_weights = model(ids, return_attention=True)
    cache, pieces, start = model.new_cache(), [], 0
    for size in chunks:
        logits, weights = model(ids[:, start:start + size], cache=cache, return_attention=True)
        assert [w.shape for w in weights.decoder_self] == [(2, H, size, start + size)] * N
        torch.testing.assert_close(weights.decoder_self[-1], full_weights.decoder_self[-1][:, :, start:start + size,
                                                                                            :start + size])
        pieces.append(logits)
        start += size
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-12, rtol=0)


# --- parity with torch's encoder layer under a causal mask ------------------------------------------------------

def copy_block_to_torch(block: Block, layer: torch.nn.TransformerEncoderLayer) -> None:
    copy_attention_to_torch(block.self_attn, layer.self_attn)
    pairs = [(block.feed_forward.w_1, layer.linear1), (block.feed_forward.w_2, layer.linear2),
             (block.self_attn_norm, layer.norm1), (block.ff_norm, layer.norm2)]
    with torch.no_grad():
        for ours, theirs in pairs:
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)


@pytest.mark.parametrize("positional, share_embeddings", [("sinusoidal", True), ("learned", False)])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_logits_equal_torchs_encoder_layers_with_a_causal_mask(norm_first, activation, positional,
                                                               share_embeddings):
    model = small_gpt(norm_first=norm_first, final_norm=norm_first, activation=activation, positional=positional,
                      share_embeddings=share_embeddings)
    for p in model.parameters():  # LayerNorm's gain 1 and bias 0 would hide a norm copied to the wrong place
        torch.nn.init.normal_(p, std=0.3)
    layers = [torch.nn.TransformerEncoderLayer(D, H, 64, dropout=0.0, activation=activation, batch_first=True,
                                               norm_first=norm_first, dtype=torch.float64).eval()
              for _ in range(N)]
    for ours, theirs in zip(model.decoder.layers, layers):
        copy_block_to_torch(ours, theirs)
    ids = torch.randint(0, V, (3, 11))
    # The model's sinusoid buffer is made in float32 (positional_encoding.py); .double() only widens it.
    positions = model.position.table if positional == "learned" else sinusoidal_table(16, D).double()
    x = F.embedding(ids, model.embed.weight) * math.sqrt(D) + positions[:11]  # (B, T, D), the paper's scaling
    blocked = to_torch_convention(causal_mask(11))[0, 0]  # (T, T), True = may not attend (torch's meaning)
    for layer in layers:
        x = layer(x, src_mask=blocked)
    if norm_first:
        x = F.layer_norm(x, (D,), model.decoder.final_norm.weight, model.decoder.final_norm.bias)
    torch.testing.assert_close(model(ids), x @ model.output.weight.T, atol=1e-10, rtol=1e-10)


# --- sampling filters, by hand ----------------------------------------------------------------------------------

def test_top_k_keeps_the_k_largest_logits_and_their_ties():
    logits = torch.tensor([[2.0, 1.0, 1.0, 0.0, -1.0], [0.0, 3.0, 2.0, 1.0, 5.0]])
    kept = top_k_filter(logits, 2)
    assert torch.isinf(kept).tolist() == [[False, False, False, True, True], [True, False, True, True, False]]
    torch.testing.assert_close(kept[torch.isfinite(kept)], torch.tensor([2.0, 1.0, 1.0, 3.0, 5.0]))


@pytest.mark.parametrize("p, kept", [  # sums of these probabilities are exact in binary: no rounding at p
    (0.5, [1, 0, 0, 0, 0]),  # 1/2 alone reaches 0.5
    (0.6, [1, 1, 1, 0, 0]),  # 1/2 + 3/16 reaches 0.6; the other 3/16 is tied with the last one kept
    (0.875, [1, 1, 1, 0, 0]),  # 1/2 + 3/16 + 3/16 = 0.875
    (0.9, [1, 1, 1, 1, 1]),  # needs a 1/16, and its tie
    (1.0, [1, 1, 1, 1, 1]),
    (1e-9, [1, 0, 0, 0, 0]),  # the most probable token always stays
])
def test_top_p_keeps_the_smallest_set_that_reaches_p_with_ties(p, kept):
    probs = torch.tensor([[3 / 16, 1 / 16, 1 / 2, 3 / 16, 1 / 16]], dtype=torch.float64)
    order = [2, 0, 3, 1, 4]  # most probable first, as `kept` lists them
    filtered = top_p_filter(probs, p)
    assert [int(filtered[0, i] > 0) for i in order] == kept
    torch.testing.assert_close(filtered[filtered > 0], probs[filtered > 0], atol=0, rtol=0)  # not renormalised


def test_next_token_probabilities_apply_top_k_then_temperature_then_top_p():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0, 2.0]], dtype=torch.float64)
    e = math.exp
    # top_k = 3 keeps 3.0 and both 2.0 (ties); at temperature 2 they weigh e^1.5, e^1, e^1.
    z = e(1.5) + 2 * e(1.0)
    expected = torch.tensor([[e(1.5) / z, 0.0, e(1.0) / z, 0.0, e(1.0) / z]], dtype=torch.float64)
    torch.testing.assert_close(next_token_probabilities(logits, 2.0, top_k=3), expected, atol=1e-15, rtol=0)
    # top_p = 0.5: e^1.5 / z = 0.4521 does not reach it, so the 2.0s (tied) join; p = 0.4 keeps 3.0 alone.
    torch.testing.assert_close(next_token_probabilities(logits, 2.0, top_k=3, top_p=0.5), expected, atol=1e-15, rtol=0)
    assert next_token_probabilities(logits, 2.0, top_k=3, top_p=0.4).tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(next_token_probabilities(logits, 1.0), torch.softmax(logits, -1), atol=1e-15, rtol=0)


# --- generation -------------------------------------------------------------------------------------------------

def step_by_step(model: GPT, prompt: torch.Tensor, n: int) -> torch.Tensor:
    """Greedy generation written out with no cache: each token from the last max_len tokens (the crop)."""
    ids = prompt
    for _ in range(n):
        window = ids[:, -model.config.max_len:]
        ids = torch.cat([ids, model(window)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


@pytest.mark.parametrize("prompt_length, n", [(1, 5), (5, 11), (5, 30), (20, 4)])  # max_len is 16
def test_greedy_generation_is_the_models_argmax_on_the_last_max_len_tokens(prompt_length, n):
    model = small_gpt()
    prompt = torch.randint(0, V, (2, prompt_length))
    with torch.no_grad():
        expected = step_by_step(model, prompt, n)
    for use_cache in (True, False):
        ids = generate(model, prompt, n, temperature=None, use_cache=use_cache)
        assert ids.shape == (2, prompt_length + n) and ids.dtype == torch.long
        assert torch.equal(ids, expected)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("settings", [dict(temperature=1.0), dict(temperature=0.7, top_k=5),
                                      dict(temperature=1.3, top_p=0.8), dict(temperature=None)])
def test_cached_and_uncached_generation_give_the_same_ids(variant, settings):
    model = small_gpt(**VARIANTS[variant])
    prompt = torch.randint(0, V, (3, 4))
    runs = [generate(model, prompt, 25, generator=torch.Generator().manual_seed(7), use_cache=use_cache, **settings)
            for use_cache in (True, False)]  # 29 tokens: past max_len = 16, the window slides
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0][:, :4], prompt)


def test_sampling_is_repeatable_with_a_generator_and_varies_without():
    model = small_gpt()
    prompt = torch.randint(0, V, (4, 3))
    first, again = (generate(model, prompt, 12, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, generate(model, prompt, 12, generator=torch.Generator().manual_seed(4)))


@pytest.mark.parametrize("settings", [dict(temperature=1e-300), dict(temperature=5e-324), dict(top_k=1),
                                      dict(top_p=1e-9)])
def test_sampling_becomes_greedy_as_temperature_goes_to_zero_or_one_token_is_kept(settings):
    model = small_gpt()
    prompt = torch.randint(0, V, (3, 2))
    greedy = generate(model, prompt, 20, temperature=None)
    for seed in range(3):
        assert torch.equal(generate(model, prompt, 20, generator=torch.Generator().manual_seed(seed), **settings),
                           greedy)


def test_generation_leaves_the_models_mode_and_gradients_alone():
    model = small_gpt().train()
    ids = generate(model, torch.tensor([[3, 4]]), 3, temperature=None)
    assert model.training and not ids.is_inference() and not ids.requires_grad
    assert torch.equal(generate(model, torch.tensor([[3, 4]], dtype=torch.int32), 0), torch.tensor([[3, 4]]))


# --- a tiny task ------------------------------------------------------------------------------------------------

PATTERN = [4, 5, 4, 6, 4, 7]  # what follows a 4 depends on the token before it: attention must look back


@pytest.mark.parametrize("variant", ["paper", "gpt2"])
def test_the_model_learns_a_repeating_sequence_and_continues_it_past_its_context(variant):
    model = GPT(GPTConfig.small(vocab_size=10, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=12,
                                **VARIANTS[variant]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    text, windows = torch.tensor(PATTERN * 20), torch.Generator().manual_seed(0)
    for step in range(1, 301):
        starts = torch.randint(0, len(text) - 13, (16,), generator=windows)
        batch = torch.stack([text[s:s + 13] for s in starts])  # (16, 13): inputs [:, :-1], targets [:, 1:]
        logits = model(batch[:, :-1])  # (16, 12, 10)
        # from the second position on, the two tokens seen so far decide the next one
        loss = F.cross_entropy(logits[:, 1:].reshape(-1, 10), batch[:, 2:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.02:
            break
    assert loss.item() < 0.02, f"loss {loss.item():.3f} after {step} steps"
    ids = generate(model, torch.tensor([PATTERN[1:4]]), 30, temperature=None)  # 33 tokens: the window slides
    assert ids[0].tolist() == (PATTERN * 6)[1:34]


# --- checkpoints ----------------------------------------------------------------------------------------------

def test_a_gpt_is_registered_for_checkpoints():
    assert MODELS["GPT"] == (GPT, GPTConfig)


def gpt_and_tokenizer():
    tokenizer = CharTokenizer.train("abcdefg hij")
    config = GPTConfig.small(vocab_size=tokenizer.vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                             positional="learned")
    return GPT(config), tokenizer


def test_save_then_load_gives_the_same_gpt(tmp_path):
    model, tokenizer = gpt_and_tokenizer()
    save_checkpoint(tmp_path / "gpt.pt", model, tokenizers=(tokenizer, tokenizer))  # one tokenizer, passed twice
    loaded, tokenizers, extra = load_checkpoint(tmp_path / "gpt.pt")
    assert isinstance(loaded, GPT) and loaded.config == model.config and tokenizers == (tokenizer, tokenizer)
    ids = torch.randint(0, tokenizer.vocab_size, (2, 9))
    assert torch.equal(loaded(ids), model.eval()(ids)) and loaded.output.weight is loaded.embed.weight


def test_load_checkpoint_rebuilds_a_gpt_from_a_file_in_save_checkpoints_format(tmp_path):
    model, tokenizer = gpt_and_tokenizer()
    with torch.no_grad():
        model.embed.weight.mul_(3)  # not a fresh model's values: they must come from the file
    payload = {"format": "transformer_edu.checkpoint", "version": 2, "model": "GPT", "config": model.config.to_dict(),
               "state_dict": model.state_dict(), "extra": {"step": 5},
               "tokenizers": {"src": tokenizer.to_dict(), "tgt": tokenizer.to_dict()}}
    torch.save(payload, tmp_path / "gpt.pt")
    loaded, tokenizers, extra = load_checkpoint(tmp_path / "gpt.pt")
    assert isinstance(loaded, GPT) and not loaded.training and loaded.config == model.config
    assert tokenizers == (tokenizer, tokenizer) and extra == {"step": 5}
    assert loaded.output.weight is loaded.embed.weight  # tied again
    ids = torch.randint(0, tokenizer.vocab_size, (2, 9))
    assert torch.equal(loaded(ids), model.eval()(ids))
    payload["config"]["d_ff"] = 8  # weights made for d_ff = 32
    torch.save(payload, tmp_path / "gpt.pt")
    with pytest.raises(ValueError, match="the weights do not fit its config"):
        load_checkpoint(tmp_path / "gpt.pt")


def test_a_gpt_file_whose_tied_matrix_differs_under_its_two_names_is_refused(tmp_path):
    model, tokenizer = gpt_and_tokenizer()
    save_checkpoint(tmp_path / "gpt.pt", model, tokenizers=(tokenizer, tokenizer))
    payload = torch.load(tmp_path / "gpt.pt", weights_only=True)
    payload["state_dict"]["output.weight"] = payload["state_dict"]["output.weight"] + 1  # a second, other matrix
    torch.save(payload, tmp_path / "gpt.pt")
    with pytest.raises(ValueError, match=r"shares one embedding/output matrix, but the file holds different values "
                                         r"under \('embed.table.weight', 'output.weight'\)"):
        load_checkpoint(tmp_path / "gpt.pt")


# --- inputs -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    (dict(vocab_size=0), r"GPTConfig.vocab_size must be an int >= 1, got 0"),
    (dict(n_layers=1.5), r"GPTConfig.n_layers must be an int >= 1, got 1.5"),
    (dict(max_len=True), r"GPTConfig.max_len must be an int >= 1, got True"),
    (dict(pad_id=64), r"GPTConfig.pad_id must be an int in \[0, 63\] \(an id of the vocabulary\), got 64"),
    (dict(positional="rotary"), r"positional must be one of \('sinusoidal', 'learned', 'rope'\), got 'rotary'"),
    (dict(d_model=9, n_heads=3), r"sinusoidal positions pair sin and cos dimensions, so d_model must be even, got 9"),
    (dict(share_embeddings=1), r"GPTConfig.share_embeddings must be True or False, got 1"),
    (dict(final_norm="yes"), r"GPTConfig.final_norm must be True or False, got 'yes'"),
    (dict(d_model=30), r"d_model \(30\) must be divisible by n_heads \(4\)"),
    (dict(src_vocab_size=64), r"unknown GPTConfig field\(s\) \['src_vocab_size'\]"),
])
def test_bad_configs(changes, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig.small(**changes)


def used_cache(model: GPT, batch: int) -> KVCache:
    cache = model.new_cache()
    model(torch.zeros(batch, 10, dtype=torch.long), cache=cache)
    return cache


@pytest.mark.parametrize("call, message", [
    (lambda m: GPT(GPTConfig.small().to_dict()), "GPT needs a GPTConfig, got dict"),
    (lambda m: GPTConfig.from_dict([("vocab_size", 5)]), "from_dict needs a dict of field values, got list"),
    (lambda m: m(torch.tensor([[1.0, 2.0]])), "ids must hold integer token ids of dtype torch.long"),
    (lambda m: m(torch.tensor([[1, V]])), rf"ids must be in \[0, {V - 1}\] for a vocabulary of {V}, got values "
                                          rf"from 1 to {V}"),
    (lambda m: m(torch.tensor([1, 2])), r"ids must have shape \(batch, length\), got shape \(2,\)"),
    (lambda m: m(torch.zeros(1, 0, dtype=torch.long)), "ids is empty"),
    (lambda m: m(torch.zeros(1, 17, dtype=torch.long)), r"positions 0..16 exceed max_len=16"),
    (lambda m: m(torch.zeros(2, 7, dtype=torch.long), cache=used_cache(m, 2)), r"positions 10..16 exceed max_len=16"),
    (lambda m: m(torch.zeros(1, 1, dtype=torch.long), cache=used_cache(m, 2)),
     "the cache holds keys for a batch of 2, but the input has batch 1: start a new cache"),
    (lambda m: m(torch.zeros(1, 1, dtype=torch.long), cache={}), r"cache must be a KVCache \(model.new_cache\(\)\)"),
])
def test_bad_model_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_gpt())


PROMPT = torch.tensor([[3, 4]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(model=torch.nn.Linear(2, 2)), "model must be a decoder-only language model .* got Linear"),
    (dict(prompt_ids=[[3, 4]]), "prompt_ids must be a torch.Tensor of token ids, got list"),
    (dict(prompt_ids=torch.tensor([[3, V]])), rf"prompt_ids must be in \[0, {V - 1}\]"),
    (dict(max_new_tokens=-1), r"max_new_tokens must be an int >= 0, got -1"),
    (dict(max_new_tokens=2.0), r"max_new_tokens must be an int >= 0, got 2.0"),
    (dict(temperature=0.0), r"temperature \(None decodes greedily\) must be a finite number > 0, got 0.0"),
    (dict(temperature=float("inf")), r"temperature \(None decodes greedily\) must be a finite number > 0, got inf"),
    (dict(temperature="hot"), r"temperature .* must be a finite number > 0, got 'hot'"),
    (dict(top_k=0), rf"top_k must be an int in \[1, {V}\] \(None keeps the whole vocabulary\), got 0"),
    (dict(top_k=V + 1), rf"top_k must be an int in \[1, {V}\]"),
    (dict(top_p=0.0), r"top_p \(None keeps the whole vocabulary\) must be a finite number > 0 and <= 1, got 0.0"),
    (dict(top_p=1.5), r"top_p .* must be a finite number > 0 and <= 1, got 1.5"),
    (dict(generator=7), "generator must be a torch.Generator or None, got int"),
    (dict(use_cache="yes"), "use_cache must be True or False, got 'yes'"),
])
def test_bad_generate_arguments(kwargs, message):
    arguments = {**dict(model=small_gpt(), prompt_ids=PROMPT, max_new_tokens=3), **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(**arguments)


def test_a_nan_weight_is_named_by_the_logits_check():
    model = small_gpt()
    with torch.no_grad():
        model.decoder.layers[1].feed_forward.w_2.bias[3] = float("nan")
    with pytest.raises(NonFiniteError, match=r"logits \(GPT.forward's output\) holds .*NaN.* in 1 tensor\(s\): "
                                             r"decoder.layers.1.feed_forward.w_2.bias\."):
        model(PROMPT)
