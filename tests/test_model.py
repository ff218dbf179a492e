import pytest
import torch

from transformer_edu import Decoder, Encoder, TokenEmbedding, Transformer, TransformerConfig, count_parameters
from transformer_edu.model import init_weights

V = 20


def small_model(**changes):
    return Transformer(TransformerConfig.small(vocab_size=V, **changes)).double().eval()


def test_base_parameter_count_with_shared_37000_vocabulary():
    # Arithmetic in transformer_edu/model.py's docstring: 18,944,000 + 18,914,304 + 25,224,192.
    assert count_parameters(Transformer(TransformerConfig.base())) == 63_082_496


def test_untied_output_adds_one_vocabulary_matrix():
    tied = count_parameters(Transformer(TransformerConfig.small(vocab_size=V)))
    untied = count_parameters(Transformer(TransformerConfig.small(vocab_size=V, share_embeddings=False)))
    assert untied - tied == 2 * V * 64  # a separate target embedding and a separate output matrix


def test_shapes_and_attention_weights():
    model = small_model()
    src, tgt = torch.randint(4, V, (3, 7)), torch.randint(4, V, (3, 5))
    logits, attn = model(src, tgt, return_attention=True)
    assert logits.shape == (3, 5, V)
    assert [w.shape for w in attn.encoder_self] == [(3, 4, 7, 7)] * 2
    assert [w.shape for w in attn.decoder_self] == [(3, 4, 5, 5)] * 2
    assert [w.shape for w in attn.cross] == [(3, 4, 5, 7)] * 2
    one = attn.example(1)
    assert one.cross[0].shape == (1, 4, 5, 7)
    torch.testing.assert_close(one.cross[1][0], attn.cross[1][1])
    torch.testing.assert_close(model(src, tgt), logits)


def test_future_target_tokens_do_not_change_earlier_outputs():
    model = small_model()
    src, tgt = torch.randint(4, V, (2, 6)), torch.randint(4, V, (2, 5))
    changed = tgt.clone()
    changed[:, 3:] = torch.randint(4, V, (2, 2))
    torch.testing.assert_close(model(src, tgt)[:, :3], model(src, changed)[:, :3], atol=1e-12, rtol=0)


def test_padding_tokens_do_not_change_real_outputs():
    model = small_model()
    src = torch.tensor([[5, 6, 7, 0, 0]])
    tgt = torch.tensor([[1, 8, 9, 0]])
    other_src, other_tgt = src.clone(), tgt.clone()
    mask_src, mask_tgt = torch.tensor([[False, False, False, True, True]]), torch.tensor([[False, False, False, True]])
    # Same ids at padded places would be trivial; put real tokens there but keep the masks built from the originals.
    other_src[mask_src], other_tgt[mask_tgt] = 11, 12
    from transformer_edu import padding_mask, target_mask
    logits = model(src, tgt)
    other = model(other_src, other_tgt, padding_mask(src, 0), target_mask(tgt, 0))
    torch.testing.assert_close(logits[:, :3], other[:, :3], atol=1e-12, rtol=0)


def test_sequence_alone_equals_sequence_padded_in_a_batch():
    model = small_model()
    src_a, tgt_a = torch.tensor([[5, 6, 7]]), torch.tensor([[1, 8]])
    src_b, tgt_b = torch.tensor([[5, 9, 10, 11, 12]]), torch.tensor([[1, 13, 14, 15]])
    batch_src = torch.cat([torch.nn.functional.pad(src_a, (0, 2)), src_b])
    batch_tgt = torch.cat([torch.nn.functional.pad(tgt_a, (0, 2)), tgt_b])
    batched = model(batch_src, batch_tgt)
    torch.testing.assert_close(batched[0, :2], model(src_a, tgt_a)[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(batched[1], model(src_b, tgt_b)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_decoding_equals_full_decoding(norm_first):
    model = small_model(norm_first=norm_first, final_norm=norm_first)
    src, tgt = torch.randint(4, V, (2, 6)), torch.randint(4, V, (2, 5))
    memory = model.encode(src)
    full = model.decode(tgt, memory)
    cache = model.new_cache()
    steps = [model.decode(tgt[:, t:t + 1], memory, cache=cache) for t in range(5)]
    assert cache.length == 5
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-12, rtol=0)


def test_decode_refuses_a_cache_of_another_batch_or_source():
    model = small_model()
    memory = model.encode(torch.randint(4, V, (2, 6)))
    cache = model.new_cache()
    model.decode(torch.tensor([[1], [1]]), memory, cache=cache)
    with pytest.raises(ValueError, match=r"the cache holds keys for a batch of 2, but the input has batch 1: start a "
                                         r"new cache for a new batch"):
        model.decode(torch.tensor([[5]]), memory[:1], cache=cache)
    with pytest.raises(ValueError, match=r"the cache holds keys and values for a memory of length 6, but this memory "
                                         r"has length 4: start a new cache for a new source"):
        model.decode(torch.tensor([[5], [6]]), memory[:, :4], cache=cache)
    with pytest.raises(ValueError, match=r"cache must be a KVCache \(model.new_cache\(\)\), got dict"):
        model.decode(torch.tensor([[5], [6]]), memory, cache={})
    with pytest.raises(ValueError, match=r"positions 1..256 exceed max_len=256"):
        model.decode(torch.full((2, 256), 5), memory, cache=cache)


def test_weights_are_tied_when_embeddings_are_shared():
    model = small_model()
    assert model.output.weight is model.src_embed.weight is model.tgt_embed.weight


@pytest.mark.parametrize("share_embeddings", [True, False])
def test_initialisation_draws_its_random_numbers_in_the_written_out_order(share_embeddings):
    """init_weights (shared with gpt.GPT) keeps the order the shipped dates model was made with: embeddings,
    the layers' own defaults, Xavier on every weight matrix of the encoder then the decoder, the output layer."""
    config = TransformerConfig.small(vocab_size=V, d_model=16, n_heads=2, d_ff=32, share_embeddings=share_embeddings)
    torch.manual_seed(0)
    model = Transformer(config)
    torch.manual_seed(0)
    src_embed = TokenEmbedding(V, 16)
    tgt_embed = src_embed if share_embeddings else TokenEmbedding(V, 16)
    encoder = Encoder(config.n_encoder_layers, **config.block_settings())
    decoder = Decoder(config.n_decoder_layers, **config.block_settings())
    for p in [*encoder.parameters(), *decoder.parameters()]:
        if p.dim() > 1:
            torch.nn.init.xavier_uniform_(p)
    output = torch.nn.Linear(16, V, bias=False)
    if share_embeddings:
        output.weight = tgt_embed.weight
    else:
        torch.nn.init.normal_(output.weight, std=16 ** -0.5)
    for name, module in [("src_embed", src_embed), ("tgt_embed", tgt_embed), ("encoder", encoder),
                         ("decoder", decoder), ("output", output)]:
        ours = getattr(model, name).state_dict()
        assert all(torch.equal(ours[key], value) for key, value in module.state_dict().items()), name
    assert (model.output.weight is model.tgt_embed.weight) == share_embeddings


def test_init_weights_keeps_every_matrix_within_glorots_bound():
    encoder = Encoder(2, d_model=16, n_heads=2, d_ff=64)
    embedding = TokenEmbedding(11, 16)
    output = init_weights([encoder], embedding, share_embeddings=False)
    assert output.weight.shape == (11, 16) and output.weight is not embedding.weight and output.bias is None
    for p in encoder.parameters():
        if p.dim() > 1:  # Glorot's uniform bound, sqrt(6 / (fan_in + fan_out))
            assert p.abs().max() <= (6 / sum(p.shape)) ** 0.5
    assert init_weights([encoder], embedding, share_embeddings=True).weight is embedding.weight


@pytest.mark.parametrize("call, message", [
    (lambda m: m(torch.tensor([[1.0, 2.0]]), torch.tensor([[1, 2]])), "integer token ids"),
    (lambda m: m(torch.tensor([[1, 2, V]]), torch.tensor([[1, 2]])), rf"\[0, {V - 1}\]"),
    (lambda m: m(torch.tensor([[1, -1]]), torch.tensor([[1, 2]])), "from -1"),
    (lambda m: m(torch.zeros(1, 0, dtype=torch.long), torch.tensor([[1, 2]])), "empty"),
    (lambda m: m(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2]])), "same batch size"),
    (lambda m: m(torch.tensor([1, 2]), torch.tensor([[1, 2]])), r"shape \(batch, length\)"),
    (lambda m: m(torch.tensor([[1, 2]]), torch.tensor([[1, 2]]), src_mask=torch.ones(1, 1, 1, 3, dtype=torch.bool)),
     "does not broadcast"),
    (lambda m: m.encoder(torch.randn(1, 3, 7)), "embed token ids first"),
    (lambda m: m.decoder(torch.randn(2, 3, 64, dtype=torch.float64), torch.randn(1, 4, 64, dtype=torch.float64)),
     "batch size"),
    (lambda m: m.encoder(torch.randn(1, 3, 64, dtype=torch.float32)), "torch.float32 but the module's weights are torch.float64"),
    (lambda m: m.decode(torch.tensor([[1, 2]]), [[0.0] * 64]), "memory must be a torch.Tensor"),
    (lambda m: m(torch.tensor([[1, 2]], dtype=torch.uint8), torch.tensor([[1, 2]])), r"ids.long\(\)"),
    (lambda m: m(torch.tensor([[1, 2]]), torch.tensor([[1, 2]]), src_mask=torch.ones(1, 1, 2, dtype=torch.bool)),
     "with all four axes"),
    (lambda m: m(torch.randint(4, V, (1, 300)), torch.tensor([[1, 2]])), "max_len"),
    (lambda m: Transformer("base"), "TransformerConfig"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_model())


# --- NaN and inf: at the stacks' inputs and the model's outputs, not in every layer ---------------------

def with_one(x: torch.Tensor, value: float, index: tuple) -> torch.Tensor:
    x = x.clone()
    x[index] = value
    return x


@pytest.mark.parametrize("value, counted", [(float("nan"), "1 NaN"), (float("inf"), "1 inf"), (-float("inf"), "1 inf")])
@pytest.mark.parametrize("call, name", [
    (lambda m, x: m.encoder(x), "stack input"),
    (lambda m, x: m.decoder(x, torch.randn(2, 5, 64, dtype=torch.float64)), "stack input"),
    (lambda m, x: m.decoder(torch.randn(2, 5, 64, dtype=torch.float64), x), "memory"),
    (lambda m, x: m.decode(torch.tensor([[1, 5], [1, 6]]), x), "memory")])
def test_features_given_to_a_stack_must_be_finite(value, counted, call, name):
    """One NaN in a key used to make every output of the stack NaN, silently."""
    x = with_one(torch.randn(2, 3, 64, dtype=torch.float64), value, (1, 2, 7))
    with pytest.raises(ValueError, match=rf"{name} holds {counted} among 384 values, the first at index \(1, 2, 7\)\. "
                                         r"Usual causes: non-finite weights"):
        call(small_model(), x)


@pytest.mark.parametrize("where, name, output", [
    (lambda m: m.encoder.layers[1].feed_forward.w_1.weight, "encoder.layers.1.feed_forward.w_1.weight", "memory"),
    (lambda m: m.decoder.layers[0].cross_attn.w_o.bias, "decoder.layers.0.cross_attn.w_o.bias", "logits"),
    (lambda m: m.decoder.layers[1].ff_norm.weight, "decoder.layers.1.ff_norm.weight", "logits")])
def test_a_nan_weight_is_named_by_the_models_output_check(where, name, output):
    model = small_model()
    with torch.no_grad():
        where(model).view(-1)[3] = float("nan")
    src, tgt = torch.randint(4, V, (2, 6)), torch.randint(4, V, (2, 5))
    with pytest.raises(ValueError, match=rf"{output} \(Transformer.(en|de)code's output\) holds .*NaN.*The model's "
                                         rf"weights hold NaN or inf, in 1 tensor\(s\): {name}\. Usual causes: a "
                                         r"training run that diverged \(a learning rate too high, no warm-up"):
        model(src, tgt)


def test_a_nan_in_the_embedding_table_is_found_and_named_by_the_encoders_output_check():
    # Inside the model the stacks trust their inputs (checked once, checks.py): the NaN embedding row is found
    # at the encoder's output, and the message names the broken weight.
    model = small_model(share_embeddings=False)  # (tied, row 7 would also be the output layer's: logit 7 NaN)
    with torch.no_grad():
        model.src_embed.weight[7, 0] = float("nan")
    model(torch.tensor([[5, 6]]), torch.tensor([[1, 5]]))  # token 7 not used: all finite
    with pytest.raises(ValueError, match=r"memory \(Transformer.encode's output\) holds .*NaN among 192 values.*"
                                         r"The model's weights hold NaN or inf, in 1 tensor\(s\): "
                                         r"src_embed.table.weight\."):
        model(torch.tensor([[5, 7, 6]]), torch.tensor([[1, 5]]))


def test_a_nan_embedding_given_to_the_encoder_stack_directly_is_found_where_it_enters():
    model = small_model(share_embeddings=False)
    with torch.no_grad():
        model.src_embed.weight[7, 0] = float("nan")
    x = model.src_position(model.src_embed(torch.tensor([[5, 7, 6]])))  # (1, 3, 64)
    with pytest.raises(ValueError, match=r"stack input holds 1 NaN among 192 values, the first at index \(0, 1, 0\)"
                                         r".*inside a Transformer, the embedding table"):
        model.encoder(x)


def test_a_float16_overflow_is_told_apart_from_broken_weights():
    model = Transformer(TransformerConfig.small(vocab_size=V)).eval().half()  # float16 runs on CPU too
    src, tgt = torch.randint(4, V, (2, 6)), torch.randint(4, V, (2, 5))
    assert model(src, tgt).isfinite().all()
    with torch.no_grad():
        model.src_embed.weight.mul_(300)  # still finite, but products in attention pass 65,504
    with pytest.raises(ValueError, match=r"holds .*(NaN|inf).*The weights are finite, so a value overflowed on the "
                                         r"way: in float16 \(values above 65,504: compute in float32 or bfloat16\)"):
        model(src, tgt)
