"""Checkers for chapter 2, tokenization (paper section 5.1)."""
from __future__ import annotations

import torch

from ..bpe import BPETokenizer
from ..tokenizer import SPECIAL_TOKENS, CharTokenizer
from ._check import Feedback, checker, compare_tensors, correct, not_yet


def _merge_everywhere(pieces: list[str], left: str, right: str) -> list[str]:
    out, i = [], 0
    while i < len(pieces):
        if i + 1 < len(pieces) and pieces[i] == left and pieces[i + 1] == right:
            out.append(left + right)
            i += 2
        else:
            out.append(pieces[i])
            i += 1
    return out


def reference_apply_merges(word: str, merges) -> list[str]:
    """Start from the characters of `word`; apply each merge, in order, at every place it matches (left to right)."""
    pieces = list(word)
    for left, right in merges:
        pieces = _merge_everywhere(pieces, left, right)
    return pieces


def _first_occurrence_only(word: str, merges) -> list[str]:
    pieces = list(word)
    for left, right in merges:
        for i in range(len(pieces) - 1):
            if pieces[i] == left and pieces[i + 1] == right:
                pieces = pieces[:i] + [left + right] + pieces[i + 2:]
                break
    return pieces


def _right_to_left(word: str, merges) -> list[str]:
    pieces = list(word)
    for left, right in merges:
        i = len(pieces) - 1
        while i > 0:
            if pieces[i - 1] == left and pieces[i] == right:
                pieces[i - 1:i + 1] = [left + right]
                i -= 2
            else:
                i -= 1
    return pieces


def _ignoring_order(word: str, merges) -> list[str]:
    """Merge whichever listed pair matches first in the word, scanning left to right, until none matches."""
    pairs, pieces = set(map(tuple, merges)), list(word)
    changed = True
    while changed:
        changed = False
        for i in range(len(pieces) - 1):
            if (pieces[i], pieces[i + 1]) in pairs:
                pieces[i:i + 2] = [pieces[i] + pieces[i + 1]]
                changed = True
                break
    return pieces


def buggy_apply_merges(word: str, merges) -> list[str]:
    """The pieces BPE gives `word`: start from its characters and apply
    each merge (left, right), in the order learned."""
    pieces = list(word)
    for left, right in merges:
        for i in range(len(pieces) - 1):
            if pieces[i] == left and pieces[i + 1] == right:
                pieces[i:i + 2] = [left + right]
                break  # the list is now shorter: stop before i runs past its end
    return pieces


# (word, merges): each case exposes one typical mistake
MERGE_CASES = [
    ("lower", [("l", "o"), ("lo", "w"), ("e", "r")]),
    ("aaaa", [("a", "a")]),  # every occurrence, not only the first
    ("aaa", [("a", "a")]),  # left to right: "aa" + "a"
    ("abc", [("b", "c"), ("a", "b")]),  # order: (b, c) is learned first, so (a, b) never matches
    ("banana", [("a", "n"), ("an", "a"), ("b", "an")]),
    (" thither", [(" ", "t"), ("h", "i"), ("t", "h"), (" t", "hi"), ("e", "r"), ("th", "er")]),
]


@checker
def check_apply_merges(apply_merges) -> Feedback:
    """`apply_merges(word, merges)` returns the list of pieces BPE gives `word` with these ordered merges."""
    for word, merges in MERGE_CASES:
        expected = reference_apply_merges(word, merges)
        case = f"apply_merges({word!r}, {merges})"
        try:
            got = apply_merges(word, [tuple(m) for m in merges])
        except Exception as exc:  # the learner's code may fail in any way
            return not_yet(f"{case} raised {exc!r}")
        if got is None:
            return not_yet(f"{case} returned None: return the list of pieces (a list of str)")
        if isinstance(got, str):
            return not_yet(f"{case} returned the string {got!r}; return the list of pieces, one str each")
        if not isinstance(got, (list, tuple)) or not all(isinstance(p, str) for p in got):
            return not_yet(f"{case} should return a list of str pieces, got {got!r}")
        got = list(got)
        if got == expected:
            continue
        if "".join(got) != word:
            return not_yet(f"{case}: the pieces {got} do not join back to {word!r}. Merging only glues "
                           f"neighbouring pieces together; no character is added or lost.")
        reveal = f"Expected {expected}."
        if got == _first_occurrence_only(word, merges):
            return not_yet(f"{case} gave {got}: this is still the bug of buggy_apply_merges. Look at what happens "
                           f"when the pair of a merge occurs more than once in a word.", answer=reveal)
        if got == _right_to_left(word, merges):
            return not_yet(f"{case} gave {got}: the pieces are right but grouped from the wrong end. Scan the "
                           f"word from left to right.", answer=reveal)
        if got == _ignoring_order(word, merges):
            return not_yet(f"{case} gave {got}: apply the merges one after another in the order of the list "
                           f"(the order they were learned), not whichever pair matches first in the word.",
                           answer=reveal)
        return not_yet(f"{case} gave {got}, not what BPE gives. Start from single characters and apply each merge "
                       f"in turn to the result of the previous one.", answer=reveal)
    return correct(f"all {len(MERGE_CASES)} words are cut as BPE cuts them: merges in the order learned, each "
                   f"applied everywhere, left to right.")


SPECIAL_TOKEN_SITUATIONS = {
    "the first input position of the decoder": (
        "<bos>", "the decoder's input is the output shifted right by one position, so it starts with a marker "
                 "that says 'the output begins here'"),
    "filling a short sentence up to the longest one in its batch": (
        "<pad>", "a batch is one rectangular tensor; the filler must be a token that masks and the loss can "
                 "ignore"),
    "a word tokenizer meets a word it never saw in training": (
        "<unk>", "a piece that has no entry in the vocabulary can only be given the catch-all id"),
    "the model signals that the translation is complete": (
        "<eos>", "generation stops when the model produces the token that marks the end of a sequence"),
}


@checker
def check_special_tokens(answers) -> Feedback:
    """`answers` maps each situation of SPECIAL_TOKEN_SITUATIONS to one of "<pad>", "<bos>", "<eos>", "<unk>"."""
    if not isinstance(answers, dict):
        return not_yet(f"give a dict situation -> token, got {type(answers).__name__}")
    given = {str(k).strip().lower(): v for k, v in answers.items()}
    missing = [s for s in SPECIAL_TOKEN_SITUATIONS if s not in given]
    if missing:
        return not_yet(f"the dict needs exactly these situations as keys; missing: {missing}")
    unanswered = [s for s in SPECIAL_TOKEN_SITUATIONS if given[s] is None]
    if unanswered:
        return not_yet(f"{len(unanswered)} of {len(SPECIAL_TOKEN_SITUATIONS)} situations have no answer yet "
                       f"(None), e.g. {unanswered[0]!r}")
    wrong = []
    for situation, (token, why) in SPECIAL_TOKEN_SITUATIONS.items():
        answer = given[situation]
        if not isinstance(answer, str) or answer.strip().lower() not in SPECIAL_TOKENS:
            return not_yet(f"for {situation!r} answer one of {list(SPECIAL_TOKENS)}, got {answer!r}")
        if answer.strip().lower() != token:
            wrong.append(f"{situation!r}: not {answer.strip()}; {why}")
    if wrong:
        reveal = "Expected: " + "; ".join(f"{s!r}: {t}" for s, (t, _) in SPECIAL_TOKEN_SITUATIONS.items()) + "."
        return not_yet(f"{len(wrong)} of {len(SPECIAL_TOKEN_SITUATIONS)} wrong. " + " | ".join(wrong), answer=reveal)
    return correct("<bos> starts the shifted decoder input, <pad> fills batches, <unk> replaces unknown pieces, "
                   "<eos> ends a sequence.")


_BATCH_CORPUS = "to be or not to be that is the question whether tis nobler in the mind to suffer"
_BATCH_TEXTS = ["to be", "or not to be", "the question"]


def _reference_batch(tokenizer, texts) -> torch.Tensor:
    encoded = [[tokenizer.bos_id] + tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]
    longest = max(len(ids) for ids in encoded)
    return torch.tensor([ids + [tokenizer.pad_id] * (longest - len(ids)) for ids in encoded], dtype=torch.long)


@checker
def check_make_batch(make_batch) -> Feedback:
    """`make_batch(tokenizer, texts)` -> (len(texts), L) long tensor: <bos> ids <eos>, padded at the end with <pad>."""
    tokenizers = {"a CharTokenizer": CharTokenizer.train(_BATCH_CORPUS),
                  "a BPETokenizer": BPETokenizer.train(_BATCH_CORPUS, vocab_size=280)}
    for name, tokenizer in tokenizers.items():
        expected = _reference_batch(tokenizer, _BATCH_TEXTS)
        case = f"make_batch({name}, {_BATCH_TEXTS})"
        try:
            got = make_batch(tokenizer, list(_BATCH_TEXTS))
        except Exception as exc:  # the learner's code may fail in any way
            return not_yet(f"{case} raised {exc!r}")
        if not isinstance(got, torch.Tensor):
            return not_yet(f"{case} should return a torch.Tensor, got {type(got).__name__}")
        if got.dtype != torch.long:
            return not_yet(f"{case}: token ids must have dtype torch.long (embedding lookups need integers), "
                           f"got {got.dtype}")
        rows, width = expected.shape
        if got.dim() == 2 and got.shape[0] == rows and got.shape[1] == width - 2:
            return not_yet(f"{case} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}: every "
                           f"sequence needs <bos> (id {tokenizer.bos_id}) in front and <eos> "
                           f"(id {tokenizer.eos_id}) after its tokens")
        if got.dim() == 2 and got.shape[0] == rows and got.shape[1] == width - 1:
            return not_yet(f"{case} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}: each sequence "
                           f"needs both <bos> at the start and <eos> at the end")
        if tuple(got.shape) != tuple(expected.shape):
            return not_yet(f"{case} should have shape {tuple(expected.shape)} (texts x longest length with "
                           f"<bos> and <eos>), got {tuple(got.shape)}")
        if torch.equal(got, expected):
            continue
        if not torch.all(got[:, 0] == tokenizer.bos_id):
            if torch.all(got[:, -1] != tokenizer.pad_id) and (got == tokenizer.pad_id).any():
                return not_yet(f"{case}: the padding is at the start of the rows; put <pad> at the end, after "
                               f"<eos>, so that every sequence starts at position 0")
            return not_yet(f"{case}: every row must start with <bos> (id {tokenizer.bos_id}), got first column "
                           f"{got[:, 0].tolist()}")
        fill = got[expected == tokenizer.pad_id]
        if fill.numel() and not torch.all(fill == tokenizer.pad_id):
            return not_yet(f"{case}: fill the empty positions with <pad> (id {tokenizer.pad_id}), got ids "
                           f"{sorted(set(fill.tolist()))} there")
        problem = compare_tensors(case, got, expected, atol=0,
                                  hint="Each row: <bos>, the tokens of encode(text), <eos>, then <pad> up to the "
                                       "longest row.")
        problem = problem if problem is not None else not_yet(f"{case} is not the expected batch")
        return not_yet(problem.message, answer=f"Expected {expected.tolist()}.")
    pads = int((expected == tokenizers["a BPETokenizer"].pad_id).sum())
    return correct(f"<bos> tokens <eos>, padded at the end. In the BPE test batch of shape {tuple(expected.shape)}, "
                   f"{pads} of {expected.numel()} positions are <pad>: masks keep attention away from them.")


def attention_cost_ratio(char_tokenizer, bpe_tokenizer, text: str) -> tuple[float, float]:
    """(length ratio, attention-score ratio) of `text` cut into lines, one sequence per line: total tokens with
    characters / with BPE, and the total of n^2 (query-key pairs per sequence) with characters / with BPE."""
    lines = [line for line in text.splitlines() if line]
    chars = [len(char_tokenizer.encode(line)) for line in lines]
    pieces = [len(bpe_tokenizer.encode(line)) for line in lines]
    return sum(chars) / sum(pieces), sum(n * n for n in chars) / sum(n * n for n in pieces)


@checker
def check_attention_cost_prediction(prediction, char_tokenizer, bpe_tokenizer, text) -> Feedback:
    """`prediction`: how many times more attention scores (query-key pairs) `text`, one sequence per line, costs
    with the character tokenizer than with the BPE tokenizer. Measures it and compares (within 25%)."""
    if prediction is None:
        return not_yet("write your prediction first: a number (how many times more).")
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)) or not prediction > 0:
        return not_yet(f"the prediction should be a positive number, got {prediction!r}.")
    length_ratio, cost_ratio = attention_cost_ratio(char_tokenizer, bpe_tokenizer, text)
    measured = (f"Measured: the lines are {length_ratio:.2f} times longer in characters, and cost "
                f"{cost_ratio:.2f} times more query-key pairs.")
    if abs(prediction / cost_ratio - 1) <= 0.25:
        return correct(f"{measured[0].lower()}{measured[1:]} Self-attention scores every pair of positions, n^2 "
                       f"per sequence, so the cost grows with the square of the length ratio ({length_ratio:.2f}^2 = "
                       f"{length_ratio ** 2:.2f}); the total differs a little from that because the ratio is not "
                       f"the same on every line, and long lines weigh more in a sum of squares.")
    if abs(prediction / length_ratio - 1) <= 0.2:
        return not_yet("that is about how much longer the sequences get. But self-attention compares every position "
                       "with every other: how does its cost grow with the length?", answer=measured)
    if prediction < cost_ratio:
        return not_yet("the measurement is higher. Estimate the length ratio from the tokens per word measured in "
                       "this chapter, then ask how self-attention's cost grows with the length.", answer=measured)
    return not_yet("the measurement is lower. Estimate the length ratio from the tokens per word measured in this "
                   "chapter, then ask how self-attention's cost grows with the length.", answer=measured)
