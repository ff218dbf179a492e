"""Checkers for chapter 16, a BERT from the encoder (the masked language model of Devlin et al. 2019).

None of these checkers needs a trained model or the network: the expected answers come from formulas, from a
small untrained BERT built here, and from BERT's input convention written out below.
"""
from __future__ import annotations

import math

import torch

from ..bert import BERT, IGNORE_INDEX, BERTConfig
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


# --- exercise 1: what the 80/10/10 rule does to a text -------------------------------------------------------

def _reference_shares(probability: float, n_ordinary: int) -> tuple[float, float, float]:
    return 0.8 * probability, 0.1 * probability * (1 - 1 / n_ordinary), 0.1 * probability * (1 + 1 / n_ordinary)


@checker
def check_corruption_shares(shares_fn) -> Feedback:
    """`shares_fn(probability, n_ordinary)` should return three fractions of ALL the ordinary tokens of a text:
    (shown as [MASK], replaced by a different token, left as they were although the loss asks for them), when
    round(probability x n) tokens are chosen and a random replacement is drawn among n_ordinary tokens."""
    cases = [(0.15, 85), (0.15, 30518), (0.4, 10), (1.0, 4)]
    for probability, n in cases:
        expected = _reference_shares(probability, n)
        try:
            got = shares_fn(probability, n)
        except Exception as exc:
            return not_yet(f"shares_fn({probability}, {n}) raised {exc!r}")
        try:
            got = tuple(float(x) for x in got)
        except (TypeError, ValueError):
            return not_yet(f"shares_fn({probability}, {n}) should return three numbers (masked, replaced, "
                           f"unchanged), got {got!r:.60}")
        if len(got) != 3:
            return not_yet(f"shares_fn should return three numbers (masked, replaced, unchanged), got {len(got)}")
        if all(math.isclose(g, e, abs_tol=1e-9) for g, e in zip(got, expected)):
            continue
        if all(math.isclose(g, e / probability, abs_tol=1e-9) for g, e in zip(got, expected)) or \
                math.isclose(got[0], 0.8, abs_tol=1e-9):
            return not_yet(f"for probability {probability} these are shares of the CHOSEN tokens; the question "
                           f"asks for shares of all the text's ordinary tokens, of which only a fraction "
                           f"`probability` is chosen")
        if math.isclose(got[1], 0.1 * probability, abs_tol=1e-9) and math.isclose(got[2], 0.1 * probability,
                                                                                   abs_tol=1e-9):
            return not_yet("the random token is drawn among all n_ordinary tokens, the original one included: "
                           "how often does the draw give back the token it replaces, and where does that case "
                           "belong?")
        if math.isclose(got[1], expected[1], abs_tol=1e-9) and not math.isclose(got[2], expected[2], abs_tol=1e-9):
            return not_yet("the 'replaced' share is right; a token whose random draw gave itself back is left as it "
                           "was, so it counts with the unchanged ones")
        if not math.isclose(sum(got), probability, abs_tol=1e-9):
            return not_yet(f"for probability {probability} your three shares add up to {sum(got):.4g}; every chosen "
                           f"token ends in exactly one of the three groups, so they add up to {probability}")
        return not_yet(f"shares_fn({probability}, {n}) returned {tuple(round(g, 6) for g in got)}; check each of "
                       f"the three cases against the 80/10/10 rule",
                       answer=f"Expected {tuple(round(e, 6) for e in expected)}.")
    return correct("with 15% chosen, 12% of the text is [MASK] and 1.5% is a random token, and the loss also asks "
                   "for 1.5% of tokens the model can see: it must check every input, not only the masks.")


# --- exercise 2: scoring a sentence with a masked language model ----------------------------------------------

def _reference_pll(model: BERT, ids: torch.Tensor, mask_id: int) -> torch.Tensor:
    length = ids.shape[1]
    batch = ids.repeat(length, 1)  # (S, S): row s will hide position s
    batch[torch.arange(length), torch.arange(length)] = mask_id
    log_probs = model(batch).log_softmax(dim=-1)  # (S, S, V)
    return log_probs[torch.arange(length), torch.arange(length), ids[0]].sum()  # sum over s of log p(u_s | rest)


def _small_bert(seed: int) -> BERT:
    torch.manual_seed(seed)
    config = BERTConfig.small(vocab_size=15, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=12,
                              share_embeddings=False)
    return BERT(config).double().eval()


@checker
def check_pseudo_log_likelihood(pll_fn) -> Feedback:
    """`pll_fn(model, ids, mask_id)` takes a BERT and one sentence ids (1, S) and should return the sum over the
    positions s of log P(ids[0, s] | the sentence with position s replaced by mask_id), as a number or a
    0-dimensional tensor."""
    model, mask_id = _small_bert(16), 4
    generator = torch.Generator().manual_seed(16)
    ids = torch.randint(5, 15, (1, 7), generator=generator)  # (1, S)
    with torch.no_grad():
        expected = _reference_pll(model, ids, mask_id)
        try:
            got = pll_fn(model, ids.clone(), mask_id)
        except Exception as exc:
            return not_yet(f"pll_fn(model, ids, mask_id) raised {exc!r}; ids has shape (1, S) = {tuple(ids.shape)}")
        log_probs = model(ids).log_softmax(dim=-1)[0, torch.arange(7), ids[0]]  # (S,): nothing hidden
        all_hidden = model(torch.full_like(ids, mask_id)).log_softmax(dim=-1)[0, torch.arange(7), ids[0]]
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            return not_yet(f"return one number for the sentence (the sum over its positions), got a tensor of shape "
                           f"{tuple(got.shape)}")
        got = got.item()
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return not_yet(f"return a number (or a 0-dimensional tensor), got {type(got).__name__}")
    if math.isclose(got, log_probs.sum().item(), rel_tol=1e-9):
        return not_yet("you scored every token while the model could see it: each position must be hidden "
                       "(replaced by mask_id) when it is scored, or the input gives the answer away")
    if math.isclose(got, all_hidden.sum().item(), rel_tol=1e-9):
        return not_yet("you hid every position at once, so the model saw no context at all: hide one position per "
                       "copy of the sentence, and score each copy only at its hidden position")
    if math.isclose(got, expected.item() / 7, rel_tol=1e-9):
        return not_yet("that is the mean over the positions; the pseudo-log-likelihood is their sum")
    if got > 0:
        return not_yet(f"got {got:.4g}, but a sum of log-probabilities is never positive: take log_softmax, not "
                       f"softmax or the raw logits")
    if not math.isclose(got, expected.item(), rel_tol=1e-6, abs_tol=1e-9):
        return not_yet(f"got {got:.6g}; check which position of which copy you read: copy s hides position s, and "
                       f"its score is log_softmax at position s for the true token ids[0, s]",
                       answer=f"Expected {expected.item():.6g}.")
    return correct("one forward pass per position, S passes for a sentence of S tokens: a masked language model "
                   "can score a sentence, but a GPT does it in one pass.")


# --- exercise 3: BERT's segment ids ---------------------------------------------------------------------------

def _reference_segments(ids: torch.Tensor, sep_id: int, pad_id: int) -> torch.Tensor:
    is_sep = (ids == sep_id).long()  # (B, S)
    after_first_sep = (is_sep.cumsum(dim=1) - is_sep) > 0  # (B, S): a [SEP] stands strictly to the left
    return (after_first_sep & (ids != pad_id)).long()  # (B, S)


CLS, SEP, PAD = 101, 102, 0  # BERT's uncased WordPiece ids, as in chapter 14's MiniLM


@checker
def check_segment_ids(segments_fn) -> Feedback:
    """`segments_fn(ids, sep_id, pad_id)` takes a batch ids (B, S) of "[CLS] A [SEP]" or "[CLS] A [SEP] B [SEP]"
    rows, right-padded with pad_id, and should return token_type_ids (B, S) as torch.long: 0 for [CLS], sentence
    A and the [SEP] that ends it, 1 for sentence B and its [SEP], 0 for padding (as BERT's tokenizer gives)."""
    ids = torch.tensor([[CLS, 7, 8, SEP, 9, 10, 11, SEP],
                        [CLS, 7, SEP, 9, SEP, PAD, PAD, PAD],
                        [CLS, 7, 8, 9, SEP, PAD, PAD, PAD],
                        [CLS, SEP, 12, SEP, PAD, PAD, PAD, PAD]])
    expected = _reference_segments(ids, SEP, PAD)
    try:
        got = segments_fn(ids.clone(), SEP, PAD)
    except Exception as exc:
        return not_yet(f"segments_fn(ids, sep_id, pad_id) raised {exc!r} on ids of shape {tuple(ids.shape)}")
    if isinstance(got, torch.Tensor) and got.shape == ids.shape and got.dtype != torch.long:
        return not_yet(f"return torch.long ids (an embedding table looks them up), got dtype {got.dtype}")
    if isinstance(got, torch.Tensor) and got.shape == ids.shape and not torch.equal(got, expected):
        is_sep = ids == SEP
        if torch.equal(got, (is_sep.long().cumsum(dim=1) > 0).long() * (ids != PAD)):
            return not_yet("the first [SEP] got 1: it closes sentence A and belongs to segment 0; segment 1 starts "
                           "after it")
        if torch.equal(got[ids != PAD], expected[ids != PAD]):
            return not_yet("the real tokens are right; padding should get 0 (its type does not matter to the "
                           "model, which never attends to it, but BERT's tokenizer writes 0)")
        if int(got.max()) > 1:
            return not_yet(f"BERT has two segments, so two ids (0 and 1); you returned ids up to {int(got.max())}: "
                           f"a second [SEP] ends sentence B, it does not start a third segment")
    problem = compare_tensors("segments_fn(ids, sep_id, pad_id)", got, expected, atol=0,
                              hint="0 up to and including the first [SEP], 1 after it, 0 at padding.")
    return problem if problem is not None else correct(
        "these are the token_type_ids a BERT tokenizer returns for a sentence pair; BERT adds a learned vector "
        "for each of the two ids to every token's embedding.")


# --- exercise 4: find the bug in a hand-written corruption ----------------------------------------------------

def buggy_corrupt(ids: torch.Tensor, mask_id: int, vocab_size: int,
                  generator: torch.Generator, probability: float = 0.15):
    """BERT's corruption, written by hand: ids (B, S) -> (inputs, labels).
    Ids 0 to 4 are the specials and the mask; 5 .. vocab_size - 1 are ordinary.
    (Exercise 4: this version has a bug.)"""
    chosen = torch.rand(ids.shape, generator=generator) < probability  # (B, S)
    u = torch.rand(ids.shape, generator=generator)  # (B, S): which of 80/10/10
    drawn = torch.randint(5, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (u < 0.8), mask_id, ids)  # 80%: the mask
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), drawn, inputs)  # 10%
    labels = ids.clone()  # (B, S): what the loss asks for
    return inputs, labels


def _fixed_corrupt(ids, mask_id, vocab_size, generator, probability=0.15):
    chosen = torch.rand(ids.shape, generator=generator) < probability
    u = torch.rand(ids.shape, generator=generator)
    drawn = torch.randint(5, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (u < 0.8), mask_id, ids)
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), drawn, inputs)
    return inputs, torch.where(chosen, ids, IGNORE_INDEX), chosen


@checker
def check_corrupt(corrupt_fn) -> Feedback:
    """`corrupt_fn(ids, mask_id, vocab_size, generator)` should corrupt as buggy_corrupt does, with the same draws
    in the same order, and return labels that hold the original id at the chosen positions only (IGNORE_INDEX,
    -100, elsewhere), whatever became of the chosen token."""
    ids = torch.randint(5, 30, (8, 40), generator=torch.Generator().manual_seed(16))  # (B, S) ordinary ids
    mask_id, vocab_size = 4, 30
    got, error = call_learner(corrupt_fn, ids.clone(), mask_id, vocab_size, torch.Generator().manual_seed(0))
    if error is not None:
        return error
    if got is None:
        return not_yet("your function returned None: return the pair (inputs, labels)")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return not_yet(f"return a pair (inputs, labels), got {type(got).__name__}")
    inputs, labels = got
    expected_inputs, expected_labels, chosen = _fixed_corrupt(ids, mask_id, vocab_size,
                                                              torch.Generator().manual_seed(0))
    problem = compare_tensors("inputs", inputs, expected_inputs, atol=0)
    if problem is not None:
        return not_yet(problem.message + " The inputs of buggy_corrupt are right: keep its draws, in the same "
                                         "order, and change only what is wrong.")
    if not isinstance(labels, torch.Tensor) or labels.shape != ids.shape:
        return not_yet(f"labels should be a tensor of the shape of ids, {tuple(ids.shape)}")
    if torch.equal(labels, ids):
        return not_yet("still the bug of buggy_corrupt: the loss asks for every token, and most of them stand "
                       "unchanged in the input. What would the model learn to do at those positions?")
    if torch.equal(labels, torch.where(expected_inputs == mask_id, ids, IGNORE_INDEX)):
        return not_yet("the labels keep only the positions shown as the mask. The loss must also ask for the "
                       "chosen tokens that were replaced by a random token or left unchanged: otherwise the model "
                       "learns that a visible token is always right")
    if torch.equal(labels, torch.where(chosen, IGNORE_INDEX, ids)):
        return not_yet("the labels are the wrong way round: they ask for the tokens that were NOT chosen")
    if torch.equal(labels != IGNORE_INDEX, chosen) and not torch.equal(labels[chosen], ids[chosen]):
        return not_yet("the right positions carry labels, but not the original ids: a label is the token that "
                       "was there before the corruption, not what the input shows now")
    problem = compare_tensors("labels", labels, expected_labels, atol=0)
    if problem is not None:
        return not_yet(problem.message + " A label is the original id where the token was chosen, IGNORE_INDEX "
                                         "(-100) everywhere else.")
    return correct("labels only at the chosen positions, all three kinds of them: the loss asks about 15% of the "
                   "tokens, including 1.5% the model sees unchanged, and nothing about the rest. With labels "
                   "everywhere, most of the loss would reward copying the input.")
