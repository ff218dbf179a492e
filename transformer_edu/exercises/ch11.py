"""Checkers for chapter 11, training (paper sections 3.1, 5.3 and 5.4)."""
from __future__ import annotations

import math

import torch

from ..training import noam_lr
from ._check import Feedback, call_learner, correct, not_yet

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


def _noam_variants(step: int, d_model: int, warmup: int) -> list[tuple[float, str]]:
    """Equation 3 with one typical mistake each, and what to say about it."""
    warm, decay = step * warmup ** -1.5, step ** -0.5
    return [
        (d_model ** -0.5 * max(decay, warm), "use min, not max: the rate is the smaller of the rising line "
         "step * warmup_steps^-1.5 and the falling curve step^-0.5 (the two meet at step = warmup_steps)"),
        (min(decay, warm), "the factor d_model^-0.5 is missing: multiply the min(...) by d_model ** -0.5"),
        (d_model ** 0.5 * min(decay, warm), "the exponent of d_model is -0.5, not 0.5: a wider model gets a "
         "smaller learning rate"),
        (d_model ** -0.5 * min(decay, step * warmup ** -0.5), "the warm-up term is step * warmup_steps ** -1.5 "
         "(exponent -1.5, not -0.5), so that both terms equal warmup_steps^-0.5 at step = warmup_steps"),
        (d_model ** -0.5 * warm, "your rate keeps rising after warmup_steps: after the warm-up it should decay "
         "as step^-0.5, which is what the min(...) does"),
        (d_model ** -0.5 * decay, "there is no warm-up: for step < warmup_steps the rate should rise "
         "linearly, step * warmup_steps^-1.5; take the min of the two terms"),
        (noam_lr(step + 1, d_model, warmup), "you are one step ahead (step + 1): the paper counts steps from 1, "
         "so use step as given"),
    ]


def check_noam_lr(lr_fn) -> Feedback:
    """`lr_fn(step, d_model, warmup_steps)` should return equation 3's learning rate
    d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5), for steps counted from 1."""
    cases = [(1, 512, 4000), (100, 512, 4000), (4000, 512, 4000), (20000, 512, 4000), (100000, 512, 4000),
             (50, 64, 400), (400, 64, 400), (1500, 64, 400)]
    values = []
    for step, d_model, warmup in cases:
        got, error = _call(lr_fn, step, d_model, warmup)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the learning rate as a number")
        value = _as_number(got)
        if value is None:
            return not_yet(f"lr_fn({step}, {d_model}, {warmup}) should return one number, got {type(got).__name__}")
        values.append(value)
    expected = [noam_lr(*case) for case in cases]
    wrong_at = [i for i, (v, e) in enumerate(zip(values, expected)) if not math.isclose(v, e, rel_tol=1e-9)]
    if not wrong_at:
        return correct("with d_model = 512 and warmup_steps = 4000 the rate peaks at step 4000 at about 7.0e-4, "
                       "as in the paper's schedule.")
    i = wrong_at[0]
    (step, d_model, warmup), value = cases[i], values[i]
    head = f"lr_fn({step}, {d_model}, {warmup}) returned {value:.4g}, expected {expected[i]:.4g}"
    variants = [_noam_variants(*case) for case in cases]  # [case][variant] -> (value, hint)
    for k, (_, hint) in enumerate(variants[0]):
        if all(math.isclose(v, variants[c][k][0], rel_tol=1e-9) for c, v in enumerate(values)):
            return not_yet(f"{head}: {hint}")
    return not_yet(f"{head}. Equation 3: d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)")


def _floor(vocab_size: int, eps: float, other: float | None = None, true: float | None = None) -> float:
    """-sum_k q(k) ln q(k) for a q with `true` on the label and `other` on each of the V - 1 other classes."""
    true = 1 - eps + eps / vocab_size if true is None else true
    other = eps / vocab_size if other is None else other
    return -true * math.log(true) - (vocab_size - 1) * other * math.log(other)


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
        head = f"floor_fn({vocab_size}, {eps}) returned {value:.6g}, expected {expected:.6g}"
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
             "that q spreads eps over the V - 1 other classes and leaves 1 - eps on the label (fairseq's "
             "variant); the paper's label smoothing (Szegedy et al.) gives every class eps / V, so the label "
             "gets 1 - eps + eps / V"),
        ]
        for wrong, hint in known:
            if math.isclose(value, wrong, rel_tol=1e-6, abs_tol=1e-12):
                return not_yet(f"{head}: {hint}")
        return not_yet(f"{head}. q gives the label 1 - eps + eps / V and each of the V - 1 other classes eps / V; "
                       f"H(q) = -sum_k q(k) ln q(k)")
    return correct(f"for V = 55 and eps = 0.1 the floor is {_floor(55, 0.1):.4f} nats: the training loss in this "
                   f"chapter levels off just above it. For the paper's 37000-token vocabulary it is "
                   f"{_floor(37000, 0.1):.2f}.")


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
        return not_yet(f"{where}; expected {expected_in.tolist()} and {expected_out.tolist()}")
    return correct("this is how make_batch builds Seq2SeqBatch.tgt_in and .tgt_out; the loss skips the PAD labels.")
