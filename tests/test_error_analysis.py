from collections import Counter
from datetime import date

import pytest
from dates_by_hand import written_by_hand

from transformer_edu import Transformer, TransformerConfig
from transformer_edu.data import DATE_FORMATS, build_tokenizers
from transformer_edu.error_analysis import (DateExample, ErrorReport, date_error_report, fields_right,
                                            fresh_dates)
from transformer_edu.viz import plots


def test_fresh_dates_cover_every_format_equally_and_are_reproducible():
    examples = fresh_dates(50, seed=3)
    assert Counter(ex.template for ex in examples) == {t: 50 for t in DATE_FORMATS}
    assert examples == fresh_dates(50, seed=3) and examples != fresh_dates(50, seed=4)
    for ex in examples:
        assert ex.source == written_by_hand(ex.day, ex.template) and ex.target == ex.day.isoformat()
        assert date(1900, 1, 1) <= ex.day <= date(2099, 12, 31)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_fresh_dates_reject_a_count_that_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="per_format must be an int >= 1"):
        fresh_dates(bad, seed=0)


def report_with_a_blind_spot() -> ErrorReport:
    """Every answer right except day 1 in "{day} {mon} {year}", which is written as day 11."""
    examples = fresh_dates(200, seed=0)
    outputs = [ex.target[:-2] + "11" if ex.template == "{day} {mon} {year}" and ex.day.day == 1 else ex.target
               for ex in examples]
    return ErrorReport(examples, outputs)


def test_slices_find_the_blind_spot_that_the_average_hides():
    report = report_with_a_blind_spot()
    wrong = [ex for ex in report.examples if ex.template == "{day} {mon} {year}" and ex.day.day == 1]
    assert wrong and report.accuracy == 1 - len(wrong) / len(report.examples) > 0.99
    by_format = {s.value: s for s in report.by("format")}
    assert list(by_format) == list(DATE_FORMATS)
    assert by_format["{day} {mon} {year}"].correct == 200 - len(wrong)
    assert all(s.accuracy == 1 for t, s in by_format.items() if t != "{day} {mon} {year}")
    assert [s.value for s in report.by("day")] == list(range(1, 32))
    assert [s.value for s in report.by("day") if s.accuracy < 1] == [1]
    assert [s.value for s in report.by("month")] == list(range(1, 13))
    assert {s.value: s.accuracy for s in report.by("field")} == {
        "year": 1.0, "month": 1.0, "day": 1 - len(wrong) / len(report.examples)}
    cell = next(s for s in report.cells() if s.value == ("{day} {mon} {year}", 1))
    assert (cell.correct, cell.total) == (0, len(wrong))
    assert report.confusions() == [("day", "01", "11", len(wrong))]
    assert report.worst(min_total=1)[0].value == ("{day} {mon} {year}", 1)
    assert report.errors(2) == [(ex.source, ex.target, ex.target[:-2] + "11") for ex in wrong[:2]]
    table = report.table(min_total=1)
    assert "format x day = ('{day} {mon} {year}', 1)" in table and "day: 01 -> 11" in table


def test_slice_totals_add_up_for_every_attribute():
    report = report_with_a_blind_spot()
    for attribute in ("format", "year", "decade", "month", "day"):
        slices = report.by(attribute)
        assert sum(s.total for s in slices) == len(report.examples)
        assert sum(s.correct for s in slices) == sum(report.right)
    with pytest.raises(ValueError, match="attribute must be 'field' or one of"):
        report.by("weekday")


@pytest.mark.parametrize("output, expected", [
    ("2039-09-01", {"year": True, "month": True, "day": True}),
    ("2039-09-11", {"year": True, "month": True, "day": False}),
    ("2077-09-01", {"year": False, "month": True, "day": True}),
    ("2039-09", {"year": True, "month": True, "day": False}),
    ("", {"year": False, "month": False, "day": False}),
])
def test_fields_are_read_between_hyphens(output, expected):
    assert fields_right(output, date(2039, 9, 1)) == expected


def test_report_of_a_real_model_and_its_figure():
    tokenizers = build_tokenizers("dates")
    model = Transformer(TransformerConfig.small(vocab_size=tokenizers[0].vocab_size, d_model=16, n_heads=2,
                                                d_ff=32, max_len=40))
    examples = fresh_dates(3, seed=0)
    report = date_error_report(model, tokenizers, examples)
    assert len(report.outputs) == len(examples) and report.accuracy == 0  # untrained
    fig = plots.error_slices(report)
    assert len(fig.axes) == 3 and "21 dates" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="examples must be a non-empty list of DateExample"):
        date_error_report(model, tokenizers, [("1 May 1990", "1990-05-01")])
    with pytest.raises(ValueError, match="report must be an error_analysis.ErrorReport"):
        plots.error_slices({"format": 1})
    with pytest.raises(ValueError, match="tokenizers must be a"):
        date_error_report(model, tokenizers[0], examples)


def test_examples_are_plain_frozen_records():
    ex = fresh_dates(1, seed=0)[0]
    assert isinstance(ex, DateExample)
    with pytest.raises(AttributeError):
        ex.source = "x"
