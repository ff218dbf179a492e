from transformer_edu.exercises import ch01


def test_attention_shapes_checker():
    good = lambda B, S, T, H: {"encoder_self": (B, H, S, S), "decoder_self": (B, H, T, T), "cross": (B, H, T, S)}  # noqa: E731
    assert ch01.check_attention_shapes(good)
    swapped = lambda B, S, T, H: dict(good(B, S, T, H), cross=(B, H, S, T))  # noqa: E731
    assert "queries" in ch01.check_attention_shapes(swapped).message
    placeholder = lambda B, S, T, H: {"encoder_self": None, "decoder_self": None, "cross": None}  # noqa: E731
    assert "expected (2, 4, 7, 7), got None" in ch01.check_attention_shapes(placeholder).message


def test_decoder_sublayers_checker():
    assert ch01.check_decoder_sublayers(["masked self-attention", "encoder-decoder attention", "feed-forward"])
    wrong = ch01.check_decoder_sublayers(["self-attention", "masked self-attention", "feed-forward"])
    assert not wrong and "masked one" in wrong.message
    assert "three" in ch01.check_decoder_sublayers(["masked self-attention", "feed-forward"]).message
    assert "order" in ch01.check_decoder_sublayers(["encoder-decoder attention", "masked self-attention", "feed-forward"]).message
    assert "not one of" in ch01.check_decoder_sublayers(["attention"]).message
