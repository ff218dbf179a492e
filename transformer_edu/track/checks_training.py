"""Checks of the track's training and decoding parts: teacher forcing, label smoothing, the warm-up schedule,
greedy decoding and beam search (see checks_parts.py for the pattern).

Decoding is checked on a scripted model whose next-token probabilities are written out by hand, chosen so
that each typical mistake changes the output (PAD as the most probable first token, sequences that end at
different steps, a short hypothesis that wins only without the length penalty), then on the trained date model.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..beam import beam_search
from ..checkpoint import load_checkpoint
from ..data import make_batch, make_dataset, teacher_forcing
from ..decoding import greedy_decode
from ..exercises._check import Feedback, compare_tensors, correct, not_yet
from ..label_smoothing import LabelSmoothingLoss
from ..training import noam_lr
from .checks_parts import same, seeded

PAD, BOS, EOS, V = 0, 1, 2, 7
# next-token probabilities after each prefix (the tokens after BOS), one script per first source token
SCRIPTS = {
    5: {(): {PAD: 0.5, BOS: 0.2, 3: 0.2, EOS: 0.1}, (3,): {4: 0.6, EOS: 0.4}, (3, 4): {EOS: 0.7, 5: 0.3}},
    6: {(): {EOS: 0.9, 3: 0.1}},
    # beam search: [EOS] has log P -0.90 and [3, 4, 5, EOS] -1.00, but -0.78 once divided by lp(4) = 1.28
    7: {(): {EOS: 0.4066, 3: 0.55, 4: 0.0434}, (3,): {4: 0.875, EOS: 0.1, 5: 0.025},
        (3, 4): {5: 0.875, EOS: 0.1, 6: 0.025}, (3, 4, 5): {EOS: 0.875, 6: 0.125}},
}


class ScriptedModel(nn.Module):
    """A stand-in with the model protocol whose decode returns the scripted log-probabilities."""

    def __init__(self, max_len: int = 8):
        super().__init__()
        self.config = type("Config", (), dict(pad_id=PAD, bos_id=BOS, eos_id=EOS, src_vocab_size=V, tgt_vocab_size=V,
                                              max_len=max_len, n_heads=1, d_model=1))()

    def encode(self, src_ids, src_mask=None):
        return src_ids[:, :, None].double()  # (B, S, 1): decode reads the first source token from it

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None):
        if cache is not None:  # tgt_ids holds the new tokens; the cache keeps the ones before them
            tgt_ids = cache.keep(tgt_ids)
        rows = []
        for b in range(tgt_ids.shape[0]):
            script = SCRIPTS[int(memory[b, 0, 0])]
            steps = []
            for t in range(tgt_ids.shape[1]):
                probs = torch.full((V,), 1e-9, dtype=torch.float64)
                for token, p in script.get(tuple(tgt_ids[b, 1:t + 1].tolist()), {EOS: 0.99}).items():
                    probs[token] = p
                steps.append(probs.log())
            rows.append(torch.stack(steps))
        logits = torch.stack(rows)  # (B, T, V) log-probabilities, as logits
        return logits if cache is None else logits[:, -cache.new:]

    def new_cache(self):
        return ScriptedCache()

    def attention_layers(self):
        return {}


class ScriptedCache:
    """The scripted model's cache: the tokens decoded so far, reordered as beam search asks."""

    def __init__(self):
        self.tokens, self.new = None, 0

    @property
    def length(self) -> int:
        return 0 if self.tokens is None else self.tokens.shape[1]

    def keep(self, new_ids):
        self.new = new_ids.shape[1]
        self.tokens = new_ids if self.tokens is None else torch.cat([self.tokens, new_ids], dim=1)
        return self.tokens

    def select(self, index):
        self.tokens = self.tokens.index_select(0, index)


@lru_cache(maxsize=1)
def date_model():
    """The shipped date model and four held-out sources of different lengths, padded: (model, (4, S) ids)."""
    path = Path(__file__).resolve().parents[1] / "checkpoints" / "dates.pt"
    model, (src_tok, tgt_tok), _ = load_checkpoint(path)
    _, test = make_dataset("dates", 1, 4, seed=3)
    return model.eval(), make_batch(test, src_tok, tgt_tok).src


def check_teacher_forcing(mine) -> Feedback:
    targets = [[5, 6, 7], [8]]
    got = mine.training.teacher_forcing(targets, BOS, EOS, PAD)
    tgt_in, tgt_out = teacher_forcing(targets, BOS, EOS, PAD)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return not_yet("teacher_forcing should return the pair (tgt_in, tgt_out)")
    a, b = got
    if same(a, tgt_out) and same(b, tgt_in):
        return not_yet("tgt_in and tgt_out are swapped: the decoder reads BOS y_1 .. y_n and predicts y_1 .. y_n EOS")
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b):
        return not_yet("the labels equal the decoder's input: the label at each position is the NEXT token, so "
                       "the two are shifted by one position")
    if isinstance(a, torch.Tensor) and a.shape[-1:] != tgt_in.shape[-1:] or \
            isinstance(b, torch.Tensor) and b.shape[-1:] != tgt_out.shape[-1:]:
        return not_yet("the shift is off by one: for y = [5, 6, 7] both tensors should have 1 + 3 positions, "
                       "BOS added in front of the input and EOS at the end of the labels")
    for name, value, expected in (("tgt_in", a, tgt_in), ("tgt_out", b, tgt_out)):
        problem = compare_tensors(f"{name} for targets [[5, 6, 7], [8]]", value, expected,
                                  hint="pad the shorter rows on the right with pad_id")
        if problem is not None:
            return problem
    return correct("the decoder reads BOS y_1 .. y_n and learns y_1 .. y_n EOS, one position later.")


def check_label_smoothing(mine) -> Feedback:
    logits = seeded(3, 4, 6)
    target = torch.tensor([[3, 2, 0, 0], [5, 1, 4, 0], [1, 2, 3, 4]])
    got = mine.label_smoothing.LabelSmoothingLoss(0.1, 0)(logits, target)
    expected = LabelSmoothingLoss(0.1, 0)(logits, target)
    if same(got, expected, 1e-8):
        plain = mine.label_smoothing.LabelSmoothingLoss(0.0, 0)(logits, target)
        return compare_tensors("smoothing=0 (the plain cross-entropy)", plain, LabelSmoothingLoss(0.0, 0)(
            logits, target), 1e-8) or correct("cross-entropy against (1 - eps) one-hot + eps / V, padding ignored.")
    if same(got, LabelSmoothingLoss(0.1, -100)(logits, target), 1e-8):
        return not_yet("the padding positions (target = ignore_index) were counted: leave them out of the mean")
    log_p = torch.log_softmax(logits, -1)[target != 0]
    y = target[target != 0]
    q = torch.full_like(log_p, 0.1 / 5).scatter(1, y[:, None], 0.9)  # Tensor2Tensor's eps / (V - 1)
    if same(got, -(q * log_p).sum(-1).mean(), 1e-8):
        return not_yet("this spreads eps over the V - 1 wrong classes (Tensor2Tensor's convention); the book's loss "
                       "puts eps / V on every class, the true one included, as torch's cross_entropy does")
    if same(got, LabelSmoothingLoss(0.1, 0, reduction="sum")(logits, target), 1e-8):
        return not_yet("this is the sum over positions; take the mean over the non-padding positions")
    return compare_tensors("the loss", got, expected, 1e-8) or not_yet("")


def check_warm_up_schedule(mine) -> Feedback:
    cases = [(1, 512, 4000, 1.0), (100, 512, 4000, 1.0), (4000, 512, 4000, 1.0), (4001, 512, 4000, 1.0),
             (20000, 512, 4000, 1.0), (250, 64, 400, 0.5)]
    for step, d_model, warmup, factor in cases:
        got, expected = mine.training.noam_lr(step, d_model, warmup, factor), noam_lr(step, d_model, warmup, factor)
        if not isinstance(got, (int, float)) or not math.isclose(got, expected, rel_tol=1e-9):
            where = f"noam_lr({step}, {d_model}, {warmup}, {factor})"
            if isinstance(got, (int, float)) and math.isclose(got, expected * d_model ** 0.5, rel_tol=1e-9):
                return not_yet(f"{where}: the factor d_model^-0.5 is missing")
            if step > warmup and isinstance(got, (int, float)) and got > noam_lr(warmup, d_model, warmup, factor):
                return not_yet(f"{where} is larger than at step warmup_steps: the rate should peak there and then "
                               f"decay as step^-0.5")
            return not_yet(f"{where} differs from equation 3, factor * d_model^-0.5 * min(step^-0.5, step * "
                           f"warmup_steps^-1.5)", answer=f"Expected {expected:.6g}, got {got!r}.")
    return correct("linear warm-up for warmup_steps steps, then decay as step^-0.5 (equation 3).")


def check_greedy_decoding(mine) -> Feedback:
    scripted = ScriptedModel()
    src = torch.tensor([[5, 3], [6, 3]])
    expected = greedy_decode(scripted, src, 6, use_cache=False)  # [[BOS 3 4 EOS], [BOS EOS PAD PAD]]
    got = mine.decoding.greedy_decode(scripted, src, 6)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and int(got[0, 1]) == PAD:
        return not_yet("the first token chosen was PAD, the most probable; greedy decoding never chooses PAD or "
                       "BOS: set their logits to -inf before the argmax")
    if isinstance(got, torch.Tensor) and got.dim() == 2 and got.shape[1] > expected.shape[1]:
        return not_yet("decoding went on after every sequence had produced EOS: stop then")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and int(got[1, 2]) != PAD:
        return not_yet("a sequence that has produced EOS continues with PAD only (the second sentence ends at "
                       "step 1, the first at step 3)")
    problem = compare_tensors("greedy_decode on a scripted model", got, expected)
    if problem is not None:
        return problem
    model, sources = date_model()
    return compare_tensors("greedy_decode on the trained date model", mine.decoding.greedy_decode(
        model, sources, 20), greedy_decode(model, sources, 20)) or correct(
        "the most probable token at each step, PAD and BOS excluded, until every sequence has ended.")


def check_beam_search(mine) -> Feedback:
    scripted = ScriptedModel()
    src = torch.tensor([[7, 3]])
    expected = beam_search(scripted, src, 6, beam_size=2, use_cache=False)  # BOS 3 4 5 EOS
    got = mine.beam.beam_search(scripted, src, 6, beam_size=2, length_penalty=0.6)
    if same(got, beam_search(scripted, src, 6, beam_size=2, length_penalty=0.0, use_cache=False)):
        return not_yet("the short hypothesis [EOS] won: its log P (-0.90) beats the long one's (-1.00), but "
                       "divided by the length penalty lp(4) = ((5 + 4) / 6)^0.6 = 1.28 the long one scores -0.78. "
                       "Rank finished hypotheses by log P / lp(|Y|)")
    problem = compare_tensors("beam_search(beam_size=2) on a scripted model", got, expected)
    if problem is not None:
        return problem
    model, sources = date_model()
    for i in range(sources.shape[0]):
        problem = compare_tensors(f"beam_search on date {i} of the trained date model",
                                  mine.beam.beam_search(model, sources[i:i + 1], 20),
                                  beam_search(model, sources[i:i + 1], 20))
        if problem is not None:
            return problem
    return correct("beam search with the length penalty of section 6.1, equal to the book's on every case.")
