import math

import pytest
import torch

from transformer_edu.data import make_batch
from transformer_edu.exercises import ch11
from transformer_edu.tokenizer import WordTokenizer
from transformer_edu.training import LabelSmoothingLoss, noam_lr


def good_lr(step, d_model, warmup_steps):
    return d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


@pytest.mark.parametrize("wrong, words", [
    (lambda s, d, w: d ** -0.5 * max(s ** -0.5, s * w ** -1.5), "use min, not max"),
    (lambda s, d, w: min(s ** -0.5, s * w ** -1.5), "d_model^-0.5 is missing"),
    (lambda s, d, w: d ** 0.5 * min(s ** -0.5, s * w ** -1.5), "not 0.5"),
    (lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** -0.5), "exponent -1.5"),
    (lambda s, d, w: d ** -0.5 * s * w ** -1.5, "keeps rising"),
    (lambda s, d, w: d ** -0.5 * s ** -0.5, "no warm-up"),
    (lambda s, d, w: good_lr(s + 1, d, w), "step + 1"),
    (lambda s, d, w: None, "returned None"),
    (lambda s, d, w: [good_lr(s, d, w)], "one number"),
    (lambda s, d, w: 1 / 0, "raised"),
    (lambda s, d, w: 2 * good_lr(s, d, w), "Equation 3"),
])
def test_noam_lr_checker(wrong, words):
    assert ch11.check_noam_lr(good_lr)
    feedback = ch11.check_noam_lr(wrong)
    assert not feedback and words in feedback.message


def test_noam_lr_checker_accepts_package_and_tensor_results():
    assert ch11.check_noam_lr(noam_lr)
    assert ch11.check_noam_lr(lambda s, d, w: torch.tensor(good_lr(s, d, w), dtype=torch.float64))


def good_floor(vocab_size, eps):
    true, other = 1 - eps + eps / vocab_size, eps / vocab_size
    return -true * math.log(true) - (vocab_size - 1) * other * math.log(other)


def entropy_of_package_q(vocab_size, eps):
    q = LabelSmoothingLoss(eps).smoothed_target(torch.tensor([0]), vocab_size).double()[0]  # (V,)
    return float(-(q * q.log()).sum())


def loss_at_p_equals_q(vocab_size, eps):
    q = LabelSmoothingLoss(eps).smoothed_target(torch.tensor([1]), vocab_size).double()  # (1, V)
    return LabelSmoothingLoss(eps)(q.log(), torch.tensor([1]))  # logits log q: softmax gives q back


@pytest.mark.parametrize("wrong, words", [
    (lambda v, e: 0.0, "cannot reach 0"),
    (lambda v, e: -good_floor(v, e), "sign is flipped"),
    (lambda v, e: good_floor(v, e) / math.log(2), "bits"),
    (lambda v, e: -(1 - e + e / v) * math.log(1 - e + e / v), "only the true class"),
    (lambda v, e: -(1 - e + e / v) * math.log(1 - e + e / v) - e / v * math.log(e / v), "counted once"),
    (lambda v, e: -(1 - e) * math.log(1 - e) - e * math.log(e / (v - 1)), "fairseq"),
    (lambda v, e: None, "returned None"),
    (lambda v, e: "0.71", "one number"),
    (lambda v, e: math.log(-1), "raised"),
    (lambda v, e: good_floor(v, e) + 0.01, "H(q) = -sum_k"),
])
def test_loss_floor_checker(wrong, words):
    assert ch11.check_loss_floor(good_floor)
    feedback = ch11.check_loss_floor(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_loss_floor_checker_agrees_with_the_package_loss():
    assert ch11.check_loss_floor(entropy_of_package_q)
    assert ch11.check_loss_floor(loss_at_p_equals_q)


def pad_rows(rows, pad_id, left=False):
    width = max(len(r) for r in rows)
    return [[pad_id] * (width - len(r)) + r if left else r + [pad_id] * (width - len(r)) for r in rows]


def good_shift(targets, bos_id, eos_id, pad_id):
    return (torch.tensor(pad_rows([[bos_id] + t for t in targets], pad_id)),
            torch.tensor(pad_rows([t + [eos_id] for t in targets], pad_id)))


def make_batch_shift(targets, bos_id, eos_id, pad_id):
    """The package's batching, on targets written as space-separated pieces of a word tokenizer."""
    tokenizer = WordTokenizer([str(i) for i in range(4, 20)])  # ids 4.. for the pieces "4".."19"
    texts = [" ".join(str(i) for i in t) for t in targets]
    batch = make_batch([(text, text) for text in texts], tokenizer, tokenizer)
    return batch.tgt_in, batch.tgt_out


@pytest.mark.parametrize("wrong, words", [
    (lambda t, b, e, p: good_shift(t, b, e, p)[::-1], "swapped"),
    (lambda t, b, e, p: (good_shift(t, b, e, p)[0], good_shift(t, b, e, p)[0]), "copy its"),
    (lambda t, b, e, p: (good_shift(t, b, e, p)[0], [r + [e] for r in pad_rows(t, p)]), "after the padding"),
    (lambda t, b, e, p: (pad_rows([[b] + r + [e] for r in t], p), good_shift(t, b, e, p)[1]),
     "should not contain EOS"),
    (lambda t, b, e, p: (good_shift(t, b, e, p)[0], pad_rows(t, p)), "lack EOS"),
    (lambda t, b, e, p: (pad_rows(t, p), good_shift(t, b, e, p)[1]), "start with BOS"),
    (lambda t, b, e, p: (pad_rows([[b] + r for r in t], p, left=True), pad_rows([r + [e] for r in t], p, left=True)),
     "pad on the right"),
    (lambda t, b, e, p: (pad_rows([[b] + r for r in t], -100), pad_rows([r + [e] for r in t], -100)), "padding"),
    (lambda t, b, e, p: ([[b] + r for r in t], [r + [e] for r in t]), "padded to the same length"),
    (lambda t, b, e, p: (good_shift(t, b, e, p)[0].float(), good_shift(t, b, e, p)[1]), "integer ids"),
    (lambda t, b, e, p: None, "returned None"),
    (lambda t, b, e, p: good_shift(t, b, e, p)[0], "pair"),
    (lambda t, b, e, p: good_shift([r[::-1] for r in t], b, e, p), "expected"),
])
def test_shift_batch_checker(wrong, words):
    assert ch11.check_shift_batch(good_shift)
    feedback = ch11.check_shift_batch(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_shift_batch_checker_agrees_with_make_batch():
    assert ch11.check_shift_batch(make_batch_shift)
