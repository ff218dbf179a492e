import pytest
import torch

from transformer_edu.exercises import ch02
from transformer_edu.exercises._check import reset_tries
from transformer_edu.tokenizer import CharTokenizer


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()
from transformer_edu.bpe import BPETokenizer


def solution_apply_merges(word, merges):
    pieces = list(word)
    for left, right in merges:
        out, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == (left, right):
                out.append(left + right)
                i += 2
            else:
                out.append(pieces[i])
                i += 1
        pieces = out
    return pieces


@pytest.mark.parametrize("word, merges", ch02.MERGE_CASES)
def test_reference_matches_the_package_bpe(word, merges):
    # the package works on bytes; for ASCII text a byte is a character, so the pieces must agree
    assert ch02.reference_apply_merges(word, merges) == BPETokenizer(merges).tokenize(word)


def test_reference_on_known_cases():
    assert ch02.reference_apply_merges("lower", [("l", "o"), ("lo", "w"), ("e", "r")]) == ["low", "er"]
    assert ch02.reference_apply_merges("aaa", [("a", "a")]) == ["aa", "a"]
    assert ch02.reference_apply_merges("abc", [("b", "c"), ("a", "b")]) == ["a", "bc"]
    assert ch02.reference_apply_merges("banana", [("a", "n"), ("an", "a"), ("b", "an")]) == ["ban", "ana"]


def test_apply_merges_solution_passes():
    feedback = ch02.check_apply_merges(solution_apply_merges)
    assert feedback and repr(feedback).startswith("Correct")


@pytest.mark.parametrize("wrong, words", [
    (lambda word, merges: None, "returned None"),
    (lambda word, merges: "".join(solution_apply_merges(word, merges)), "returned the string"),
    (lambda word, merges: solution_apply_merges(word, merges)[:-1], "do not join back"),
    (ch02._first_occurrence_only, "still the bug of buggy_apply_merges"),
    (ch02.buggy_apply_merges, "still the bug of buggy_apply_merges"),
    (ch02._right_to_left, "left to right"),
    (ch02._ignoring_order, "order of the list"),
    (lambda word, merges: list(word), "gave ['l', 'o', 'w', 'e', 'r'], not what BPE gives"),
    (lambda word, merges: 1 / 0, "raised ZeroDivisionError"),
])
def test_apply_merges_wrong_answers_are_explained(wrong, words):
    feedback = ch02.check_apply_merges(wrong)
    assert not feedback
    assert words in feedback.message
    assert repr(feedback).startswith("Not yet: ")
    assert "Expected" not in feedback.message and "['low', 'er']" not in feedback.message


def test_buggy_apply_merges_is_plausible_and_wrong():
    assert ch02.buggy_apply_merges("lower", [("l", "o"), ("lo", "w"), ("e", "r")]) == ["low", "er"]
    assert ch02.buggy_apply_merges("aaaa", [("a", "a")]) != BPETokenizer([("a", "a")]).tokenize("aaaa")
    assert solution_apply_merges("aaaa", [("a", "a")]) == BPETokenizer([("a", "a")]).tokenize("aaaa")
    import inspect
    assert max(map(len, inspect.getsource(ch02.buggy_apply_merges).splitlines())) <= 82


def test_apply_merges_reveals_the_expected_pieces_on_the_third_try():
    messages = [ch02.check_apply_merges(ch02.buggy_apply_merges).message for _ in range(3)]
    assert "Expected ['aa', 'aa']" not in messages[1] and "Expected ['aa', 'aa']" in messages[2]


RIGHT = {s: token for s, (token, _) in ch02.SPECIAL_TOKEN_SITUATIONS.items()}


def test_special_tokens_right_answer_passes():
    assert ch02.check_special_tokens(RIGHT)
    assert ch02.check_special_tokens({s.upper(): t.upper() for s, t in RIGHT.items()})  # case does not matter


def test_special_tokens_wrong_answers_are_explained():
    placeholder = ch02.check_special_tokens({s: None for s in RIGHT})
    assert not placeholder and "4 of 4 situations have no answer" in placeholder.message
    swapped = dict(RIGHT)
    swapped["the first input position of the decoder"] = "<pad>"
    swapped["the model signals that the translation is complete"] = "<unk>"
    reset_tries()
    feedback = ch02.check_special_tokens(swapped)
    assert not feedback and "2 of 4 wrong" in feedback.message
    assert "not <pad>; the decoder's input is the output shifted right" in feedback.message
    assert "not <unk>; generation stops" in feedback.message
    assert "Expected:" not in feedback.message
    invalid = ch02.check_special_tokens(dict(RIGHT, **{"the first input position of the decoder": "[CLS]"}))
    assert not invalid and "answer one of" in invalid.message and "'[CLS]'" in invalid.message
    assert "missing" in ch02.check_special_tokens({"start": "<bos>"}).message
    assert "dict" in ch02.check_special_tokens(["<bos>"]).message


def solution_make_batch(tokenizer, texts):
    encoded = [[tokenizer.bos_id] + tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]
    longest = max(map(len, encoded))
    return torch.tensor([ids + [tokenizer.pad_id] * (longest - len(ids)) for ids in encoded])


def test_make_batch_solution_passes():
    feedback = ch02.check_make_batch(solution_make_batch)
    assert feedback and "positions are <pad>" in feedback.message


def _left_padded(tokenizer, texts):
    encoded = [[tokenizer.bos_id] + tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]
    longest = max(map(len, encoded))
    return torch.tensor([[tokenizer.pad_id] * (longest - len(ids)) + ids for ids in encoded])


def _no_specials(tokenizer, texts):
    encoded = [tokenizer.encode(t) for t in texts]
    longest = max(map(len, encoded))
    return torch.tensor([ids + [tokenizer.pad_id] * (longest - len(ids)) for ids in encoded])


def _padded_with_eos(tokenizer, texts):
    encoded = [[tokenizer.bos_id] + tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]
    longest = max(map(len, encoded))
    return torch.tensor([ids + [tokenizer.eos_id] * (longest - len(ids)) for ids in encoded])


@pytest.mark.parametrize("wrong, words", [
    (lambda tok, texts: None, "should return a torch.Tensor, got NoneType"),
    (lambda tok, texts: solution_make_batch(tok, texts).float(), "dtype torch.long"),
    (_no_specials, "needs <bos> (id 1) in front and <eos> (id 2)"),
    (lambda tok, texts: solution_make_batch(tok, texts)[:, 1:], "needs both <bos> at the start and <eos>"),
    (_left_padded, "padding is at the start"),
    (_padded_with_eos, "fill the empty positions with <pad> (id 0)"),
    (lambda tok, texts: solution_make_batch(tok, texts[:2]), "should have shape (3,"),
])
def test_make_batch_wrong_answers_are_explained(wrong, words):
    feedback = ch02.check_make_batch(wrong)
    assert not feedback
    assert words in feedback.message


CORPUS = "to be or not to be that is the question whether tis nobler in the mind to suffer"


def test_attention_cost_prediction():
    chars, bpe = CharTokenizer.train(CORPUS), BPETokenizer.train(CORPUS, vocab_size=280)
    text = "to be or not\nthe question is\n\nwhether tis nobler in the mind"
    length_ratio, cost_ratio = ch02.attention_cost_ratio(chars, bpe, text)
    lines = [line for line in text.splitlines() if line]
    assert cost_ratio == sum(len(chars.encode(x)) ** 2 for x in lines) / sum(len(bpe.encode(x)) ** 2 for x in lines)
    assert cost_ratio > length_ratio > 1
    assert ch02.check_attention_cost_prediction(cost_ratio * 1.1, chars, bpe, text)
    near_length = ch02.check_attention_cost_prediction(length_ratio, chars, bpe, text)
    assert not near_length and "every other" in near_length.message and "Measured" not in near_length.message
    reset_tries()
    low = ch02.check_attention_cost_prediction(cost_ratio / 3, chars, bpe, text)
    assert not low and "measurement is higher" in low.message
    high = ch02.check_attention_cost_prediction(cost_ratio * 3, chars, bpe, text)
    assert not high and "measurement is lower" in high.message
    assert "prediction first" in ch02.check_attention_cost_prediction(None, chars, bpe, text).message
    assert "positive number" in ch02.check_attention_cost_prediction(-1, chars, bpe, text).message


def test_quiz_numbers_match_the_package():
    import json
    from importlib import resources
    quiz = {q["id"]: q for q in json.loads(
        resources.files("transformer_edu").joinpath("quizzes/ch02.json").read_text())["questions"]}
    assert BPETokenizer([]).vocab_size + quiz["merges"]["answer"] == 2000  # specials + bytes + merges
    assert BPETokenizer([(" ", "t")]).vocab_size == 261
