"""The package's tools take any module with the Seq2SeqModel protocol's attributes, not only a Transformer."""
import pytest
import torch
from torch import nn

from transformer_edu import Seq2SeqModel, Transformer, TransformerConfig
from transformer_edu.ablation import ablate_heads, attention_module
from transformer_edu.beam import beam_search
from transformer_edu.checkpoint import save_checkpoint
from transformer_edu.data import build_tokenizers
from transformer_edu.decoding import decode_step_by_step, greedy_decode, sample
from transformer_edu.evaluation import predict

V = 12
PROTOCOL = (r"model must be an nn.Module with the Seq2SeqModel protocol's attributes \(config, new_cache, "
            r"attention_layers, encode, decode\), as transformer_edu.Transformer has; got ")
MODEL_PROTOCOL = (r"model must be an nn.Module with the Model protocol's attributes \(config, new_cache, "
                  r"attention_layers\), as transformer_edu.Transformer has; got ")
ABLATION = lambda m, s: attention_module(m, "cross", 0)  # noqa: E731


class Wrapped(nn.Module):
    """Not a Transformer subclass: a module that holds one and hands every protocol call on to it."""

    def __init__(self, inner: Transformer):
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.calls = []

    def new_cache(self):
        return self.inner.new_cache()

    def attention_layers(self):
        return self.inner.attention_layers()

    def encode(self, src_ids, src_mask=None, return_attention=False):
        self.calls.append("encode")
        return self.inner.encode(src_ids, src_mask, return_attention=return_attention)

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        self.calls.append("decode")
        return self.inner.decode(tgt_ids, memory, src_mask, tgt_mask, cache=cache, return_attention=return_attention)


def pair(seed: int = 0) -> tuple[Transformer, Wrapped]:
    torch.manual_seed(seed)
    inner = Transformer(TransformerConfig.small(vocab_size=V, share_embeddings=False, max_len=64)).double().eval()
    return inner, Wrapped(inner)


def source() -> torch.Tensor:
    src = torch.randint(3, V, (3, 6), generator=torch.Generator().manual_seed(1))
    src[1, 4:] = 0
    return src


def test_a_wrapper_is_a_seq2seq_model_but_not_a_transformer():
    inner, wrapped = pair()
    assert isinstance(wrapped, Seq2SeqModel) and not isinstance(wrapped, Transformer)
    assert isinstance(inner, Seq2SeqModel)


@pytest.mark.parametrize("decode", [
    lambda m, s: greedy_decode(m, s, max_len=8, stop_at_eos=False),
    lambda m, s: greedy_decode(m, s, max_len=8, use_cache=False),
    lambda m, s: sample(m, s, max_len=8, generator=torch.Generator().manual_seed(3)),
    lambda m, s: beam_search(m, s, max_len=8, beam_size=3),
    lambda m, s: torch.tensor([step.chosen for step in decode_step_by_step(m, s[:1], max_len=8)]),
])
def test_decoding_works_with_a_protocol_model_and_gives_the_transformers_output(decode):
    inner, wrapped = pair()
    src = source()
    out = decode(wrapped, src)
    assert wrapped.calls[0] == "encode" and "decode" in wrapped.calls  # it went through the wrapper
    assert torch.equal(out, decode(inner, src))


def test_predict_and_ablation_work_with_a_protocol_model():
    src_tok, tgt_tok = build_tokenizers("dates")
    torch.manual_seed(0)
    inner = Transformer(TransformerConfig.small(vocab_size=src_tok.vocab_size, d_model=32, n_heads=2, d_ff=64,
                                                max_len=40)).eval()
    wrapped = Wrapped(inner)
    texts = ["3 March 2021", "2021/12/01"]
    assert predict(wrapped, texts, src_tok, tgt_tok, max_len=12) == predict(inner, texts, src_tok, tgt_tok, max_len=12)
    assert attention_module(wrapped, "cross", 1) is inner.decoder.layers[1].cross_attn
    with ablate_heads(wrapped, {("cross", 1, 0)}):
        ablated = predict(wrapped, texts, src_tok, tgt_tok, max_len=12)
    with ablate_heads(inner, {("cross", 1, 0)}):
        assert ablated == predict(inner, texts, src_tok, tgt_tok, max_len=12)


def test_only_a_transformer_is_saved_as_a_checkpoint(tmp_path):
    # Any protocol model passes check_model, but a checkpoint names a class it can rebuild.
    src_tok, tgt_tok = build_tokenizers("dates")
    inner = Transformer(TransformerConfig.small(vocab_size=src_tok.vocab_size, d_model=16, n_heads=2, d_ff=32))
    with pytest.raises(ValueError, match=r"save_checkpoint can rebuild the models \['BERT', 'GPT', 'Transformer'\], got Wrapped"):
        save_checkpoint(tmp_path / "m.pt", Wrapped(inner), tokenizers=(src_tok, tgt_tok))
    assert not (tmp_path / "m.pt").exists()


class EncodeDecodeOnly(nn.Module):
    """Has encode, decode and a config, but no new_cache or attention_layers."""

    def __init__(self, inner: Transformer):
        super().__init__()
        self.inner, self.config = inner, inner.config

    def encode(self, src_ids, src_mask=None, return_attention=False):
        return self.inner.encode(src_ids, src_mask, return_attention)

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        return self.inner.decode(tgt_ids, memory, src_mask, tgt_mask, cache, return_attention)


class NotAModule:
    """Every attribute of the protocol, but not an nn.Module (no eval/train to switch dropout off)."""

    def __init__(self, inner: Transformer):
        self.inner, self.config = inner, inner.config
        self.new_cache, self.attention_layers = inner.new_cache, inner.attention_layers
        self.encode, self.decode = inner.encode, inner.decode


@pytest.mark.parametrize("make, name", [(EncodeDecodeOnly, "EncodeDecodeOnly"), (NotAModule, "NotAModule"),
                                        (lambda inner: nn.Linear(2, 2), "Linear")])
@pytest.mark.parametrize("call", [
    lambda m, s: greedy_decode(m, s, max_len=4),
    lambda m, s: sample(m, s, max_len=4),
    lambda m, s: beam_search(m, s, max_len=4),
    lambda m, s: decode_step_by_step(m, s[:1], max_len=4),
    ABLATION,
])
def test_a_module_without_the_protocol_is_refused(make, name, call):
    inner, _ = pair()
    # ablation needs only the Model protocol (config, new_cache, attention_layers), which a GPT has too
    protocol = MODEL_PROTOCOL if call is ABLATION else PROTOCOL
    with pytest.raises(ValueError, match=protocol + name + "$"):
        call(make(inner), source())
