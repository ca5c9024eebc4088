"""Calendar arithmetic under the date resolver, checked against a calendar."""

from __future__ import annotations

from datetime import date

import pytest

from workbench.dates.periods import Interval, add_months, calendar_period, window


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 2, 29), -12, date(2023, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("unit", "as_of", "shift", "start", "end"),
    [
        ("week", date(2026, 3, 31), 0, date(2026, 3, 30), date(2026, 4, 5)),
        ("week", date(2026, 1, 1), -1, date(2025, 12, 22), date(2025, 12, 28)),
        ("weekend", date(2026, 3, 30), 0, date(2026, 4, 4), date(2026, 4, 5)),
        ("month", date(2026, 1, 10), -1, date(2025, 12, 1), date(2025, 12, 31)),
        ("month", date(2024, 1, 31), 1, date(2024, 2, 1), date(2024, 2, 29)),
        ("quarter", date(2026, 1, 1), -1, date(2025, 10, 1), date(2025, 12, 31)),
        ("quarter", date(2025, 12, 31), 1, date(2026, 1, 1), date(2026, 3, 31)),
        ("quarter", date(2025, 8, 15), 0, date(2025, 7, 1), date(2025, 9, 30)),
        ("half", date(2026, 3, 31), -1, date(2025, 7, 1), date(2025, 12, 31)),
        ("half", date(2025, 7, 1), 0, date(2025, 7, 1), date(2025, 12, 31)),
        ("year", date(2026, 3, 31), -2, date(2024, 1, 1), date(2024, 12, 31)),
        ("day", date(2026, 3, 1), -1, date(2026, 2, 28), date(2026, 2, 28)),
    ],
)
def test_calendar_period(unit: str, as_of: date, shift: int, start: date, end: date) -> None:
    assert calendar_period(unit, as_of, shift) == Interval(start, end)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "count", "start"),
    [
        ("day", 7, date(2026, 3, 25)),
        ("week", 2, date(2026, 3, 18)),
        ("month", 1, date(2026, 3, 1)),  # 2026-02-28 (clamped) plus one day
        ("month", 3, date(2026, 1, 1)),
        ("quarter", 1, date(2026, 1, 1)),
        ("year", 1, date(2025, 4, 1)),
    ],
)
def test_window_ends_on_as_of(unit: str, count: int, start: date) -> None:
    assert window(date(2026, 3, 31), unit, count) == Interval(start, date(2026, 3, 31))
