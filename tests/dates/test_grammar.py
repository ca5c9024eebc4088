"""The parser under the date resolver: where expressions start and end, and range years."""

from __future__ import annotations

from datetime import date

import pytest

from workbench.dates.grammar import Parser
from workbench.dates.periods import Interval
from workbench.dates.words import tokenize

AS_OF = date(2026, 3, 31)


def parse(text: str, bare_ok: bool = False) -> tuple[str, Interval] | None:
    """The longest expression at the first token, as (its text, its range)."""
    tokens = tokenize(text)
    found = Parser(tokens, AS_OF).expression(0, bare_ok)
    if found is None:
        return None
    first, after, interval = found
    return text[tokens[first].start : tokens[after - 1].end], interval


def test_a_boundary_covers_only_its_operand() -> None:
    assert parse("before March 2025 please") == (
        "March 2025",
        Interval(date(2025, 3, 1), date(2025, 3, 1)),
    )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # The end without a year takes it from the other end...
        ("from Dec 1 to Jan 15, 2026", date(2025, 12, 1), date(2026, 1, 15)),
        ("from Dec 1, 2024 to Jan 15", date(2024, 12, 1), date(2025, 1, 15)),
        # ...and two yearless ends are placed before the as-of date together.
        ("from Nov 1 to Feb 2", date(2025, 11, 1), date(2026, 2, 2)),
    ],
)
def test_range_ends_share_a_year(text: str, start: date, end: date) -> None:
    assert parse(text) == (text, Interval(start, end))


def test_bare_years_and_months_need_context() -> None:
    assert parse("2025 orders") is None
    assert parse("2025 orders", bare_ok=True) == (
        "2025",
        Interval(date(2025, 1, 1), date(2025, 12, 31)),
    )
    assert parse("March") is None
    assert parse("may", bare_ok=True) == ("may", Interval(date(2025, 5, 1), date(2025, 5, 31)))
    assert parse("may be", bare_ok=True) is None


def test_longest_reading_wins() -> None:
    assert parse("the past 3 months to date") == (
        "the past 3 months to date",
        Interval(date(2026, 1, 1), AS_OF),
    )
    assert parse("Jan 15, 2026, and more")[0] == "Jan 15, 2026"  # type: ignore[index]
