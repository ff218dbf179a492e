import importlib
import json
import math
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from transformer_edu import Transformer, TransformerConfig, lm_data
from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.checks import NonFiniteError
from transformer_edu.data import build_tokenizers, iterate_batches, make_batch, make_dataset
from transformer_edu.decoding import greedy_decode
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import LMBatch, lm_batch, lm_loss
from transformer_edu.tokenizer import CharTokenizer
from transformer_edu.training import (LabelSmoothingLoss, evaluate_loss, exact_match, held_out_evaluator,
                                      make_adamw, make_optimizer, noam_lr, predict, train, train_step,
                                      warmup_cosine_lr)

train_cli = importlib.import_module("transformer_edu.train")  # the module, even if the package re-exports train()

PAD = 0


# --- label smoothing (section 5.4) ---------------------------------------------------------------------

@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_loss_equals_torch_cross_entropy_with_label_smoothing(smoothing):
    logits = torch.randn(4, 7, 11, dtype=torch.float64)
    target = torch.randint(1, 11, (4, 7))
    target[0, 4:] = PAD
    target[2, 1:] = PAD
    ours = LabelSmoothingLoss(smoothing, ignore_index=PAD)(logits, target)
    theirs = F.cross_entropy(logits.reshape(-1, 11), target.reshape(-1), label_smoothing=smoothing,
                             ignore_index=PAD)
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=1e-12)


def test_loss_is_cross_entropy_against_the_written_out_smoothed_distribution():
    loss_fn = LabelSmoothingLoss(0.1)
    logits = torch.randn(5, 6, dtype=torch.float64)
    target = torch.tensor([1, 2, 3, 4, 5])
    q = loss_fn.smoothed_target(target, 6).double()  # (5, 6)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(5, dtype=torch.float64))
    assert q[0, 1] == pytest.approx(0.9 + 0.1 / 6) and q[0, 0] == pytest.approx(0.1 / 6)
    expected = -(q * torch.log_softmax(logits, dim=-1)).sum(dim=1).mean()
    torch.testing.assert_close(loss_fn(logits, target), expected)
    # ... which is KL(q || p) plus the entropy of q, a constant
    kl = F.kl_div(torch.log_softmax(logits, dim=-1), q, reduction="batchmean")
    entropy = -(q * q.log()).sum(dim=1).mean()
    torch.testing.assert_close(loss_fn(logits, target), kl + entropy)


def test_loss_ignores_padding_positions():
    loss_fn = LabelSmoothingLoss(0.1)
    logits = torch.randn(2, 5, 9)
    target = torch.tensor([[4, 5, 2, PAD, PAD], [6, 7, 8, 3, 2]])
    changed = logits.clone()
    changed[0, 3:] = torch.randn(2, 9) * 100  # anything at padded positions
    assert loss_fn(changed, target) == loss_fn(logits, target)
    real = target != PAD
    assert loss_fn(logits, target) == pytest.approx(float(loss_fn(logits[real], target[real])))
    gradient = torch.zeros_like(logits, requires_grad=True)
    loss_fn(gradient + logits, target).backward()
    assert gradient.grad[0, 3:].abs().sum() == 0 and gradient.grad[0, :3].abs().sum() > 0


def test_loss_of_only_padding_is_zero_not_nan():
    assert LabelSmoothingLoss()(torch.randn(1, 3, 5), torch.zeros(1, 3, dtype=torch.long)) == 0


def test_loss_minimum_is_the_entropy_of_the_smoothed_target():
    eps, vocab = 0.1, 8
    q = LabelSmoothingLoss(eps).smoothed_target(torch.tensor([3]), vocab)
    best = LabelSmoothingLoss(eps)(q.log(), torch.tensor([3]))  # p = q is optimal
    assert float(best) == pytest.approx(float(-(q * q.log()).sum()), rel=1e-6) and float(best) > 0


@pytest.mark.parametrize("bad", [
    dict(smoothing=1.0), dict(smoothing=-0.1), dict(smoothing="0.1"), dict(reduction="none")])
def test_loss_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        LabelSmoothingLoss(**bad)


@pytest.mark.parametrize("logits, target", [
    (torch.randn(2, 3, 5), torch.zeros(2, 4, dtype=torch.long)),  # shapes disagree
    (torch.randn(2, 3, 5), torch.zeros(2, 3)),  # float targets
    (torch.randint(0, 5, (2, 3, 5)), torch.zeros(2, 3, dtype=torch.long)),  # integer logits
    (torch.randn(2, 3, 5), torch.full((2, 3), 5)),  # id out of the vocabulary
    ([0.1, 0.2], torch.zeros(1, dtype=torch.long)),  # not a tensor
    (torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.bool)),  # bool targets
])
def test_loss_rejects_bad_inputs(logits, target):
    with pytest.raises(ValueError):
        LabelSmoothingLoss()(logits, target)


# --- the schedule (section 5.3, equation 3) -------------------------------------------------------------

def test_noam_lr_known_values():
    d, w = 512, 4000
    assert noam_lr(1, d, w) == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    assert noam_lr(w, d, w) == pytest.approx((512 * 4000) ** -0.5)  # the peak, about 7.0e-4
    assert noam_lr(w, d, w) == pytest.approx(6.987712429686843e-4)
    assert noam_lr(4 * w, d, w) == pytest.approx(noam_lr(w, d, w) / 2)  # inverse square root decay
    assert noam_lr(100, d, w, factor=2.0) == pytest.approx(2 * noam_lr(100, d, w))


def test_noam_lr_rises_linearly_then_decays_with_peak_at_warmup():
    rates = [noam_lr(s, 128, 50) for s in range(1, 301)]
    assert max(range(300), key=rates.__getitem__) + 1 == 50
    assert rates[9] == pytest.approx(10 * rates[0])  # linear warm-up
    assert all(a > b for a, b in zip(rates[49:], rates[50:]))  # strictly decreasing afterwards


@pytest.mark.parametrize("args", [(0, 512), (1, 0), (1.5, 512), (1, 512, 0), (True, 512)])
def test_noam_lr_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        noam_lr(*args)


def test_make_optimizer_is_the_papers_adam_with_the_schedule():
    model = Transformer(TransformerConfig.small(vocab_size=10))
    optimizer, scheduler = make_optimizer(model, warmup_steps=10, factor=2.0)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.Adam)
    assert group["betas"] == (0.9, 0.98) and group["eps"] == 1e-9
    seen = []
    for _ in range(20):
        seen.append(group["lr"])  # the rate the next update uses
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([noam_lr(n, 64, 10, 2.0) for n in range(1, 21)])
    with pytest.raises(ValueError):
        make_optimizer(torch.nn.Linear(2, 2))  # no config: d_model must be given
    with pytest.raises(ValueError):
        make_optimizer("model", d_model=8)


# --- the training loop --------------------------------------------------------------------------------

def tiny_setup(task: str = "copy", n_train: int = 200, n_test: int = 20, seed: int = 0):
    train_pairs, test_pairs = make_dataset(task, n_train, n_test, seed=0, max_len=6)
    tokenizers = build_tokenizers(task)
    torch.manual_seed(seed)
    config = TransformerConfig.small(vocab_size=tokenizers[0].vocab_size, d_model=16, n_heads=2, d_ff=32,
                                     n_encoder_layers=1, n_decoder_layers=1, max_len=32)
    return Transformer(config), train_pairs, test_pairs, tokenizers


def test_train_returns_a_history_and_reduces_the_loss():
    model, train_pairs, test_pairs, tokenizers = tiny_setup()
    history = train(model, train_pairs, tokenizers=tokenizers, steps=60, batch_size=16, warmup_steps=20,
                    lr_factor=0.1, eval_every=20, eval_fn=held_out_evaluator(test_pairs, tokenizers), progress=False)
    assert history["step"] == list(range(1, 61))
    for key in ("train_loss", "lr", "train_seconds"):
        assert len(history[key]) == 60
    assert history["lr"] == pytest.approx([noam_lr(s, 16, 20, 0.1) for s in range(1, 61)])
    assert [s for s, _ in history["val_loss"]] == [20, 40, 60]
    assert all(0.0 <= v <= 1.0 for _, v in history["val_exact_match"])
    assert sum(history["train_loss"][-10:]) < sum(history["train_loss"][:10])
    assert history["val_loss"][-1][1] < history["val_loss"][0][1]
    assert all(a <= b for a, b in zip(history["train_seconds"], history["train_seconds"][1:]))


def test_train_is_reproducible_for_a_seed():
    runs = []
    for seed in (3, 3, 4):
        model, train_pairs, _, tokenizers = tiny_setup(seed=seed)
        history = train(model, train_pairs, tokenizers=tokenizers, steps=15, batch_size=8, seed=seed, progress=False)
        runs.append((history["train_loss"], model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
    assert runs[0][0] != runs[2][0]


def test_train_takes_ready_batches_and_a_custom_optimizer_and_clipping():
    model, train_pairs, _, tokenizers = tiny_setup()
    batches = [make_batch(train_pairs[i:i + 10], *tokenizers) for i in range(0, 100, 10)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    history = train(model, batches, steps=12, optimizer=optimizer, clip_grad_norm=1.0, progress=False)
    assert history["lr"] == [0.1] * 12  # no schedule given: the optimizer's own rate
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_stops_when_asked_and_writes_checkpoints(tmp_path):
    model, train_pairs, test_pairs, tokenizers = tiny_setup()
    path = tmp_path / "run.pt"
    history = train(model, train_pairs, tokenizers=tokenizers, steps=50, batch_size=8, eval_every=5,
                    eval_fn=lambda m: {"calls": 1.0}, stop_when=lambda metrics: True,
                    checkpoint_every=100, checkpoint_path=path, progress=False)
    assert history["step"][-1] == 5 and history["val_calls"] == [(5, 1.0)]
    loaded, loaded_tokenizers, extra = load_checkpoint(path)  # saved at the stop
    assert extra["step"] == 5 and loaded_tokenizers == tokenizers
    src = torch.tensor([[4, 5, 6]])
    torch.testing.assert_close(loaded(src, src), model.eval()(src, src))


@pytest.mark.parametrize("bad", [
    dict(steps=0), dict(steps=2.5), dict(steps="10"), dict(batch_size=0), dict(seed=-1),
    dict(eval_every=10),  # no eval_fn
    dict(stop_when=lambda m: True),  # no eval_fn
    dict(eval_fn="not callable", eval_every=1),
    dict(checkpoint_every=5),  # no path
    dict(clip_grad_norm=-1.0), dict(smoothing=1.5),
])
def test_train_rejects_bad_settings(bad):
    model, train_pairs, _, tokenizers = tiny_setup()
    settings = dict(steps=5, tokenizers=tokenizers, progress=False) | bad
    with pytest.raises(ValueError):
        train(model, train_pairs, **settings)


def test_train_rejects_bad_data_and_models():
    model, train_pairs, _, tokenizers = tiny_setup()
    for data in ([], "abc", [("a",)], [1, 2]):
        with pytest.raises(ValueError):
            train(model, data, steps=5, tokenizers=tokenizers, progress=False)
    with pytest.raises(ValueError, match="tokenizers"):
        train(model, train_pairs, steps=5, progress=False)  # text pairs need tokenizers
    with pytest.raises(ValueError, match="nn.Module"):
        train("model", train_pairs, steps=5, tokenizers=tokenizers, progress=False)


# --- a run that diverges stops, at the step where it did -----------------------------------------------

def test_a_nan_loss_stops_the_step_before_it_reaches_the_weights():
    model, train_pairs, _, tokenizers = tiny_setup()
    batch = make_batch(train_pairs[:8], *tokenizers)
    optimizer, scheduler = make_optimizer(model, warmup_steps=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    nan_loss = lambda logits, target: LabelSmoothingLoss()(logits, target) * float("nan")  # noqa: E731
    with pytest.raises(NonFiniteError, match=r"^the loss is nan, so the weights were left as they were before this "
                                             r"update\. Usual causes: a learning rate too high"):
        train_step(model, batch, nan_loss, optimizer, scheduler)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert scheduler.last_epoch == 0 and not optimizer.state  # no update was made


def test_a_diverging_run_stops_with_its_step_and_learning_rate():
    """It used to go on, NaN loss after NaN loss, to the last step."""
    model, train_pairs, _, tokenizers = tiny_setup()
    with pytest.raises(NonFiniteError, match=r"^training stopped at step (\d+) of 40 \(learning rate [\d.e+]+\): "
                                             r".*(NaN|inf).*a learning rate too high"):
        train(model, train_pairs, tokenizers=tokenizers, steps=40, batch_size=8, warmup_steps=1, lr_factor=1e8,
              progress=False)


def test_weights_made_non_finite_by_the_last_update_are_reported(tmp_path):
    model, train_pairs, _, tokenizers = tiny_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=float("nan"))  # every weight NaN after one update
    with pytest.raises(NonFiniteError, match=r"^training stopped at step 1 of 1 \(learning rate nan\): the weights "
                                             r"are not all finite after the last update \(src_embed.table.weight, "):
        train(model, train_pairs, tokenizers=tokenizers, steps=1, batch_size=8, optimizer=optimizer, progress=False)
    model, train_pairs, _, tokenizers = tiny_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=float("nan"))
    # The next forward pass finds them at the encoder's output (the layers inside the model trust their inputs,
    # checks.py) and names the broken weights, the embedding table first.
    with pytest.raises(NonFiniteError, match=r"^training stopped at step 2 of 2 \(learning rate nan\): memory "
                                             r"\(Transformer.encode's output\) holds [\d,]+ NaN .*The model's weights "
                                             r"hold NaN or inf, in [\d,]+ tensor\(s\): src_embed.table.weight, "):
        train(model, train_pairs, tokenizers=tokenizers, steps=2, batch_size=8, optimizer=optimizer, progress=False)


# --- evaluation -----------------------------------------------------------------------------------------

def test_exact_match_and_predict_agree_and_validate():
    model, _, test_pairs, tokenizers = tiny_setup()
    score = exact_match(model, test_pairs, *tokenizers, batch_size=7)
    predictions = predict(model, [s for s, _ in test_pairs], *tokenizers, batch_size=7)
    assert len(predictions) == len(test_pairs) and all(isinstance(p, str) for p in predictions)
    assert 0.0 <= score <= 1.0
    assert exact_match(model, test_pairs, *tokenizers, batch_size=3, use_cache=False) == score
    with pytest.raises(ValueError):
        exact_match(model, [], *tokenizers)
    with pytest.raises(ValueError):
        exact_match(model, [("abc", 5)], *tokenizers)
    with pytest.raises(ValueError):
        exact_match(model, test_pairs, tokenizers[0], "tokenizer")
    with pytest.raises(ValueError):
        exact_match(torch.nn.Linear(2, 2), test_pairs, *tokenizers)
    with pytest.raises(ValueError):
        predict(model, "abc", *tokenizers)
    with pytest.raises(ValueError):
        predict(model, ["abc"], *tokenizers, batch_size=0)


class ScriptedTransformer(Transformer):
    """Says the tokens of `script` in order, whatever the source (its decoder still runs, so the cache grows)."""

    def __init__(self, config: TransformerConfig, script: list[int]):
        super().__init__(config)
        self.script = script

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        start = 0 if cache is None else cache.length
        super().decode(tgt_ids, memory, src_mask, tgt_mask, cache=cache)
        logits = torch.zeros(*tgt_ids.shape, self.config.tgt_vocab_size)  # (B, T, V)
        for j in range(tgt_ids.shape[1]):
            logits[:, j, self.script[min(start + j, len(self.script) - 1)]] = 1.0
        return logits


def test_exact_match_needs_the_target_then_eos():
    model, _, _, tokenizers = tiny_setup()
    a, eos = tokenizers[1].token_to_id("a"), 2
    says_aa = ScriptedTransformer(model.config, [a, a, eos])
    assert exact_match(says_aa, [("bcd", "aa")], *tokenizers) == 1.0
    assert exact_match(says_aa, [("bcd", "a"), ("bcd", "aaa"), ("bcd", "aa"), ("b", "ab")], *tokenizers) == 0.25
    assert predict(says_aa, ["bcd", "e"], *tokenizers) == ["aa", "aa"]
    never_ends = ScriptedTransformer(model.config, [a])
    assert exact_match(never_ends, [("bcd", "aa")], *tokenizers) == 0.0  # "aa" but no EOS after it


def test_evaluate_loss_is_per_token_and_ignores_dropout():
    model, _, test_pairs, tokenizers = tiny_setup()
    batches = list(iterate_batches(test_pairs, *tokenizers, batch_size=6))
    model.train()
    first, second = evaluate_loss(model, batches), evaluate_loss(model, batches)
    assert first == second and model.training  # dropout off inside, mode restored
    whole = make_batch(test_pairs, *tokenizers)
    with torch.no_grad():
        expected = LabelSmoothingLoss(0.1)(model.eval()(whole.src, whole.tgt_in), whole.tgt_out)
    assert first == pytest.approx(float(expected), rel=1e-5)


# --- a task the model must learn ------------------------------------------------------------------------

@pytest.mark.slow
def test_copy_task_is_learned_through_the_public_api():
    """800 updates of the small preset, then greedy decoding of held-out strings. Bounded by steps, not seconds:
    how long it takes depends on the machine and its load (benchmarks/copy_task.py times it)."""
    train_pairs, test_pairs = make_dataset("copy", 800 * 128, 500, seed=0)
    tokenizers = build_tokenizers("copy")
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=tokenizers[0].vocab_size, max_len=64))
    history = train(model, train_pairs, tokenizers=tokenizers, steps=800, batch_size=128, warmup_steps=400,
                    lr_factor=0.5, seed=0, progress=False)
    assert exact_match(model, test_pairs, *tokenizers) >= 0.99
    src = torch.tensor([tokenizers[0].encode("jihgfedcba")])
    out = greedy_decode(model, src)  # (1, 1 + n): BOS, the copy, EOS
    assert tokenizers[1].decode(out[0]) == "jihgfedcba"


def test_command_line_trains_saves_and_records_the_run(tmp_path, capsys):
    out = tmp_path / "dates.pt"
    record = train_cli.main(["--task", "dates", "--steps", "3", "--d-model", "16", "--heads", "2", "--layers", "1",
                             "--d-ff", "32", "--batch-size", "8", "--n-test", "20", "--no-progress",
                             "--out", str(out)])
    assert "held-out exact match on 20 examples" in capsys.readouterr().out
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved == json.loads(json.dumps(record)) and saved["steps"] == 3 and saved["n_train"] == 24
    assert saved["command"].startswith("python -m transformer_edu.train --task dates --steps 3")
    model, _, extra = load_checkpoint(out)
    assert model.config.d_model == 16 and extra["held_out_exact_match"] == saved["held_out_exact_match"]
    with pytest.raises(SystemExit):
        train_cli.parse_args(["--steps", "0"])


def test_train_step_is_one_update():
    model, train_pairs, _, tokenizers = tiny_setup()
    batch = make_batch(train_pairs[:8], *tokenizers)
    optimizer, scheduler = make_optimizer(model, warmup_steps=10)
    before = [p.detach().clone() for p in model.parameters()]
    loss = train_step(model.eval(), batch, LabelSmoothingLoss(), optimizer, scheduler)
    assert model.training  # dropout is on during the update
    assert isinstance(loss, float) and loss > 0
    assert scheduler.last_epoch == 1 and optimizer.param_groups[0]["lr"] == pytest.approx(noam_lr(2, 16, 10))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))



# --- a language model through the same loop (chapter 15) -------------------------------------------------

@pytest.mark.parametrize("step, expected", [
    (1, 1e-3 / 10), (5, 5e-3 / 10), (10, 1e-3),  # the linear warm-up reaches the peak at warmup_steps
    (11, None), (55, 0.5 * (1e-3 + 1e-4)), (100, 1e-4), (150, 1e-4)])  # cosine: half-way, at the end, after
def test_warmup_cosine_lr_rises_linearly_then_falls_along_a_cosine(step, expected):
    got = warmup_cosine_lr(step, 1e-3, 10, decay_steps=100, min_lr=1e-4)
    if expected is None:  # just after the peak: a little below it
        assert 1e-3 - 1e-6 < got < 1e-3
    else:
        assert got == pytest.approx(expected, rel=1e-12)
    assert warmup_cosine_lr(step, 1e-3, 10) == pytest.approx(min(1.0, step / 10) * 1e-3)  # no decay: constant


def test_warmup_cosine_lr_falls_monotonically_during_the_decay():
    rates = [warmup_cosine_lr(s, 2e-3, 20, 300, 2e-4) for s in range(1, 301)]
    assert max(range(300), key=rates.__getitem__) + 1 == 20
    assert all(a > b for a, b in zip(rates[19:], rates[20:]))


@pytest.mark.parametrize("args, message", [
    ((0, 1e-3, 10), r"step must be an int >= 1 \(steps count from 1\), got 0"),
    ((1, 0.0, 10), r"peak_lr must be a finite number > 0, got 0.0"),
    ((1, float("nan"), 10), r"peak_lr must be a finite number > 0, got nan"),
    ((1, 1e-3, 0), r"warmup_steps must be an int >= 1, got 0"),
    ((1, 1e-3, 10, 10), r"decay_steps must be an int >= 11 \(after the warm-up; None: no decay\), got 10"),
    ((1, 1e-3, 10, 100, 2e-3), r"min_lr must be a number in \[0, peak_lr=0.001\], got 0.002"),
    ((1, 1e-3, 10, 100, -1e-4), r"min_lr must be a number in \[0, peak_lr=0.001\], got -0.0001"),
])
def test_warmup_cosine_lr_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        warmup_cosine_lr(*args)


def tiny_gpt(seed: int = 0, vocab_size: int = 12, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.small(vocab_size=vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=8,
                               positional="learned", **changes))


def test_make_adamw_decays_only_weight_matrices_and_follows_its_schedule():
    model = tiny_gpt()
    optimizer, scheduler = make_adamw(model, peak_lr=2e-3, warmup_steps=4, decay_steps=12, min_lr=1e-4,
                                      weight_decay=0.05)
    assert isinstance(optimizer, torch.optim.AdamW)
    decayed, kept = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and kept["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.parameters() if p.dim() == 2}
    assert sum(p is model.embed.weight for p in decayed["params"]) == 1  # the tied matrix, once
    assert all(p.dim() == 1 for p in kept["params"])  # biases, LayerNorm gains and shifts
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))
    assert decayed["betas"] == (0.9, 0.99) and decayed["eps"] == 1e-8
    seen = []
    for _ in range(15):
        seen.append(decayed["lr"])
        assert kept["lr"] == decayed["lr"]
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([warmup_cosine_lr(n, 2e-3, 4, 12, 1e-4) for n in range(1, 16)], rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="gpt"), "model must be an nn.Module, got str"),
    (dict(weight_decay=-0.1), "weight_decay must be a finite number >= 0, got -0.1"),
    (dict(peak_lr=0), "peak_lr must be a finite number > 0"),
    (dict(warmup_steps=100, decay_steps=50), "decay_steps must be an int >= 101"),
])
def test_make_adamw_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_adamw(**{"model": tiny_gpt(), **kwargs})


CORPUS = torch.tensor(([4, 5, 6, 7, 4, 8, 9, 10] * 40)[:-3])  # a text of 317 ids in a 12-token vocabulary


def test_train_step_on_an_lm_batch_is_the_next_token_cross_entropy_and_one_update():
    model, again = tiny_gpt(), tiny_gpt()
    batch = lm_batch(CORPUS, 8, 5, torch.Generator().manual_seed(0))
    assert isinstance(batch, LMBatch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = train_step(model.eval(), batch, LabelSmoothingLoss(0.0), optimizer)
    assert model.training
    # the same update written out: logits at position t scored against the token after it
    by_hand = F.cross_entropy(again(batch.inputs).flatten(0, 1), batch.targets.flatten())
    assert loss == pytest.approx(by_hand.item(), rel=1e-6)
    by_hand.backward()
    with torch.no_grad():
        for p in again.parameters():
            p -= 0.1 * p.grad
    for ours, theirs in zip(model.parameters(), again.parameters()):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


def lm_run(seed: int = 0, steps: int = 120, **kwargs):
    model = tiny_gpt(seed)
    optimizer, scheduler = make_adamw(model, peak_lr=1e-2, warmup_steps=10, decay_steps=steps)
    history = train(model, CORPUS, steps=steps, batch_size=8, smoothing=0.0, optimizer=optimizer,
                    scheduler=scheduler, clip_grad_norm=1.0, seed=seed, progress=False, **kwargs)
    return model, history


def test_train_teaches_a_gpt_a_repeating_text_through_the_same_loop():
    model, history = lm_run(eval_every=40, eval_fn=lambda m: {"loss": lm_loss(m, CORPUS, 8)})
    assert history["step"] == list(range(1, 121))
    assert history["lr"] == pytest.approx([warmup_cosine_lr(n, 1e-2, 10, 120) for n in range(1, 121)], rel=1e-12)
    assert [s for s, _ in history["val_loss"]] == [40, 80, 120]
    # After a 4 the next token (5 or 8) depends on the token before the 4, which attention must look back to
    # find. Only the first position of a window cannot know: lm_windows' windows all start at a 4, so a model
    # that learned the text scores about ln(2) there and nearly 0 at the 7 other positions.
    assert history["val_loss"][-1][1] < math.log(2) / 8 + 0.01
    assert sum(history["train_loss"][-10:]) < sum(history["train_loss"][:10]) / 5


def test_train_on_lm_data_is_reproducible_for_a_seed():
    runs = [lm_run(seed, steps=15) for seed in (3, 3, 4)]
    assert runs[0][1]["train_loss"] == runs[1][1]["train_loss"] != runs[2][1]["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][0].state_dict().values(), runs[1][0].state_dict().values()))


def test_train_draws_lm_batch_windows_with_a_generator_seeded_by_seed():
    model = tiny_gpt()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay: each loss scores one batch
    history = train(model, CORPUS, steps=4, batch_size=3, block_size=6, smoothing=0.0, optimizer=optimizer,
                    seed=5, progress=False)
    generator = torch.Generator().manual_seed(5)
    windows = [lm_batch(CORPUS, 6, 3, generator) for _ in range(4)]
    with torch.no_grad():
        expected = [LabelSmoothingLoss(0.0)(model(x), y).item() for x, y in windows]
    assert history["train_loss"] == expected


def test_train_takes_ready_lm_batches_and_saves_a_gpt_checkpoint(tmp_path):
    model = tiny_gpt()
    tokenizer = CharTokenizer.train("abcdefgh")
    assert tokenizer.vocab_size == model.config.vocab_size
    batches = [LMBatch(CORPUS[i:i + 8][None], CORPUS[i + 1:i + 9][None]) for i in range(0, 80, 8)]
    history = train(model, batches, steps=12, smoothing=0.0, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                    tokenizers=(tokenizer, tokenizer), checkpoint_every=5, checkpoint_path=tmp_path / "lm.pt",
                    progress=False)
    assert len(history["train_loss"]) == 12
    loaded, tokenizers, extra = load_checkpoint(tmp_path / "lm.pt")
    assert isinstance(loaded, GPT) and extra["step"] == 12 and tokenizers == (tokenizer, tokenizer)
    assert torch.equal(loaded(CORPUS[None, :8]), model.eval()(CORPUS[None, :8]))


PAIRS = [("abc", "cba"), ("ab", "ba")]


@pytest.mark.parametrize("model, data, kwargs, message", [
    ("gpt", CORPUS.float(), {}, r"ids must be a 1-D torch.long tensor .*dtype torch.float32"),
    ("gpt", CORPUS[None], {}, r"ids must be a 1-D torch.long tensor .*shape \(1, 317\)"),
    ("gpt", CORPUS[:8], {}, r"block_size must be an int in \[1, 7\]"),  # 8 ids hold 7 targets: windows of 7
    ("gpt", CORPUS, dict(block_size=9), r"block_size must be an int in \[1, 8\] \(the window length T: at most "
                                        r"the model's config.max_len\), got 9"),
    ("gpt", CORPUS, dict(block_size=0), r"block_size must be an int in \[1, 8\]"),
    ("gpt", CORPUS + 5, {}, r"data must hold ids in \[0, 11\] for the model's vocabulary of 12, got values from "
                            r"9 to 15"),
    ("gpt", PAIRS, {}, r"model must be an nn.Module with the Seq2SeqModel protocol's attributes .* got GPT"),
    ("transformer", CORPUS, {}, r"model must be a decoder-only language model .* got Transformer; an "
                                r"encoder-decoder trains on \(source, target\) pairs"),
    ("transformer", PAIRS, dict(block_size=4), r"block_size is the window length of a language model's data"),
    ("gpt", CORPUS, dict(tokenizers="chars"), r"tokenizers must be a \(source, target\) pair"),
    ("gpt", CORPUS, dict(checkpoint_every=5), r"checkpoint_every > 0 needs a checkpoint_path and the tokenizers"),
])
def test_train_rejects_language_model_data_it_cannot_use(model, data, kwargs, message):
    if model == "gpt":
        model = tiny_gpt()
    else:
        model, *_ = tiny_setup("reverse")
    tokenizers = kwargs.pop("tokenizers", build_tokenizers("reverse") if isinstance(data, list) else None)
    with pytest.raises(ValueError, match=message):
        train(model, data, steps=2, tokenizers=tokenizers, progress=False, **kwargs)


def test_command_line_trains_a_gpt_on_shakespeare_and_records_the_run(tmp_path, capsys, monkeypatch):
    # A short text instead of the 5.3 million characters of the plays: the same code path, in a second.
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40
    monkeypatch.setattr(lm_data, "shakespeare_text", lambda: text)  # read by lm_data.shakespeare_characters
    out = tmp_path / "shakespeare.pt"
    record = train_cli.main(["--task", "shakespeare", "--steps", "6", "--d-model", "16", "--heads", "2",
                             "--layers", "1", "--d-ff", "32", "--warmup", "2", "--context", "16",
                             "--eval-every", "3", "--eval-tokens", "50", "--no-progress", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "validation loss" in printed and "nats per character" in printed
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved == json.loads(json.dumps(record)) and saved["steps"] == 6 and saved["task"] == "shakespeare"
    assert saved["command"].startswith("python -m transformer_edu.train --task shakespeare --steps 6")
    assert [step for step, _, _ in saved["validation_curve"]["step_loss_seconds"]] == [3, 6]
    assert saved["training"]["decay_steps"] == 6 and saved["training"]["smoothing"] == 0.0
    model, (tokenizer, again), extra = load_checkpoint(out)
    assert isinstance(model, GPT) and tokenizer == again and model.config.max_len == 16
    assert model.config == GPTConfig.from_dict(saved["config"]) and model.config.positional == "learned"
    _, validation = lm_data.split_text(text)
    assert tokenizer.decode(tokenizer.encode(validation)) == validation  # the tokenizer round trip
    ids = torch.tensor(tokenizer.encode(validation))
    assert lm_loss(model, ids, 16) == pytest.approx(saved["validation_loss"], abs=1e-6)
    assert extra["validation_loss"] == saved["validation_loss"]


@pytest.mark.parametrize("argv, message", [
    (["--task", "dates", "--lr", "1e-3"], "--lr do(es) not apply to --task dates"),
    (["--task", "shakespeare", "--smoothing", "0.1", "--n-test", "5"], "--smoothing, --n-test do(es) not apply"),
    (["--task", "shakespeare", "--min-lr", "0.01"], "--min-lr must be > 0 and at most --lr"),
    (["--task", "shakespeare", "--context", "0"], "--context must be >= 1, got 0"),
    (["--task", "copy", "--steps", "0"], "--steps must be >= 1, got 0"),
])
def test_command_line_refuses_settings_of_the_other_kind_of_task(argv, message, capsys):
    with pytest.raises(SystemExit):
        train_cli.parse_args(argv)
    assert message in capsys.readouterr().err


def test_command_line_defaults_are_the_shipped_runs():
    dates, shakespeare = train_cli.parse_args(["--task", "dates"]), train_cli.parse_args(["--task", "shakespeare"])
    assert (dates.steps, dates.d_model, dates.layers, dates.batch_size, dates.warmup, dates.lr_factor) == \
        (1500, 64, 2, 128, 400, 0.5)
    assert (shakespeare.d_model, shakespeare.heads, shakespeare.layers, shakespeare.d_ff, shakespeare.context,
            shakespeare.batch_size, shakespeare.dropout) == (128, 4, 4, 512, 64, 12, 0.0)  # GPTConfig.small


# --- the same bits on every x86-64 CPU (the Makefile's ATEN_CPU_CAPABILITY and MKL_CBWR) ----------------

_FINGERPRINT = """
import hashlib, torch
torch.set_num_threads(1)
from transformer_edu import Transformer, TransformerConfig
from transformer_edu.data import build_tokenizers, make_dataset
from transformer_edu.training import train
train_pairs, _ = make_dataset("dates", 40 * 64, 10, seed=0)
tokenizers = build_tokenizers("dates")
torch.manual_seed(0)
model = Transformer(TransformerConfig(src_vocab_size=tokenizers[0].vocab_size, tgt_vocab_size=tokenizers[1].vocab_size,
                                      d_model=64, n_heads=4, d_ff=256, n_encoder_layers=2, n_decoder_layers=2,
                                      dropout=0.1, max_len=64))
train(model, train_pairs, tokenizers=tokenizers, steps=40, batch_size=64, warmup_steps=400, lr_factor=0.5, seed=0,
      progress=False)
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.state_dict().values())).hexdigest()
print(torch.backends.cpu.get_cpu_capability(), digest)
"""
_KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")


def _fingerprint(**variables: str) -> tuple[str, str]:
    """(PyTorch's kernel level, hash of the weights after 40 chapter-11 training steps) in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in _KERNEL_VARIABLES} | variables
    done = subprocess.run([sys.executable, "-c", _FINGERPRINT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    level, digest = done.stdout.split()
    return level, digest


def _makefile_pin() -> dict[str, str]:
    """The kernel variables the Makefile exports (`export NAME ?= value`), so this test checks what make runs."""
    text = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    return dict(re.findall(r"^export (ATEN_CPU_CAPABILITY|MKL_CBWR) \?= (\S+)$", text, flags=re.M))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 kernels only")
def test_pinned_kernels_train_the_same_bits_whatever_instructions_the_cpu_has():
    # The Makefile runs every chapter with these settings. Older CPUs are imitated by capping MKL and oneDNN at
    # AVX2 and at SSE4.2: under the pin the weights must not change by one bit. MKL's COMPATIBLE branch is also
    # the one it supports on non-Intel CPUs (its AVX2 branch falls back to automatic dispatch there: chapter 11
    # executed on an Intel Xeon and on an AMD EPYC then differed); an Intel/AMD pair cannot be imitated here.
    pin = _makefile_pin()
    assert pin == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"}, pin
    pinned = _fingerprint(**pin)
    assert pinned[0] == "AVX2"
    for isa in ("AVX2", "SSE4_2"):
        assert _fingerprint(**pin, MKL_ENABLE_INSTRUCTIONS=isa, ONEDNN_MAX_CPU_ISA=isa) == pinned, isa
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        # Control: on this AVX-512 CPU, its fastest kernels give other weights, so the pin is what makes them equal.
        assert _fingerprint()[1] != pinned[1]
