import pytest

from transformer_edu import TransformerConfig


def test_base_matches_paper_table_3():
    c = TransformerConfig.base()
    assert (c.d_model, c.n_heads, c.d_ff, c.n_encoder_layers, c.n_decoder_layers, c.dropout) == (512, 8, 2048, 6, 6, 0.1)
    assert c.d_k == 64 and not c.norm_first and c.positional == "sinusoidal" and c.activation == "relu"


def test_round_trip_and_replace():
    c = TransformerConfig.small(vocab_size=30)
    assert TransformerConfig.from_dict(c.to_dict()) == c
    assert c.replace(n_heads=2).n_heads == 2 and c.n_heads == 4


@pytest.mark.parametrize("changes, message", [
    (dict(d_model=100, n_heads=8), "divisible"),
    (dict(d_modle=512), "unknown TransformerConfig field"),
    (dict(dropout=1.5), r"TransformerConfig.dropout must be a finite number >= 0.0 and < 1.0, got 1.5"),
    (dict(attention_dropout=1.0), r"TransformerConfig.attention_dropout must be a finite number >= 0.0 and < 1.0"),
    (dict(ffn_dropout=-0.1), r"TransformerConfig.ffn_dropout must be a finite number >= 0.0 and < 1.0"),
    (dict(n_heads=0), "TransformerConfig.n_heads must be an int >= 1, got 0"),
    (dict(d_model=2.5), "TransformerConfig.d_model must be an int >= 1, got 2.5"),
    (dict(bos_id=37000), "bos_id must be an int in"),
    (dict(eos_id=True), "eos_id must be an int in"),
    (dict(positional="rotary"), "sinusoidal"),
    (dict(activation="swish"), "relu"),
    (dict(tgt_vocab_size=10), "share_embeddings=True"),
    (dict(d_model=63, n_heads=1), "even"),
    (dict(pad_id=-1), "pad_id"),
    (dict(pad_id=0.5), "pad_id"),
    (dict(dropout="0.1"), "number"),
    (dict(layer_norm_eps=-1.0), "layer_norm_eps"),
    (dict(norm_first="yes"), "True or False"),
    (dict(share_embeddings="no"), "True or False"),
])
def test_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**changes)
    with pytest.raises(ValueError, match=message):
        TransformerConfig.from_dict(changes)


def test_from_dict_needs_a_dict():
    with pytest.raises(ValueError, match="needs a dict"):
        TransformerConfig.from_dict([("d_model", 64)])
