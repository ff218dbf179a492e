from transformer_edu.exercises import ch08


def good_count(d_model, d_ff):
    return 4 * (d_model * d_model + d_model) + 2 * d_model * d_ff + d_ff + d_model + 4 * d_model


def good_layer(layer, x, mask):
    x = layer.self_attn_norm(x + layer.self_attn(x, x, x, mask=mask))
    return layer.ff_norm(x + layer.feed_forward(x))


def test_parameter_count_checker():
    assert ch08.check_parameter_count(good_count)
    missing_norms = ch08.check_parameter_count(lambda d, f: good_count(d, f) - 4 * d)
    assert not missing_norms and "LayerNorm" in missing_norms.message
    assert "returned None" in ch08.check_parameter_count(lambda d, f: None).message
    assert "raised" in ch08.check_parameter_count(lambda d, f: 1 / 0).message


def test_encoder_layer_checker():
    assert ch08.check_encoder_layer(good_layer)
    no_mask = ch08.check_encoder_layer(lambda layer, x, mask: good_layer(layer, x, None))
    assert not no_mask and "padding mask" in no_mask.message
    no_residual = ch08.check_encoder_layer(
        lambda layer, x, mask: layer.ff_norm(layer.feed_forward(layer.self_attn_norm(layer.self_attn(x, x, x, mask=mask)))))
    assert not no_residual and "residual" in no_residual.message
    assert "shape" in ch08.check_encoder_layer(lambda layer, x, mask: x[:, :2]).message
