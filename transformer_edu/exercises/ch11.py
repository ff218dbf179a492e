"""Checkers for chapter 11, training (paper sections 3.1 and 5.4)."""
from __future__ import annotations

import math

import torch

from ..label_smoothing import LabelSmoothingLoss
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet

BOS, EOS = 1, 2  # the ids of the book's tokenizers (transformer_edu.tokenizer)


def _call(fn, *args):
    """call_learner, showing tensor arguments by their values (they are small here)."""
    return call_learner(fn, *args, show_tensor=lambda t: f"tensor{tuple(t.tolist())}")


def _as_number(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


# --- Exercise 1: derivation: the floor of the label-smoothed loss --------------------------------------------

def _floor(vocab_size: int, eps: float, other: float | None = None, true: float | None = None) -> float:
    """-sum_k q(k) ln q(k) for a q with `true` on the label and `other` on each of the V - 1 other classes."""
    true = 1 - eps + eps / vocab_size if true is None else true
    other = eps / vocab_size if other is None else other
    return -true * math.log(true) - (vocab_size - 1) * other * math.log(other)


@checker
def check_loss_floor(floor_fn) -> Feedback:
    """`floor_fn(vocab_size, eps)` should return H(q) = -sum_k q(k) ln q(k), the smallest value the
    label-smoothed loss can take (reached when the model predicts p = q), for 0 < eps < 1."""
    cases = [(55, 0.1), (10, 0.1), (2, 0.3), (1000, 0.1), (37000, 0.1)]
    for vocab_size, eps in cases:
        expected = _floor(vocab_size, eps)
        got, error = _call(floor_fn, vocab_size, eps)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return H(q) as a number")
        value = _as_number(got)
        if value is None:
            return not_yet(f"floor_fn({vocab_size}, {eps}) should return one number, got {type(got).__name__}")
        if math.isclose(value, expected, rel_tol=1e-6):  # float32 arithmetic is fine
            continue
        head = f"floor_fn({vocab_size}, {eps}) returned {value:.6g}"
        answer = f"Expected {expected:.6g} for V = {vocab_size}, eps = {eps}."
        true = 1 - eps + eps / vocab_size
        known = [
            (0.0, "the loss with label smoothing cannot reach 0: q is not one-hot, so -sum q log p stays "
             "above H(q) = -sum q log q for every p"),
            (-expected, "the sign is flipped: H(q) = -sum_k q(k) ln q(k) is positive"),
            (expected / math.log(2), "that is in bits (log base 2); the loss uses the natural log, so H(q) is in nats"),
            (-true * math.log(true), "only the true class is counted: the V - 1 other classes, each with "
             "q = eps / V, add -(V - 1) (eps / V) ln(eps / V)"),
            (-true * math.log(true) - eps / vocab_size * math.log(eps / vocab_size), "the other classes are "
             "counted once: there are V - 1 of them, each adding -(eps / V) ln(eps / V)"),
            (_floor(vocab_size, eps, other=eps / (vocab_size - 1) if vocab_size > 1 else eps, true=1 - eps),
             "that q spreads eps over the V - 1 other classes and leaves 1 - eps on the label (Tensor2Tensor's "
             "convention); this chapter's q (Szegedy et al.'s, and PyTorch's) gives every class eps / V, so "
             "the label gets 1 - eps + eps / V"),
        ]
        for wrong, hint in known:
            if math.isclose(value, wrong, rel_tol=1e-6, abs_tol=1e-12):
                return not_yet(f"{head}: {hint}", answer=answer)
        return not_yet(f"{head}. q gives the label 1 - eps + eps / V and each of the V - 1 other classes eps / V; "
                       f"H(q) = -sum_k q(k) ln q(k)", answer=answer)
    return correct(f"for V = 55 and eps = 0.1 the floor is {_floor(55, 0.1):.4f} nats: the training loss in this "
                   f"chapter levels off just above it. For the paper's 37000-token vocabulary it is "
                   f"{_floor(37000, 0.1):.2f}.")


# --- Exercise 2: predict, then check: the loss of a model that knows nothing ----------------------------------

def _uniform_loss(vocab_size: int = 55, eps: float = 0.1) -> float:
    """The label-smoothed loss of all-equal logits (a uniform prediction) on a seeded batch of labels."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(4, vocab_size, (8, 11), generator=g)  # (B, T)
    logits = torch.zeros(8, 11, vocab_size)  # (B, T, V): softmax gives 1 / V to every token
    return float(LabelSmoothingLoss(eps, ignore_index=0)(logits, labels))


@checker
def check_uniform_prediction(prediction) -> Feedback:
    """`prediction`: the label-smoothed loss (eps = 0.1, V = 55) of a model whose logits are all equal."""
    value = _as_number(prediction)
    if value is None:
        return not_yet("write your prediction as one number (in nats), then run the cell")
    loss = _uniform_loss()
    result = f"The experiment gives {loss:.4f} nats, which is ln 55."
    if math.isclose(value, loss, rel_tol=0.02):
        return correct(f"{result} With p(k) = 1 / V for every k, -sum_k q(k) log p(k) = log V * sum_k q(k) = "
                       f"log V, whatever q is: label smoothing does not change the loss of a uniform guess. A "
                       f"training curve starts near ln V (if the initial logits are small) and falls towards the "
                       f"floor H(q), 0.71 here.")
    if math.isclose(value, _floor(55, 0.1), rel_tol=0.02):
        return not_yet("that is the floor H(q), the loss of the best prediction, p = q. A uniform p is far from "
                       "q: write H(q, p) with p(k) = 1 / V for every k", answer=result)
    if math.isclose(value, 0.9 * math.log(55), rel_tol=0.02) or math.isclose(value, 0.1 * math.log(55), rel_tol=0.02):
        return not_yet("only part of q was counted: q sums to 1 over all V tokens, and every p(k) is the same",
                       answer=result)
    return not_yet(f"you predicted {value:g}. Write H(q, p) = -sum_k q(k) log p(k) with p(k) = 1 / V for every "
                   f"k: what does the sum of q(k) come to?", answer=result)


# --- Exercise 3: find the bug in a label-smoothed loss --------------------------------------------------------

def buggy_label_smoothed_loss(logits, labels, eps=0.1, pad_id=0):
    """Label-smoothed cross-entropy, the mean over the positions whose label
    is not PAD. One bug."""
    V = logits.shape[-1]
    log_p = torch.log_softmax(logits.reshape(-1, V), dim=-1)  # (N, V)
    labels = labels.reshape(-1)  # (N,)
    nll = -log_p.gather(1, labels[:, None])[:, 0]  # (N,): -log p(y)
    uniform = -log_p.mean(dim=-1)  # (N,): -(1/V) sum_k log p(k)
    losses = (1 - eps) * nll + eps * uniform  # (N,): H(q, p) at each position
    keep = labels != pad_id  # (N,): the positions that count
    return (losses * keep).sum() / len(labels)


def _loss_case():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 6, 12, generator=g)  # (B, T, V)
    labels = torch.randint(4, 12, (3, 6), generator=g)  # (B, T)
    labels[1, 3:] = 0  # padding: 3 + 4 of the 18 labels are PAD
    labels[2, 2:] = 0
    return logits, labels


@checker
def check_loss_fix(loss_fn) -> Feedback:
    """`loss_fn(logits, labels, eps, pad_id)` should be buggy_label_smoothed_loss fixed: equal to
    LabelSmoothingLoss(eps, ignore_index=pad_id)."""
    logits, labels = _loss_case()
    for eps in (0.1, 0.0):
        expected = LabelSmoothingLoss(eps, ignore_index=0)(logits, labels)
        got, error = _call(loss_fn, logits.clone(), labels.clone(), eps, 0)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the loss, a tensor with one number")
        value = _as_number(got)
        if value is None:
            return not_yet(f"return one number (a 0-d tensor), got {type(got).__name__}")
        if math.isclose(value, float(buggy_label_smoothed_loss(logits, labels, eps, 0)), rel_tol=1e-6):
            return not_yet("this still has the bug: on a batch with padding your loss is too small, by the same "
                           "factor at every eps. Which positions does the sum count, and by how many does it "
                           "divide?", answer="The sum runs over the real positions only, so divide by their "
                           "number, keep.sum(), not by len(labels): (losses * keep).sum() / keep.sum().")
        k = LabelSmoothingLoss(eps, ignore_index=-100)(logits, labels)  # PAD counted as a label like any other
        if math.isclose(value, float(k), rel_tol=1e-6):
            return not_yet("the PAD positions are counted as if PAD were the right answer there: leave them out of "
                           "the sum and of the count")
        problem = compare_tensors(f"the loss with eps = {eps}", torch.as_tensor(value, dtype=torch.float64),
                                  expected.double(), atol=1e-5)
        if problem is not None:
            return problem
    return correct("the bug divided by all positions, PAD included, so padding made the loss look smaller (here "
                   "by a factor 11/18) and a batch's weight in training depended on its padding. Divide by the "
                   "number of real positions, as LabelSmoothingLoss and F.cross_entropy(ignore_index=PAD) do.")


# --- Exercise 4: teacher-forcing batches ----------------------------------------------------------------------

def _as_batch(value, name: str):
    """A 2-D long tensor from a tensor or a list of equal-length lists of ints, or a Feedback."""
    if isinstance(value, (list, tuple)):
        try:
            value = torch.tensor(value, dtype=torch.long)
        except (TypeError, ValueError) as exc:
            return not_yet(f"{name} should be one (B, T) tensor of ids (rows padded to the same length); "
                           f"torch.tensor could not make one from your lists: {exc}")
    if not isinstance(value, torch.Tensor):
        return not_yet(f"{name} should be a (B, T) tensor of token ids, got {type(value).__name__}")
    if value.dtype.is_floating_point or value.dtype == torch.bool or value.dim() != 2:
        return not_yet(f"{name} should be a (B, T) tensor of integer ids, got dtype {value.dtype} and shape "
                       f"{tuple(value.shape)}")
    return value


def _padded(rows: list[list[int]], pad_id: int, left: bool = False) -> list[list[int]]:
    width = max(len(r) for r in rows)
    return [[pad_id] * (width - len(r)) + r if left else r + [pad_id] * (width - len(r)) for r in rows]


@checker
def check_shift_batch(shift_fn) -> Feedback:
    """`shift_fn(targets, bos_id, eos_id, pad_id)` should turn a list of target id lists into the padded pair
    (decoder_input, labels), both (B, T) with T = longest target + 1: row b is BOS y_1 .. y_n PAD ... and
    y_1 .. y_n EOS PAD ..., as Seq2SeqBatch.tgt_in and .tgt_out."""
    pad = 0
    for targets in ([[5, 9, 4, 12], [7, 3], [13, 6, 6]], [[8], [10, 11, 4, 4, 9]]):
        expected_in = torch.tensor(_padded([[BOS] + t for t in targets], pad))  # (B, T)
        expected_out = torch.tensor(_padded([t + [EOS] for t in targets], pad))  # (B, T)
        got, error = _call(shift_fn, [list(t) for t in targets], BOS, EOS, pad)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the pair (decoder_input, labels)")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return not_yet(f"return a pair (decoder_input, labels), got {type(got).__name__}")
        decoder_in, labels = _as_batch(got[0], "decoder_input"), _as_batch(got[1], "labels")
        for part in (decoder_in, labels):
            if isinstance(part, Feedback):
                return part
        if torch.equal(decoder_in, expected_in) and torch.equal(labels, expected_out):
            continue
        where = (f"for targets {targets} (BOS = {BOS}, EOS = {EOS}, PAD = {pad}) you returned decoder_input "
                 f"{decoder_in.tolist()} and labels {labels.tolist()}")
        din, lab = decoder_in.tolist(), labels.tolist()
        if torch.equal(decoder_in, expected_out) and torch.equal(labels, expected_in):
            return not_yet(f"{where}: they are swapped. The decoder reads BOS first; the labels end with EOS")
        if din == lab:
            return not_yet(f"{where}: the labels equal the decoder input, so each position would learn to copy its "
                           f"own input. Shift by one: label t is the token AFTER input t")
        if din == expected_in.tolist() and lab == [r + [EOS] for r in _padded(targets, pad)]:
            return not_yet(f"{where}: EOS comes after the padding in the shorter rows. Append EOS to each target "
                           f"first, then pad: EOS must follow the target's last token")
        if din == _padded([[BOS] + t + [EOS] for t in targets], pad):
            return not_yet(f"{where}: the decoder input should not contain EOS (nothing is predicted after it): "
                           f"it is BOS followed by the target, padded")
        if lab == _padded(targets, pad) or lab == [r + [pad] for r in _padded(targets, pad)]:
            return not_yet(f"{where}: the labels lack EOS, so the model never learns to stop")
        if din == _padded(targets, pad) or din == [r + [pad] for r in _padded(targets, pad)]:
            return not_yet(f"{where}: the decoder input must start with BOS: at the first position the decoder has "
                           f"seen no target token yet")
        if (din == _padded([[BOS] + t for t in targets], pad, left=True)
                or lab == _padded([t + [EOS] for t in targets], pad, left=True)):
            return not_yet(f"{where}: pad on the right, after each sequence, as the book's batches do; "
                           f"then position t is the t-th token of every row")
        if decoder_in.shape == expected_in.shape and labels.shape == expected_out.shape:
            real_in, real_out = expected_in != pad, expected_out != pad
            if (torch.equal(decoder_in[real_in], expected_in[real_in])
                    and torch.equal(labels[real_out], expected_out[real_out])):
                return not_yet(f"{where}: the tokens are right but the padding is not: fill with pad_id = {pad}, "
                               f"the id the loss ignores and the masks hide")
        if decoder_in.shape != expected_in.shape or labels.shape != expected_out.shape:
            return not_yet(f"{where}: both should have shape (B, T) = {tuple(expected_in.shape)}, with T = longest "
                           f"target + 1; got {tuple(decoder_in.shape)} and {tuple(labels.shape)}")
        return not_yet(f"{where}. Build each row as BOS + target and target + EOS, then pad on the right",
                       answer=f"Expected {expected_in.tolist()} and {expected_out.tolist()}.")
    return correct("this is how make_batch builds Seq2SeqBatch.tgt_in and .tgt_out; the loss skips the PAD labels.")
