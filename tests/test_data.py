import re
from datetime import date, datetime

import pytest
import torch

from transformer_edu import Transformer, TransformerConfig
from transformer_edu.data import (DATE_FORMATS, FIRST_DATE, LAST_DATE, TASKS, Seq2SeqBatch, build_tokenizers,
                                  format_date, iterate_batches, make_batch, make_dataset)
from transformer_edu.masks import padding_mask, target_mask
from transformer_edu.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharTokenizer, Tokenizer

# An independent reader for the source formats (strptime, English names in the default C locale).
STRPTIME_FORMATS = ["%A, %d %B %Y", "%a %d %b %Y", "%B %d, %Y", "%d %b %Y", "%d-%b-%Y", "%m/%d/%Y", "%d.%m.%Y"]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def parse_source(text: str) -> date:
    """The date a source string names; fails unless exactly one format reads it (no ambiguity)."""
    readings = []
    for fmt in STRPTIME_FORMATS:
        try:
            readings.append(datetime.strptime(text, fmt).date())
        except ValueError:
            pass
    assert len(readings) == 1, f"{text!r} is read by {len(readings)} formats"
    return readings[0]


@pytest.fixture(scope="module")
def dates():
    return make_dataset("dates", n_train=2000, n_test=300, seed=7)


# --- the examples ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_dataset_is_deterministic_for_a_seed(task):
    first = make_dataset(task, 200, 50, seed=3)
    assert make_dataset(task, 200, 50, seed=3) == first
    assert make_dataset(task, 200, 50, seed=4) != first
    train, test = first
    assert len(train) == 200 and len(test) == 50
    assert all(isinstance(s, str) and isinstance(t, str) for s, t in train + test)


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_held_out_sequences_never_appear_in_training(task):
    # a small space (2 + 4 + 8 = 14 strings) makes collisions certain if the split were careless
    train, test = make_dataset(task, 500, 7, seed=0, symbols="ab", min_len=1, max_len=3)
    held_out = {source for source, _ in test}
    assert len(held_out) == 7
    assert held_out.isdisjoint(source for source, _ in train)
    assert len({source for source, _ in train}) == 14 - 7  # the rest of the space is all used


def test_held_out_dates_never_appear_in_training_in_any_format(dates):
    train, test = dates
    held_out = {parse_source(source) for source, _ in test}
    assert len(held_out) == len(test) == 300
    assert held_out.isdisjoint(parse_source(source) for source, _ in train)
    # a tiny range makes the split by date, not by string, matter: 10 days, 5 held out
    train, test = make_dataset("dates", 300, 5, first=date(2026, 1, 1), last=date(2026, 1, 10))
    held_out = {t for _, t in test}
    assert held_out.isdisjoint(t for _, t in train) and len({t for _, t in train}) == 5


@pytest.mark.parametrize("task", ["dates", "copy", "reverse"])
def test_held_out_set_does_not_depend_on_the_training_size(task):
    # train.py and chapter 13 rebuild a run's held-out set with n_train=1; formats included, it must match
    held_out = make_dataset(task, 1, 200, seed=5)[1]
    assert make_dataset(task, 5000, 200, seed=5)[1] == held_out
    assert make_dataset(task, 1, 200, seed=6)[1] != held_out


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_short_days_sets_the_share_of_one_digit_days_in_training_only(share):
    train, test = make_dataset("dates", 4000, 300, seed=2, short_days=share)
    short = sum(date.fromisoformat(target).day < 10 for _, target in train) / len(train)
    assert abs(short - share) < 0.03, short
    assert test == make_dataset("dates", 1, 300, seed=2)[1]  # the held-out dates stay uniform
    assert not {t for _, t in train} & {t for _, t in test}


def test_uniform_dates_are_the_default():
    train = make_dataset("dates", 4000, 10, seed=2)[0]
    assert make_dataset("dates", 4000, 10, seed=2, short_days=None)[0] == train
    assert 0.25 < sum(date.fromisoformat(t).day < 10 for _, t in train) / len(train) < 0.35  # 108/365.25 = 0.296


def test_every_target_is_iso_and_names_the_source_date(dates):
    for source, target in dates[0] + dates[1]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        day = date.fromisoformat(target)
        assert parse_source(source) == day
        assert FIRST_DATE <= day <= LAST_DATE


def test_the_weekday_is_the_true_weekday(dates):
    checked = 0
    for source, target in dates[0]:
        named = [w for w in WEEKDAY_NAMES if source.startswith(w[:3])]
        if named:
            assert named[0] == WEEKDAY_NAMES[date.fromisoformat(target).weekday()], source
            checked += 1
    assert checked > 300  # two of the seven formats show the weekday
    assert format_date(date(2026, 11, 25), DATE_FORMATS[0]) == "Wednesday, 25 November 2026"


def test_all_formats_appear_and_dates_span_the_range(dates):
    train, _ = dates
    formats = {STRPTIME_FORMATS.index(f) for source, _ in train for f in STRPTIME_FORMATS
               if _reads(source, f)}
    assert formats == set(range(len(DATE_FORMATS)))
    years = [int(t[:4]) for _, t in train]
    assert min(years) < 1920 and max(years) > 2080


def _reads(text, fmt):
    try:
        datetime.strptime(text, fmt)
        return True
    except ValueError:
        return False


def test_date_formats_written_out():
    day = date(1905, 3, 7)
    assert [format_date(day, f) for f in DATE_FORMATS] == [
        "Tuesday, 7 March 1905", "Tue 7 Mar 1905", "March 7, 1905", "7 Mar 1905", "7-Mar-1905", "03/07/1905",
        "07.03.1905"]


def test_copy_and_reverse_targets_and_lengths():
    for task, expected in (("copy", lambda s: s), ("reverse", lambda s: s[::-1])):
        train, test = make_dataset(task, 300, 30, symbols="xyz", min_len=2, max_len=6)
        for source, target in train + test:
            assert target == expected(source) and 2 <= len(source) <= 6 and set(source) <= set("xyz")
        assert {len(s) for s, _ in train} == set(range(2, 7))


# --- tokenizers for the tasks ----------------------------------------------------------------------------

def test_date_tokenizer_keeps_names_whole_and_splits_digits(dates):
    source_tok, target_tok = build_tokenizers("dates")
    assert source_tok is target_tok  # shared vocabulary by default
    assert source_tok.tokenize("Wed 25 November 2026") == ["Wed", "2", "5", "November", "2", "0", "2", "6"]
    assert source_tok.tokenize("25.11.2026")[:3] == ["2", "5", "."]
    assert source_tok.decode(source_tok.encode("2026-11-25")) == "2026-11-25"
    for source, target in dates[0] + dates[1]:
        assert UNK_ID not in source_tok.encode(source) + source_tok.encode(target)
    assert build_tokenizers("dates")[0] == source_tok  # the same vocabulary every time


def test_unshared_date_tokenizers_use_characters_for_the_target():
    source_tok, target_tok = build_tokenizers("dates", shared=False)
    assert isinstance(target_tok, CharTokenizer) and target_tok.vocab[4:] == list("-0123456789")
    assert target_tok.tokenize("2026-11-25") == list("2026-11-25")
    assert source_tok.vocab_size > target_tok.vocab_size


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_sequence_task_tokenizer_is_one_char_per_symbol(task):
    source_tok, target_tok = build_tokenizers(task, symbols="pqr")
    assert source_tok is target_tok and source_tok.vocab[4:] == ["p", "q", "r"]


# --- batches ---------------------------------------------------------------------------------------------

def test_batch_shapes_bos_eos_padding_and_masks():
    tok, _ = build_tokenizers("copy")
    pairs = [("abc", "abc"), ("abcdefg", "gfedcba"), ("a", "a")]
    batch = make_batch(pairs, tok, tok)
    assert isinstance(batch, Seq2SeqBatch) and len(batch) == 3
    assert batch.src.shape == (3, 7) and batch.tgt_in.shape == batch.tgt_out.shape == (3, 8)
    assert batch.src.dtype == batch.tgt_in.dtype == torch.long
    for i, (source, target) in enumerate(pairs):
        ids, n = tok.encode(target), len(target)
        assert batch.src[i].tolist() == tok.encode(source) + [PAD_ID] * (7 - len(source))
        assert batch.tgt_in[i].tolist() == [BOS_ID] + ids + [PAD_ID] * (7 - n)
        assert batch.tgt_out[i].tolist() == ids + [EOS_ID] + [PAD_ID] * (7 - n)
    # the decoder predicts the next token: tgt_out is tgt_in shifted left by one (wherever tgt_in is real)
    real = batch.tgt_in != PAD_ID
    assert torch.equal(batch.tgt_out[:, :-1][real[:, 1:]], batch.tgt_in[:, 1:][real[:, 1:]])
    assert torch.equal(batch.src_mask, padding_mask(batch.src, PAD_ID)) and batch.src_mask.shape == (3, 1, 1, 7)
    assert torch.equal(batch.tgt_mask, target_mask(batch.tgt_in, PAD_ID)) and batch.tgt_mask.shape == (3, 1, 8, 8)
    assert batch.n_tokens == (3 + 1) + (7 + 1) + (1 + 1)
    moved = batch.to("cpu")
    assert torch.equal(moved.tgt_mask, batch.tgt_mask) and moved.n_tokens == batch.n_tokens


def test_a_batch_goes_through_the_model():
    source_tok, target_tok = build_tokenizers("dates")
    train, _ = make_dataset("dates", 5, 1)
    batch = make_batch(train, source_tok, target_tok)
    model = Transformer(TransformerConfig.small(vocab_size=source_tok.vocab_size)).eval()
    logits = model(batch.src, batch.tgt_in, src_mask=batch.src_mask, tgt_mask=batch.tgt_mask)
    assert logits.shape == (*batch.tgt_out.shape, source_tok.vocab_size)


def test_iterate_batches_in_order_and_shuffled():
    tok, _ = build_tokenizers("reverse")
    pairs, _ = make_dataset("reverse", 10, 0, seed=1)
    in_order = list(iterate_batches(pairs, tok, tok, batch_size=4))
    assert [len(b) for b in in_order] == [4, 4, 2]
    assert [tok.decode(row) for b in in_order for row in b.src] == [s for s, _ in pairs]

    def sources(seed):
        return [tok.decode(row) for b in iterate_batches(pairs, tok, tok, 4, shuffle=True, seed=seed) for row in b.src]
    assert sources(0) == sources(0) and sorted(sources(0)) == sorted(s for s, _ in pairs)
    assert sources(0) != sources(1)


# --- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: make_dataset("sort", 10, 2), r"unknown task 'sort': expected one of \('copy', 'reverse', 'dates'\)"),
    (lambda: make_dataset("copy", 0, 2), "n_train must be an int >= 1, got 0"),
    (lambda: make_dataset("copy", 10, -1), "n_test must be an int >= 0, got -1"),
    (lambda: make_dataset("copy", 10.0, 2), "n_train must be an int >= 1, got 10.0"),
    (lambda: make_dataset("copy", 10, 2, seed="x"), "seed must be an int >= 0"),
    (lambda: make_dataset("copy", 10, 8, symbols="ab", min_len=1, max_len=3),
     "n_test=8 is too large: task 'copy' has 14 distinct examples .* at most half of them \\(7\\)"),
    (lambda: make_dataset("dates", 10, 6, first=date(2026, 1, 1), last=date(2026, 1, 10)), "n_test=6 is too large"),
    (lambda: make_dataset("dates", 10, 2, first=date(2026, 1, 2), last=date(2026, 1, 1)), "first <= last"),
    (lambda: make_dataset("copy", 10, 2, symbols="aab"), "distinct, non-space characters, got 'aab'"),
    (lambda: make_dataset("copy", 10, 2, symbols="a b"), "non-space characters"),
    (lambda: make_dataset("copy", 10, 2, min_len=0), "min_len must be an int >= 1, got 0"),
    (lambda: make_dataset("copy", 10, 2, min_len=5, max_len=4), "max_len must be an int >= 5, got 4"),
    (lambda: make_dataset("dates", 10, 2, short_days=1.5), r"short_days must be None or.* got 1.5 for task 'dates'"),
    (lambda: make_dataset("dates", 10, 2, short_days="half"), "short_days must be None or"),
    (lambda: make_dataset("copy", 10, 2, short_days=0.5), "got 0.5 for task 'copy'"),
    (lambda: build_tokenizers("translate"), "unknown task 'translate'"),
    (lambda: format_date("2026-11-25", DATE_FORMATS[0]), "expected a datetime.date"),
    (lambda: format_date(date(2026, 1, 1), "%Y"), "one of DATE_FORMATS"),
])
def test_bad_dataset_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


TOK = build_tokenizers("copy")[0]


@pytest.mark.parametrize("call, message", [
    (lambda: make_batch([], TOK, TOK), "pairs must be a non-empty list"),
    (lambda: make_batch([("abc",)], TOK, TOK), r"pairs\[0\] must be a \(source, target\) pair of str"),
    (lambda: make_batch([("abc", 5)], TOK, TOK), r"pairs\[0\] must be"),
    (lambda: make_batch([("abc", "abc")], "chars", TOK), "src_tokenizer must be a .*Tokenizer, got str"),
    (lambda: make_batch([("abc", "abc"), ("", "x")], TOK, TOK), r"pairs\[1\] has a source with no tokens"),
    (lambda: iterate_batches([("a", "a")], TOK, TOK, batch_size=0), "batch_size must be an int >= 1, got 0"),
    (lambda: iterate_batches([("a", "a")], TOK, Tokenizer, 2), "tgt_tokenizer must be"),
])
def test_bad_batch_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
