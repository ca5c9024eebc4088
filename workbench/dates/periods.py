"""Calendar arithmetic on whole days: periods, month shifts, rolling windows.

Month arithmetic clamps to the end of a shorter month (2026-03-31 minus one
month is 2026-02-28), weeks run Monday to Sunday, and every range is inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Unit = Literal["day", "week", "weekend", "month", "quarter", "half", "year"]
MONTHS_PER: dict[str, int] = {"month": 1, "quarter": 3, "half": 6, "year": 12}


@dataclass(frozen=True)
class Interval:
    """An inclusive range of days."""

    start: date
    end: date


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """Shift by whole months, clamping to the end of a shorter month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, _month_end(year, month0 + 1).day))


def block(year: int, first_month: int, months: int) -> Interval:
    last_index = year * 12 + first_month - 1 + months - 1
    return Interval(date(year, first_month, 1), _month_end(last_index // 12, last_index % 12 + 1))


def calendar_period(unit: Unit, as_of: date, shift: int = 0) -> Interval:
    """The calendar ``unit`` containing ``as_of``, moved by ``shift`` whole units."""
    if unit == "day":
        day = as_of + timedelta(days=shift)
        return Interval(day, day)
    if unit in ("week", "weekend"):
        monday = as_of - timedelta(days=as_of.weekday()) + timedelta(weeks=shift)
        first = monday + timedelta(days=5 if unit == "weekend" else 0)
        return Interval(first, monday + timedelta(days=6))
    size = MONTHS_PER[unit]
    index = (as_of.year * 12 + as_of.month - 1) // size + shift
    year, first_month0 = divmod(index * size, 12)
    return block(year, first_month0 + 1, size)


def shift(as_of: date, unit: str, count: int) -> date:
    if unit == "day":
        return as_of + timedelta(days=count)
    if unit == "week":
        return as_of + timedelta(weeks=count)
    return add_months(as_of, count * MONTHS_PER[unit])


def window(as_of: date, unit: str, count: int) -> Interval:
    """The ``count``-unit window ending on ``as_of``, inclusive."""
    return Interval(shift(as_of, unit, -count) + timedelta(days=1), as_of)


def part_of_period(
    whole: Interval, unit: Unit, count: int, position: int, from_end: bool
) -> Interval | None:
    """The ``position``-th run of ``count`` units of ``whole``, from its start or its end.

    Days and weeks are counted in days from the start (or end) of ``whole``: the first week
    of March is March 1 to 7, the last week of 2025 December 25 to 31. Months, quarters and
    halves are counted in calendar months. None when the part does not fit inside ``whole``
    ("the fifth week of February", "the first quarter of March").
    """
    if unit in ("day", "week"):
        size = count * (7 if unit == "week" else 1)
        offset = (position - 1) * size
        if from_end:
            end = whole.end - timedelta(days=offset)
            part = Interval(end - timedelta(days=size - 1), end)
        else:
            start = whole.start + timedelta(days=offset)
            part = Interval(start, start + timedelta(days=size - 1))
    elif unit in MONTHS_PER:
        months = count * MONTHS_PER[unit]
        offset = (position - 1) * months
        if whole.start.day != 1 or (whole.end + timedelta(days=1)).day != 1:
            return None  # a week, or a run of days, has no calendar months to count
        if from_end:
            first = add_months(whole.end + timedelta(days=1), -(offset + months))
        else:
            first = add_months(whole.start, offset)
        part = Interval(first, add_months(first, months) - timedelta(days=1))
    else:
        return None
    if part.start < whole.start or part.end > whole.end:
        return None
    return part
