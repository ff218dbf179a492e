"""Checkers for chapter 2, tokenization (paper section 5.1)."""
from __future__ import annotations

import torch

from ..bpe import BPETokenizer
from ..tokenizer import SPECIAL_TOKENS, CharTokenizer
from ._check import Feedback, compare_tensors, correct, not_yet


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


# (word, merges): each case exposes one typical mistake
MERGE_CASES = [
    ("lower", [("l", "o"), ("lo", "w"), ("e", "r")]),
    ("aaaa", [("a", "a")]),  # every occurrence, not only the first
    ("aaa", [("a", "a")]),  # left to right: "aa" + "a"
    ("abc", [("b", "c"), ("a", "b")]),  # order: (b, c) is learned first, so (a, b) never matches
    ("banana", [("a", "n"), ("an", "a"), ("b", "an")]),
    (" thither", [(" ", "t"), ("h", "i"), ("t", "h"), (" t", "hi"), ("e", "r"), ("th", "er")]),
]


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
            return not_yet(f"{case} returned None: return the list of pieces, e.g. {expected}")
        if isinstance(got, str):
            return not_yet(f"{case} returned the string {got!r}; return a list of pieces such as {expected}")
        if not isinstance(got, (list, tuple)) or not all(isinstance(p, str) for p in got):
            return not_yet(f"{case} should return a list of str pieces, got {got!r}")
        got = list(got)
        if got == expected:
            continue
        if "".join(got) != word:
            return not_yet(f"{case}: the pieces {got} do not join back to {word!r}. Merging only glues "
                           f"neighbouring pieces together; no character is added or lost.")
        if got == _first_occurrence_only(word, merges):
            return not_yet(f"{case}: expected {expected}, got {got}. Apply each merge at every place where its "
                           f"pair occurs, not only at the first one.")
        if got == _right_to_left(word, merges):
            return not_yet(f"{case}: expected {expected}, got {got}. Scan the word from left to right: in 'aaa' "
                           f"the first two letters are merged, leaving the last one alone.")
        if got == _ignoring_order(word, merges):
            return not_yet(f"{case}: expected {expected}, got {got}. Apply the merges one after another in the "
                           f"order of the list (the order they were learned), not whichever pair matches first "
                           f"in the word.")
        return not_yet(f"{case}: expected {expected}, got {got}. Start from single characters and apply each "
                       f"merge in turn to the result of the previous one.")
    return correct(f"all {len(MERGE_CASES)} words are cut as BPE cuts them: merges in the order learned, each "
                   f"applied everywhere, left to right.")


SPECIAL_TOKEN_SITUATIONS = {
    "the first input position of the decoder": (
        "<bos>", "the decoder's input is the output shifted right by one position, so it starts with a marker "
                 "that says 'the output begins here'"),
    "filling a short sentence up to the length of the longest one in its batch": (
        "<pad>", "a batch is one rectangular tensor; the filler must be a token that masks and the loss can "
                 "ignore"),
    "a word tokenizer meets a word it never saw in training": (
        "<unk>", "a piece that has no entry in the vocabulary can only be given the catch-all id"),
    "the model signals that the translation is complete": (
        "<eos>", "generation stops when the model produces the token that marks the end of a sequence"),
}


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
        return not_yet(f"{len(wrong)} of {len(SPECIAL_TOKEN_SITUATIONS)} wrong. " + " | ".join(wrong))
    return correct("<bos> starts the shifted decoder input, <pad> fills batches, <unk> replaces unknown pieces, "
                   "<eos> ends a sequence.")


_BATCH_CORPUS = "to be or not to be that is the question whether tis nobler in the mind to suffer"
_BATCH_TEXTS = ["to be", "or not to be", "the question"]


def _reference_batch(tokenizer, texts) -> torch.Tensor:
    encoded = [[tokenizer.bos_id] + tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]
    longest = max(len(ids) for ids in encoded)
    return torch.tensor([ids + [tokenizer.pad_id] * (longest - len(ids)) for ids in encoded], dtype=torch.long)


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
                                  hint=f"Expected {expected.tolist()}: <bos>, the tokens of encode(text), <eos>, "
                                       f"then <pad> up to the longest row.")
        return problem if problem is not None else not_yet(f"{case}: expected {expected.tolist()}")
    pads = int((expected == tokenizers["a BPETokenizer"].pad_id).sum())
    return correct(f"<bos> tokens <eos>, padded at the end. In the BPE test batch of shape {tuple(expected.shape)}, "
                   f"{pads} of {expected.numel()} positions are <pad>: masks keep attention away from them.")
