"""What an aggregate accuracy hides: exact match on the date task, sliced by the input's surface format, by
output field (year, month, day) and by input value, with the most frequent confusions.

No paper section: the paper reports one BLEU score per test set (section 6.1). One number can hide a blind
spot: a model right on 99.9% of dates can still be wrong on most dates of one kind, if that kind is rare.

    examples = fresh_dates(per_format=300, seed=1)     # every format equally often, dates uniform
    report = date_error_report(model, tokenizers, examples)
    print(report.table())                               # worst slices first; plots.error_slices(report) draws it
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from datetime import date, timedelta

from .checks import check_int
from .data import DATE_FORMATS, FIRST_DATE, LAST_DATE, format_date
from .evaluation import predict

FIELDS = ("year", "month", "day")


@dataclass(frozen=True)
class DateExample:
    """One test date: the date, the DATE_FORMATS template that wrote it, the source text and the target."""

    day: date
    template: str
    source: str
    target: str


@dataclass(frozen=True)
class Slice:
    """Exact match on the examples that share one value of one attribute (e.g. attribute "day", value 1)."""

    attribute: str
    value: object
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def fresh_dates(per_format: int, seed: int, first: date = FIRST_DATE, last: date = LAST_DATE) -> list[DateExample]:
    """`per_format` dates in each of the DATE_FORMATS, drawn uniformly from first..last with their own
    random.Random(seed), independent of make_dataset's draws. Dates may repeat across formats."""
    check_int("per_format", per_format)
    check_int("seed", seed, low=0)
    if not (isinstance(first, date) and isinstance(last, date) and first <= last):
        raise ValueError(f"first and last must be datetime.dates with first <= last, got {first!r}, {last!r}")
    rng, span = random.Random(f"fresh dates {seed}"), (last - first).days + 1
    examples = []
    for template in DATE_FORMATS:
        for _ in range(per_format):
            day = first + timedelta(days=rng.randrange(span))
            examples.append(DateExample(day, template, format_date(day, template), day.isoformat()))
    return examples


def _fields(text: str) -> list[str]:
    """The year, month and day of a YYYY-MM-DD text, read between its hyphens ('' for a missing one)."""
    return (text.split("-") + ["", "", ""])[:3]


def fields_right(output: str, day: date) -> dict[str, bool]:
    """For each field, whether `output` (meant to be YYYY-MM-DD) has it right; an output of another shape is
    read field by field between its hyphens, so '2039-09-1' still gets the year and the month right."""
    return {name: part == want for name, part, want in zip(FIELDS, _fields(output), _fields(day.isoformat()))}


ATTRIBUTES = ("format", "year", "decade", "month", "day")


def _value(attribute: str, ex: DateExample):
    """The value of one of ATTRIBUTES for one example."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute must be 'field' or one of {ATTRIBUTES}, got {attribute!r}")
    return {"format": ex.template, "year": ex.day.year, "decade": ex.day.year // 10 * 10, "month": ex.day.month,
            "day": ex.day.day}[attribute]


def _slices(attribute: str, keys: list, right: list[bool]) -> list[Slice]:
    totals, correct = Counter(keys), Counter(k for k, ok in zip(keys, right) if ok)
    return [Slice(attribute, k, correct[k], totals[k]) for k in sorted(totals, key=_in_order)]


def _in_order(key):
    """Sort key: formats in DATE_FORMATS order, numbers by value, pairs by both."""
    if isinstance(key, tuple):
        return tuple(_in_order(k) for k in key)
    return (DATE_FORMATS.index(key), 0) if key in DATE_FORMATS else (-1, key)


@dataclass(frozen=True)
class ErrorReport:
    """The slices of one evaluation. outputs[i] is the model's answer to examples[i]."""

    examples: list[DateExample]
    outputs: list[str]

    @cached_property  # every slice reads it: computed once per report
    def right(self) -> list[bool]:
        return [out == ex.target for ex, out in zip(self.examples, self.outputs)]

    @property
    def accuracy(self) -> float:
        return sum(self.right) / len(self.examples)

    def by(self, attribute: str) -> list[Slice]:
        """Exact match per value of one of ATTRIBUTES ("format", "year", "decade", "month", "day") or, for
        attribute "field", the fraction of outputs with each field right (whatever the other two say)."""
        if attribute == "field":
            per_field = [fields_right(out, ex.day) for ex, out in zip(self.examples, self.outputs)]
            return [Slice("field", name, sum(f[name] for f in per_field), len(per_field)) for name in FIELDS]
        return _slices(attribute, [_value(attribute, ex) for ex in self.examples], self.right)

    def cells(self, rows: str = "format", columns: str = "day") -> list[Slice]:
        """Exact match on every (rows value, columns value) pair, e.g. each day value in each format."""
        keys = [(_value(rows, ex), _value(columns, ex)) for ex in self.examples]
        return _slices(f"{rows} x {columns}", keys, self.right)

    def confusions(self, top: int = 10) -> list[tuple[str, str, str, int]]:
        """The most frequent field errors: (field, expected, written, count), most frequent first."""
        counts: Counter = Counter()
        for ex, out in zip(self.examples, self.outputs):
            for name, part, want in zip(FIELDS, _fields(out), _fields(ex.target)):
                if part != want:
                    counts[(name, want, part)] += 1
        return [(*key, n) for key, n in counts.most_common(top)]

    def worst(self, min_total: int = 20, top: int = 8) -> list[Slice]:
        """The lowest-scoring slices of format, field, month, day, and format x day with at least
        `min_total` examples, worst first."""
        candidates = [s for a in ("format", "field", "month", "day") for s in self.by(a)] + self.cells()
        return sorted((s for s in candidates if s.total >= min_total), key=lambda s: (s.accuracy, -s.total))[:top]

    def errors(self, top: int = 10) -> list[tuple[str, str, str]]:
        """Up to `top` wrong answers as (source, expected, written), in the order of the examples."""
        return [(ex.source, ex.target, out) for ex, out, ok in zip(self.examples, self.outputs, self.right)
                if not ok][:top]

    def table(self, min_total: int = 20, top: int = 8) -> str:
        """A short text table: the overall figure, the worst slices and the most frequent confusions."""
        worst = self.worst(min_total, top)
        names = [f"{s.attribute} = {s.value}" for s in worst]
        width = max([len(n) for n in names] + [len("worst slices")])
        lines = [f"exact match on {len(self.examples):,} dates: {self.accuracy:.2%}",
                 f"{'worst slices':{width + 2}} {'right':>11}  exact match"]
        for name, s in zip(names, worst):
            lines.append(f"  {name:{width}} {f'{s.correct}/{s.total}':>11}  {s.accuracy:.1%}")
        lines.append("most frequent confusions (field: expected -> written, count)")
        lines += [f"  {f}: {want} -> {got or '(missing)'}  x{n}" for f, want, got, n in self.confusions(5)] or ["  none"]
        return "\n".join(lines)


def date_error_report(model, tokenizers, examples: list[DateExample], batch_size: int = 500) -> ErrorReport:
    """Greedy-decode every example's source with `model` (evaluation.predict) and slice the results."""
    if not isinstance(examples, (list, tuple)) or not examples or not all(
            isinstance(ex, DateExample) for ex in examples):
        raise ValueError(f"examples must be a non-empty list of DateExample (see fresh_dates), got {examples!r:.80}")
    if not (isinstance(tokenizers, (tuple, list)) and len(tokenizers) == 2):
        raise ValueError(f"tokenizers must be a (source, target) pair, got {tokenizers!r:.80}")
    outputs = predict(model, [ex.source for ex in examples], *tokenizers, batch_size=batch_size)
    return ErrorReport(list(examples), outputs)
