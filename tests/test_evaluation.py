"""corpus_bleu against examples computed by hand. (The tests of evaluate_loss, predict and exact_match are in
tests/test_training.py, section "evaluation", since training.py re-exports them.)"""
import math

import pytest

from transformer_edu.evaluation import corpus_bleu


def test_perfect_match_is_one():
    sentences = ["the cat sat on the mat".split(), "a b c d e".split()]
    assert corpus_bleu(sentences, sentences) == 1.0


def test_too_short_candidate_gets_the_brevity_penalty():
    score, parts = corpus_bleu(["the cat sat on".split()], ["the cat sat on the mat".split()], return_parts=True)
    assert parts["precisions"] == [1.0, 1.0, 1.0, 1.0]  # every candidate n-gram is in the reference
    assert (parts["candidate_length"], parts["reference_length"]) == (4, 6)
    assert math.isclose(parts["brevity_penalty"], math.exp(1 - 6 / 4))
    assert math.isclose(score, math.exp(-0.5))


def test_longer_candidate_gets_no_penalty():
    _, parts = corpus_bleu(["the cat sat on the mat today".split()], ["the cat sat on the mat".split()],
                           return_parts=True)
    assert parts["brevity_penalty"] == 1.0


def test_repeated_words_are_clipped():
    # Papineni et al.'s example: "the" occurs 7 times in the candidate, at most twice in the reference.
    score, parts = corpus_bleu([["the"] * 7], ["the cat is on the mat".split()], return_parts=True)
    assert math.isclose(parts["precisions"][0], 2 / 7)
    assert score == 0.0  # no bigram matches, no smoothing


def test_no_four_gram_match_gives_zero():
    score, parts = corpus_bleu(["the cat sat on a mat".split()], ["the cat sat under a mat".split()],
                               return_parts=True)
    assert parts["precisions"][3] == 0.0 and parts["precisions"][0] > 0
    assert score == 0.0


def test_counts_are_pooled_over_the_corpus():
    candidates = ["a b c d".split(), "a b x".split()]
    references = ["a b c d".split(), "a b y z".split()]
    score, parts = corpus_bleu(candidates, references, return_parts=True)
    # n = 1: 4 + 2 of 4 + 3; n = 2: 3 + 1 of 3 + 2; n = 3: 2 + 0 of 2 + 1; n = 4: 1 + 0 of 1 + 0.
    assert parts["precisions"] == pytest.approx([6 / 7, 4 / 5, 2 / 3, 1.0])
    expected = math.exp(1 - 8 / 7) * (6 / 7 * 4 / 5 * 2 / 3 * 1.0) ** 0.25
    assert math.isclose(score, expected)
    # not the mean of the sentence scores: the second sentence alone has no 3-gram match
    assert corpus_bleu(candidates[1:], references[1:]) == 0.0


def test_one_wrong_character_of_a_date_keeps_most_of_the_score():
    score = corpus_bleu([list("2075-08-22")], [list("2075-08-02")])
    expected = (9 / 10 * 7 / 9 * 6 / 8 * 5 / 7) ** 0.25
    assert math.isclose(score, expected) and 0.75 < score < 0.8


@pytest.mark.parametrize("candidates, references, words", [
    ([["a"]], [], "one reference per candidate"),
    ([], [], "at least one pair"),
    (["a b c"], [["a", "b", "c"]], "list of tokens"),
    ("a b", "a b", "lists of token lists"),
])
def test_bad_inputs_raise(candidates, references, words):
    with pytest.raises(ValueError, match=words):
        corpus_bleu(candidates, references)
