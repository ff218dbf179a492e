"""Devices (devices.py): every tensor the package makes while it runs a model is made on the model's device.

There is no GPU here, so the tests turn the question around: the model and its inputs stay on the CPU while
the *default* device is `meta`. A tensor made without naming its device (`torch.zeros(n)`, `torch.arange(t)`)
then lands on `meta` and fails at once against the CPU tensors; on a machine with a GPU the same line would
have made a CPU tensor next to GPU weights. Forward, backward, training, greedy and beam search, sampling and
the KV cache all go through this.
"""
from __future__ import annotations

import importlib

import pytest
import torch

from transformer_edu import devices
from transformer_edu.beam import beam_search
from transformer_edu.bert import BERT, BERTConfig, fill_mask, mask_tokens
from transformer_edu.config import TransformerConfig
from transformer_edu.data import build_tokenizers, make_batch, make_dataset
from transformer_edu.decoding import greedy_decode, sample
from transformer_edu.evaluation import evaluate_loss, exact_match
from transformer_edu.gpt import GPT, GPTConfig, generate
from transformer_edu.lm_data import lm_batch, lm_loss
from transformer_edu.model import Transformer
from transformer_edu.training import make_adamw, train


def _seq2seq():
    pairs, held_out = make_dataset("dates", 64, 8, seed=0)
    tokenizers = build_tokenizers("dates")
    config = TransformerConfig.small(src_vocab_size=tokenizers[0].vocab_size,
                                     tgt_vocab_size=tokenizers[1].vocab_size, max_len=64)
    torch.manual_seed(0)
    return Transformer(config), pairs, held_out, tokenizers


def test_a_tensor_made_on_the_default_device_is_caught():
    """The detector itself: a CPU model fed by a tensor made under the meta default device fails."""
    x = torch.ones(3)
    with torch.device("meta"), pytest.raises(RuntimeError):
        x + torch.arange(3)


def test_seq2seq_forward_backward_training_and_decoding_make_no_default_device_tensor():
    model, pairs, held_out, tokenizers = _seq2seq()
    batches = [make_batch(pairs[i:i + 16], *tokenizers) for i in range(0, 64, 16)]  # made on the CPU: data
    src = batches[0].src[:4]
    with torch.device("meta"):
        logits = model(batches[0].src, batches[0].tgt_in)
        logits.sum().backward()
        history = train(model, batches, steps=3, warmup_steps=2, progress=False)
        assert len(history["train_loss"]) == 3
        assert evaluate_loss(model, batches[:1]) > 0
        model.eval()
        for use_cache in (True, False):
            greedy = greedy_decode(model, src, max_len=8, use_cache=use_cache)
            beam = beam_search(model, src, max_len=8, beam_size=3, use_cache=use_cache)
            drawn = sample(model, src, max_len=8, top_k=5, generator=torch.Generator().manual_seed(0),
                           use_cache=use_cache)
            assert greedy.device.type == beam.device.type == drawn.device.type == "cpu"
        assert 0 <= exact_match(model, held_out, *tokenizers) <= 1


def test_gpt_and_bert_make_no_default_device_tensor():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig.small(vocab_size=30, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=16))
    ids = torch.randint(4, 30, (200,))
    optimizer, scheduler = make_adamw(gpt, 1e-3, 2)
    bert = BERT(BERTConfig.small(vocab_size=30, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=16))
    text = torch.randint(5, 30, (2, 10))
    with torch.device("meta"):
        gpt(lm_batch(ids, 16, 4, torch.Generator().manual_seed(0)).inputs).sum().backward()
        train(gpt, ids, steps=2, batch_size=4, block_size=16, smoothing=0.0, optimizer=optimizer,
              scheduler=scheduler, progress=False)
        assert lm_loss(gpt, ids[:65], 16) > 0
        for temperature in (None, 1.0):
            out = generate(gpt, ids[None, :5], 20, temperature=temperature, generator=torch.Generator().manual_seed(0))
            assert out.shape == (1, 25)
        bert(text).sum().backward()
        corrupted, labels = mask_tokens(text, mask_id=4, vocab_size=30, generator=torch.Generator().manual_seed(0))
        blanked = text.clone()
        blanked[:, 3] = 4
        assert fill_mask(bert, blanked, mask_id=4).top_ids.shape == (2, 5)


def test_inputs_on_another_device_get_a_clear_error():
    model, pairs, _, tokenizers = _seq2seq()
    batch = make_batch(pairs[:2], *tokenizers)
    model.to("meta")
    with pytest.raises(ValueError, match=r"src_ids is on cpu but the model's weights are on meta: move the input"):
        model(batch.src, batch.tgt_in)
    gpt = GPT(GPTConfig.small(vocab_size=30, d_model=32, n_heads=4, d_ff=64, n_layers=1, max_len=16)).to("meta")
    with pytest.raises(ValueError, match=r"ids is on cpu but the model's weights are on meta"):
        gpt(torch.ones(1, 3, dtype=torch.long))


def test_decoding_moves_tokenizer_ids_to_the_model():
    """Ids straight from a tokenizer (CPU) are moved to the model's device by the decoding functions, so the
    device of the model alone decides where the work runs."""
    model, pairs, _, tokenizers = _seq2seq()
    model.eval()
    src = make_batch(pairs[:2], *tokenizers).src
    assert devices.model_device(model) == src.device == torch.device("cpu")
    torch.testing.assert_close(greedy_decode(model, src, max_len=6), greedy_decode(model, src.clone(), max_len=6))


def test_best_device_resolve_and_describe(monkeypatch):
    monkeypatch.delenv(devices.ENV, raising=False)
    best = devices.best_device()
    assert best.type in devices.KINDS
    if not torch.cuda.is_available():
        assert best.type in ("cpu", "mps")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            devices.resolve("cuda")
    assert devices.resolve("auto") == best and devices.resolve(None) == best
    assert devices.resolve("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu'"):
        devices.resolve("tpu")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu'"):
        devices.resolve("meta")
    assert devices.describe("cpu").startswith("the CPU (")
    assert devices.model_device(torch.nn.ReLU()) == torch.device("cpu")
    assert devices.synchronize("cpu") is None and devices.synchronize(torch.device("cpu")) is None
    with pytest.raises(ValueError, match="device must be a torch.device or a name such as 'cpu'"):
        devices.synchronize("gpu please")


def test_the_environment_variable_names_the_device(monkeypatch):
    """TRANSFORMER_EDU_DEVICE (set to cpu by `make test`) decides best_device() and so every "auto"."""
    monkeypatch.setenv(devices.ENV, "cpu")
    assert devices.best_device() == devices.resolve("auto") == torch.device("cpu")
    monkeypatch.setenv(devices.ENV, "auto")
    assert devices.best_device().type in devices.KINDS
    monkeypatch.setenv(devices.ENV, "tpu")
    with pytest.raises(ValueError, match="the environment variable TRANSFORMER_EDU_DEVICE must be 'auto', 'cpu'"):
        devices.best_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv(devices.ENV, "cuda")
        with pytest.raises(ValueError, match="TRANSFORMER_EDU_DEVICE asks for 'cuda', but PyTorch sees no CUDA GPU"):
            devices.resolve(None)
    assert devices.resolve("cpu") == torch.device("cpu")  # a device named in the call needs no variable


def test_train_command_line_names_its_device_and_refuses_a_missing_one(tmp_path, capsys):
    train_cli = importlib.import_module("transformer_edu.train")  # the package re-exports train(), the function
    record = train_cli.main(["--task", "copy", "--steps", "2", "--n-test", "4", "--device", "cpu", "--no-progress",
                             "--out", str(tmp_path / "copy.pt")])
    assert record["device"] == "cpu" and record["world_size"] == 1
    assert "training on the CPU (" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="device must be 'auto', 'cpu'"):
        train_cli.main(["--task", "copy", "--steps", "2", "--device", "tpu"])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA GPU"):
            train_cli.main(["--task", "copy", "--steps", "2", "--device", "cuda"])


def test_draw_uses_the_generator_where_it_lives():
    """sample() and GPT.generate draw through decoding.draw: with a CPU generator it is torch.multinomial's
    own draw (on a GPU the probabilities would visit the CPU; no GPU here to run that route)."""
    from transformer_edu.decoding import draw
    probs = torch.softmax(torch.randn(6, 11, generator=torch.Generator().manual_seed(3)), dim=-1)
    expected = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(5))[:, 0]
    torch.testing.assert_close(draw(probs, torch.Generator().manual_seed(5)), expected)
    assert draw(probs).shape == (6,)


def test_the_command_line_option(monkeypatch):
    """The --device option of the benchmarks and of python -m transformer_edu.train."""
    import argparse
    monkeypatch.delenv(devices.ENV, raising=False)
    parser = argparse.ArgumentParser(prog="bench")
    devices.add_device_option(parser, ": where it runs")
    assert parser.parse_args([]).device == "auto" and parser.format_help().count("cuda:N or mps: where it runs")
    assert devices.parsed_device(parser, parser.parse_args(["--device", "cpu"])) == torch.device("cpu")
    with pytest.raises(SystemExit):
        devices.parsed_device(parser, parser.parse_args(["--device", "tpu"]))
