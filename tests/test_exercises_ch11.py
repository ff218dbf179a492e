import math

import pytest
import torch

from transformer_edu.data import make_batch
from transformer_edu.exercises import ch11
from transformer_edu.tokenizer import WordTokenizer
import json
from pathlib import Path

import transformer_edu
from transformer_edu.exercises._check import reset_tries
from transformer_edu.training import LabelSmoothingLoss, noam_lr


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()



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
    (lambda v, e: -(1 - e) * math.log(1 - e) - e * math.log(e / (v - 1)), "Tensor2Tensor"),
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
    (lambda t, b, e, p: good_shift([r[::-1] for r in t], b, e, p), "then pad on the right"),
])
def test_shift_batch_checker(wrong, words):
    assert ch11.check_shift_batch(good_shift)
    feedback = ch11.check_shift_batch(wrong)
    assert not feedback and words in feedback.message, feedback.message


def test_shift_batch_checker_agrees_with_make_batch():
    assert ch11.check_shift_batch(make_batch_shift)


def test_loss_floor_hides_the_value_until_the_third_try():
    wrong = lambda v, e: good_floor(v, e) + 0.01  # noqa: E731
    first = ch11.check_loss_floor(wrong)
    assert "Expected" not in first.message and "0.7127" not in first.message
    ch11.check_loss_floor(wrong)
    assert "Expected 0.712" in ch11.check_loss_floor(wrong).message


def test_shift_batch_hides_the_expected_rows_at_first():
    wrong = lambda t, b, e, p: good_shift([r[::-1] for r in t], b, e, p)  # noqa: E731
    first = ch11.check_shift_batch(wrong)
    assert "Expected" not in first.message
    ch11.check_shift_batch(wrong)
    assert "Expected" in ch11.check_shift_batch(wrong).message


def test_uniform_prediction():
    assert math.isclose(ch11._uniform_loss(), math.log(55), rel_tol=1e-6)
    assert ch11.check_uniform_prediction(math.log(55))
    assert ch11.check_uniform_prediction(4.0)
    for wrong, words in [(0.71, "floor"), (0.9 * math.log(55), "only part"), (1.0, "sum of q")]:
        reset_tries()
        feedback = ch11.check_uniform_prediction(wrong)
        assert not feedback and words in feedback.message and "4.007" not in feedback.message
    assert "one number" in ch11.check_uniform_prediction(None).message


def fixed_loss(logits, labels, eps=0.1, pad_id=0):
    V = logits.shape[-1]
    log_p = torch.log_softmax(logits.reshape(-1, V), dim=-1)
    labels = labels.reshape(-1)
    losses = (1 - eps) * -log_p.gather(1, labels[:, None])[:, 0] + eps * -log_p.mean(dim=-1)
    keep = labels != pad_id
    return (losses * keep).sum() / keep.sum()


def test_buggy_loss_is_wrong_and_the_fix_is_right():
    logits, labels = ch11._loss_case()
    expected = LabelSmoothingLoss(0.1, ignore_index=0)(logits, labels)
    assert not torch.allclose(ch11.buggy_label_smoothed_loss(logits, labels), expected)
    torch.testing.assert_close(fixed_loss(logits, labels), expected)
    assert ch11.check_loss_fix(fixed_loss)
    assert ch11.check_loss_fix(lambda lo, la, eps, pad: torch.nn.functional.cross_entropy(
        lo.reshape(-1, lo.shape[-1]), la.reshape(-1), label_smoothing=eps, ignore_index=pad))


def test_loss_fix_feedback():
    first = ch11.check_loss_fix(ch11.buggy_label_smoothed_loss)
    assert not first and "still has the bug" in first.message and "keep.sum()" not in first.message
    ch11.check_loss_fix(ch11.buggy_label_smoothed_loss)
    assert "keep.sum()" in ch11.check_loss_fix(ch11.buggy_label_smoothed_loss).message
    reset_tries()
    pad_counted = ch11.check_loss_fix(lambda lo, la, eps, pad: LabelSmoothingLoss(eps, ignore_index=-100)(lo, la))
    assert "PAD positions are counted" in pad_counted.message
    assert "returned None" in ch11.check_loss_fix(lambda lo, la, eps, pad: None).message


def test_quiz_numbers_match_the_package():
    path = Path(transformer_edu.__file__).parent / "quizzes" / "ch11.json"
    quiz = {q["id"]: q for q in json.loads(path.read_text())["questions"]}
    assert abs(quiz["floor"]["answer"] - entropy_of_package_q(55, 0.1)) < quiz["floor"]["tolerance"]
    assert abs(quiz["peak-lr"]["answer"] - noam_lr(4000, 512, 4000)) < quiz["peak-lr"]["tolerance"]
    assert noam_lr(4000, 512, 4000) == max(noam_lr(s, 512, 4000) for s in (3999, 4000, 4001))
    q = LabelSmoothingLoss(0.1).smoothed_target(torch.tensor([5]), 55)[0]
    assert math.isclose(float(q[0]), 0.1 / 55, rel_tol=1e-6)  # PAD (id 0) gets eps / V, as the quiz says
