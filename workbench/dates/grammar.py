"""The grammar behind ``workbench.dates.resolve``: expressions parsed from tokens.

A small recursive-descent parser over word tokens rather than one large regular
expression, because expressions nest ("since the start of last quarter",
"between Jan 1 and Mar 31 2026", where the year of one end completes the other)
and because what counts as a date depends on the word before it.

One module for one parser: its rules call each other, so splitting them would only
spread one grammar over several files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from workbench.dates import words as vocab
from workbench.dates.periods import (
    MONTHS_PER,
    Interval,
    Unit,
    block,
    calendar_period,
    part_of_period,
)
from workbench.dates.periods import shift as shift_by
from workbench.dates.periods import window as window_ending

# --- meanings --------------------------------------------------------------------


@dataclass(frozen=True)
class _Yearless:
    """A date or period written without a year ("Jan 15", "March", "Q1")."""

    build: Callable[[int], Interval]
    prefer_past: bool  # months and days: most recent one begun; quarters/halves: as-of year

    def resolve(self, as_of: date) -> Interval | None:
        years = range(as_of.year, as_of.year - 8, -1) if self.prefer_past else (as_of.year,)
        for year in years:
            try:
                interval = self.build(year)
            except ValueError:  # Feb 29 outside a leap year
                continue
            if not self.prefer_past or interval.start <= as_of:
                return interval
        return None

    def near(self, anchor: date, before: bool) -> Interval | None:
        """The occurrence closest to ``anchor`` on the given side (for range ends)."""
        for year in range(anchor.year, anchor.year + (-8 if before else 8), -1 if before else 1):
            try:
                interval = self.build(year)
            except ValueError:
                continue
            if (interval.start <= anchor) if before else (interval.end >= anchor):
                return interval
        return None


_Value = Interval | _Yearless
_Parse = tuple[int, _Value]  # (index after the last token, meaning)


def _day(year: int, month: int, day: int) -> Interval:
    d = date(year, month, day)
    return Interval(d, d)


def _longest(*parses: _Parse | None) -> _Parse | None:
    found = [p for p in parses if p is not None]
    return max(found, key=lambda p: p[0]) if found else None


class Parser:
    """Recursive descent over tokens; each rule returns (next index, meaning) or None."""

    def __init__(self, tokens: list[vocab.Token], as_of: date) -> None:
        self.tokens = tokens
        self.as_of = as_of
        # point() and between() are asked about the same index from many rules.
        self._memo: dict[tuple[str, int, bool], _Parse | None] = {}

    def _remember(
        self, rule: str, i: int, bare_ok: bool, parse: Callable[[], _Parse | None]
    ) -> _Parse | None:
        key = (rule, i, bare_ok)
        if key not in self._memo:
            self._memo[key] = parse()
        return self._memo[key]

    # token helpers
    def low(self, i: int) -> str:
        return self.tokens[i].low if 0 <= i < len(self.tokens) else ""

    def words(self, i: int, *words: str) -> int | None:
        """Match consecutive words, allowing hyphens between them ("year-to-date")."""
        for n, word in enumerate(words):
            if n and self.low(i) == "-":
                i += 1
            if self.low(i) != word:
                return None
            i += 1
        return i

    def the(self, i: int) -> int:
        return i + 1 if self.low(i) == "the" else i

    def number(self, i: int) -> tuple[int, int, vocab.Token] | None:
        if not 0 <= i < len(self.tokens) or self.tokens[i].kind != "num":
            return None
        token = self.tokens[i]
        digits = token.low.rstrip("stndrh")
        return i + 1, int(digits), token

    def count(self, i: int, article: bool = False) -> tuple[int, int] | None:
        number = self.number(i)
        if number and number[2].low.isdigit():
            return (number[0], number[1]) if number[1] > 0 else None
        word = self.low(i)
        if article and word in ("a", "an"):
            return i + 1, 1
        if word in vocab.SMALL[1:]:
            return i + 1, vocab.SMALL.index(word)
        if word in vocab.TENS:
            j = i + 2 if self.low(i + 1) == "-" else i + 1
            unit = self.low(j)
            if unit in vocab.SMALL[1:10]:
                return j + 1, vocab.TENS[word] + vocab.SMALL.index(unit)
            return i + 1, vocab.TENS[word]
        return None

    def year(self, i: int) -> tuple[int, int] | None:
        """A written year, or "last/this/next year"."""
        number = self.number(i)
        if number and number[2].low.isdigit() and len(number[2].low) == 4:
            return (i + 1, number[1]) if 1900 <= number[1] <= 2099 else None
        j = self.the(i)
        for words, shift in ((vocab.LAST, -1), (vocab.THIS, 0), ({"next"}, 1)):
            if self.low(j) in words and self.low(j + 1) == "year":
                return j + 2, self.as_of.year + shift
        return None

    def month(self, i: int) -> tuple[int, int] | None:
        word = self.low(i)
        if word not in vocab.MONTHS:
            return None
        j = i + 1
        if word not in vocab.MONTH_NAMES and self.low(j) == "." and self.number(j + 1):
            j += 1  # "Jan. 15"
        return j, vocab.MONTHS[word]

    def day_of_month(self, i: int) -> tuple[int, int] | None:
        number = self.number(i)
        if number and len(number[2].low.rstrip("stndrh")) <= 2 and 1 <= number[1] <= 31:
            return number[0], number[1]
        return None

    # explicit dates -------------------------------------------------------------
    def explicit(self, i: int, bare_ok: bool) -> _Parse | None:
        return _longest(
            self.numeric(i),
            self.month_first(i, bare_ok),
            self.day_first(i, bare_ok),
            self.quarter_or_half(i),
            self.bare_year(i, bare_ok),
            self.edge_of(i),
            self.period_of(i),
            self.part_of(i),
        )

    def numeric(self, i: int) -> _Parse | None:
        if not 0 <= i < len(self.tokens):
            return None
        token = self.tokens[i]
        if token.kind not in ("iso", "ymd", "mdy"):
            return None
        parts = [int(p) for p in re.split(r"[-/]", token.text)]
        try:
            if token.kind in ("iso", "ymd"):
                return i + 1, _day(parts[0], parts[1], parts[2])
            if token.kind == "mdy":
                first, second, year = parts
                year += 2000 if year < 100 else 0
                if first > 12:  # cannot be a month: day first
                    first, second = second, first
                return i + 1, _day(year, first, second)
        except ValueError:
            return None
        return None

    def _may_guard(self, i: int, bare_ok: bool, has_year: bool) -> bool:
        """Whether the month word at i is a month and not the verb "may"."""
        token = self.tokens[i]
        if token.low != "may" or has_year or token.text != "may":
            return True
        after = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
        return bare_ok and (
            after is None or after.kind in ("punct", "num") or after.low in vocab.AFTER_MAY
        )

    def month_first(self, i: int, bare_ok: bool) -> _Parse | None:
        found = self.month(i)
        if not found:
            return None
        j, month = found
        day = self.day_of_month(j)
        if day:
            k, d = day
            k2 = k + 1 if self.low(k) == "," else k
            year = self.year(k2) if self.number(k2) and not self._starts_quarter(k2) else None
            if year:
                try:
                    return year[0], _day(year[1], month, d)
                except ValueError:
                    return None
            if not self._may_guard(i, bare_ok, has_year=False):
                return None
            return k, _Yearless(lambda y: _day(y, month, d), prefer_past=True)
        k = j + 1 if self.low(j) in ("of", ",") else j
        year = self.year(k)
        if year:
            return year[0], block(year[1], month, 1)
        if bare_ok and self._may_guard(i, bare_ok, has_year=False):
            return j, _Yearless(lambda y: block(y, month, 1), prefer_past=True)
        return None

    def day_first(self, i: int, bare_ok: bool) -> _Parse | None:
        start = self.the(i)
        day = self.day_of_month(start)
        if not day:
            return None
        j, d = day
        # "top 5 March results" is not a date; "the 5th of March", "on 5 March" are.
        marked = start > i or not self.tokens[start].low.isdigit() or self.low(j) == "of"
        marked = marked or bare_ok or self.low(i - 1) == "on"
        j = j + 1 if self.low(j) == "of" else j
        found = self.month(j)
        if not found:
            return None
        k, month = found
        k2 = k + 1 if self.low(k) == "," else k
        year = self.year(k2) if self.number(k2) and not self._starts_quarter(k2) else None
        if year:
            try:
                return year[0], _day(year[1], month, d)
            except ValueError:
                return None
        if not marked or not self._may_guard(j, bare_ok, has_year=False):
            return None
        return k, _Yearless(lambda y: _day(y, month, d), prefer_past=True)

    def _starts_quarter(self, i: int) -> bool:
        """Whether the year at i begins "2025 Q3" rather than ending a date."""
        j = i + 2 if self.low(i + 1) == "-" else i + 1
        return re.fullmatch(r"[qh][1-4]", self.low(j)) is not None

    def quarter_or_half(self, i: int) -> _Parse | None:
        word = self.low(i)
        number = self.number(i)
        if number and len(number[2].low) == 4 and 1900 <= number[1] <= 2099:  # "2025 Q3"
            j = i + 2 if self.low(i + 1) == "-" else i + 1
            found = re.fullmatch(r"([qh])([1-4])", self.low(j))
            if found and (found[1] == "q" or found[2] in "12"):
                size = 3 if found[1] == "q" else 6
                return j + 1, block(number[1], (int(found[2]) - 1) * size + 1, size)
            return None
        j: int | None = None
        if re.fullmatch(r"q[1-4]", word):
            unit, index, j = "quarter", int(word[1]), i + 1
        elif re.fullmatch(r"h[12]", word):
            unit, index, j = "half", int(word[1]), i + 1
        else:
            k = self.the(i)
            ordinal = vocab.ORDINALS.get(self.low(k))
            unit = self.low(k + 1)
            if (
                ordinal is None
                or unit not in ("quarter", "half")
                or (unit == "half" and ordinal > 2)
            ):
                return None
            index, j = ordinal, k + 2
        size = MONTHS_PER[unit]
        k = j + 1 if self.low(j) in ("of", ",", "-") else j
        year = self.year(k)
        if year:
            return year[0], block(year[1], (index - 1) * size + 1, size)
        if self.low(j) == "of":  # "the first half of the list": not a date
            return None
        return j, _Yearless(lambda y: block(y, (index - 1) * size + 1, size), prefer_past=False)

    def bare_year(self, i: int, bare_ok: bool) -> _Parse | None:
        j = self.words(self.the(i), "year")
        if j is not None:
            bare_ok, i = True, j
        number = self.number(i)
        is_year = number and number[2].low.isdigit() and len(number[2].low) == 4
        if bare_ok and number and is_year and 1900 <= number[1] <= 2099:
            return i + 1, block(number[1], 1, 12)
        return None

    def edge_of(self, i: int) -> _Parse | None:
        j = self.the(i)
        edge = self.low(j)
        if edge not in ("start", "beginning", "end") or self.low(j + 1) != "of":
            return None
        found = self.operand(j + 2)
        if not found:
            k = self.the(j + 2)
            if self.low(k) not in ("week", "month", "quarter", "year"):
                return None
            found = k + 1, calendar_period(self.low(k), self.as_of)  # type: ignore[arg-type]
        interval = self.definite(found[1])
        if interval is None:
            return None
        day = interval.end if edge == "end" else interval.start
        return found[0], Interval(day, day)

    def period_of(self, i: int) -> _Parse | None:
        """ "the week of March 2": the calendar week (or month) containing a day."""
        j = self.the(i)
        unit = self.low(j)
        if unit not in ("week", "month") or self.low(j + 1) != "of":
            return None
        found = self.operand(j + 2)
        interval = self.definite(found[1]) if found else None
        if found is None or interval is None:
            return None
        if unit == "week" and interval.start != interval.end:
            return None  # "the week of March" names no week; "the first week of March" does
        return found[0], calendar_period(unit, interval.start)  # type: ignore[arg-type]

    def part_of(self, i: int) -> _Parse | None:
        """ "the last quarter of 2024", "the first week of March", "the last 3 months of 2025":
        a part of a period, counted from its start (or its end for "last"), inside it."""
        j = self.the(i)
        word = self.low(j)
        if word in vocab.ORDINALS:
            position, from_end = vocab.ORDINALS[word], False
        elif word in vocab.FINAL:
            position, from_end = 1, True
        else:
            return None
        k, count = j + 1, 1
        counted = self.count(k) if position == 1 else None
        if counted and self.low(counted[0]) in vocab.PART_UNITS:
            k, count = counted
        unit = vocab.PART_UNITS.get(self.low(k))
        if unit is None or self.low(k + 1) != "of":
            return None
        found = self.operand(k + 2)
        if found is None:
            m = self.the(k + 2)
            if self.low(m) not in ("week", "month", "quarter", "year"):
                return None
            found = m + 1, calendar_period(self.low(m), self.as_of)  # type: ignore[arg-type]
        whole = self.definite(found[1])
        part = part_of_period(whole, unit, count, position, from_end) if whole else None
        return (found[0], part) if part else None

    # relative expressions -------------------------------------------------------
    def relative(self, i: int) -> _Parse | None:
        as_of = self.as_of
        single = {
            "today": 0,
            "yesterday": -1,
            "tomorrow": 1,
            "tonight": 0,
        }
        if self.low(i) in single:
            return i + 1, calendar_period("day", as_of, single[self.low(i)])
        j = self.the(i)
        for words, shift in (
            (("day", "before", "yesterday"), -2),
            (("day", "after", "tomorrow"), 2),
        ):
            k = self.words(j, *words)
            if k is not None:
                return k, calendar_period("day", as_of, shift)
        which = self.low(j)
        shift = (
            0
            if which in vocab.THIS
            else -1
            if which in vocab.LAST
            else 1
            if which == "next"
            else None
        )
        if shift is None:
            return None
        unit = self.low(j + 1)
        if unit in vocab.CALENDAR_UNITS:
            return j + 2, calendar_period(unit, as_of, shift)  # type: ignore[arg-type]
        if unit in vocab.WEEKDAYS:
            day = calendar_period("week", as_of, shift).start + timedelta(days=vocab.WEEKDAYS[unit])
            return j + 2, Interval(day, day)
        if unit in vocab.MONTHS and self.month(j + 1) and self._may_guard(j + 1, True, False):
            # "last March": the latest March before the current month; "next": the first after.
            month = vocab.MONTHS[unit]
            year = as_of.year
            if shift < 0 and month >= as_of.month:
                year -= 1
            elif shift > 0 and month <= as_of.month:
                year += 1
            return j + 2, block(year, month, 1)
        if shift == 0 and unit in ("morning", "afternoon", "evening"):
            return j + 2, calendar_period("day", as_of)
        return None

    def window(self, i: int) -> _Parse | None:
        j = self.the(i)
        if self.low(j) not in vocab.WINDOW:
            return None
        found = self.count(j + 1)
        if found:
            k, n = found
        elif self.low(j) == "past":
            k, n = j + 1, 1
        else:
            return None
        unit = vocab.UNITS.get(self.low(k))
        if unit is None:
            return None
        try:
            return k + 1, window_ending(self.as_of, unit, n)
        except (OverflowError, ValueError):
            return None

    def offset(self, i: int) -> _Parse | None:
        found = self.count(i, article=True)
        if not found:
            return None
        j, n = found
        unit = vocab.UNITS.get(self.low(j))
        if unit is None:
            return None
        direction = self.low(j + 1)
        try:
            if direction in ("before", "after") or self.words(j + 1, "prior", "to"):
                k = j + 2 if direction != "prior" else j + 3
                anchor = self.operand(k)
                if anchor:
                    interval = self.definite(anchor[1])
                    if interval is not None:
                        if direction == "after":
                            day = shift_by(interval.end, unit, n)
                        else:
                            day = shift_by(interval.start, unit, -n)
                        return anchor[0], Interval(day, day)
            if direction in ("ago", "back") or (
                direction in ("prior", "before") and self._ends_clause(j + 2)
            ):
                day = shift_by(self.as_of, unit, -n)
                return j + 2, Interval(day, day)
        except (OverflowError, ValueError):
            return None
        return None

    def _ends_clause(self, i: int) -> bool:
        if i >= len(self.tokens):
            return True
        token = self.tokens[i]
        return token.kind == "punct" or token.low in vocab.CLAUSE_WORDS

    def to_date(self, i: int) -> _Parse | None:
        abbreviations = {"ytd": "year", "qtd": "quarter", "mtd": "month", "wtd": "week"}
        if self.low(i) in abbreviations:
            return i + 1, self._so_far(abbreviations[self.low(i)])  # type: ignore[arg-type]
        j = self.the(i)
        if self.low(j) not in ("week", "month", "quarter", "year", "so", "this"):
            return None
        for unit in ("week", "month", "quarter", "year"):
            k = self.words(j, unit, "to", "date")
            if k is not None:
                return k, self._so_far(unit)  # type: ignore[arg-type]
            k = self.words(i, "so", "far", "this", unit)
            if k is None:
                k = self.words(i, "this", unit, "so", "far")
            if k is not None:
                return k, self._so_far(unit)  # type: ignore[arg-type]
        return None

    def _so_far(self, unit: Unit) -> Interval:
        return Interval(calendar_period(unit, self.as_of).start, self.as_of)

    # composition ----------------------------------------------------------------
    def definite(self, value: _Value) -> Interval | None:
        return value.resolve(self.as_of) if isinstance(value, _Yearless) else value

    def point(self, i: int, bare_ok: bool) -> _Parse | None:
        """Any expression but a range: an operand of since, between, before."""
        return self._remember("point", i, bare_ok, lambda: self._point(i, bare_ok))

    def _point(self, i: int, bare_ok: bool) -> _Parse | None:
        return _longest(
            self.explicit(i, bare_ok),
            self.relative(i),
            self.offset(i),
            self.window(i),
            self.to_date(i),
            self.since(i),
        )

    def operand(self, i: int) -> _Parse | None:
        """What follows since, until, through...: a range or a point."""
        return _longest(self.between(i, True), self.point(i, True))

    def since(self, i: int) -> _Parse | None:
        if self.low(i) != "since":
            return None
        found = self.operand(i + 1)
        interval = self.definite(found[1]) if found else None
        if found is None or interval is None or interval.start > self.as_of:
            return None
        return found[0], Interval(interval.start, self.as_of)

    def between(self, i: int, bare_ok: bool) -> _Parse | None:
        """A range: "from A to B", "between A and B", "A through B" (chains extend it)."""
        return self._remember("between", i, bare_ok, lambda: self._between(i, bare_ok))

    def _between(self, i: int, bare_ok: bool) -> _Parse | None:
        keyword = self.low(i)
        connectors = vocab.CONNECTORS
        if keyword in ("from", "between"):
            connectors = ("and",) if keyword == "between" else vocab.CONNECTORS
            i, bare_ok = i + 1, True
        first = self.point(i, bare_ok)
        if first is None or self.low(first[0]) not in connectors:
            return None
        end, value = first
        # "A to B to C" is read as one range so that a second pass, which sees
        # the first range already rendered, cannot join it with C afresh.
        while self.low(end) in connectors:
            # "between A and from B to C" is no range: "and" takes a point only.
            operand = self.point(end + 1, True) if self.low(end) == "and" else self.operand(end + 1)
            second = operand or self._now(end)
            joined = self._join(value, second[1]) if second else None
            if second is None or joined is None:
                break
            end, value, connectors = second[0], joined, vocab.CONNECTORS
        return (end, value) if isinstance(value, Interval) and end > first[0] else None

    def _now(self, connector: int) -> _Parse | None:
        """An open range end: "between 2025 and now", "from January to date"."""
        j = self.the(connector + 1)
        ends = ("now", "present", "today") + (("date",) if self.low(connector) == "to" else ())
        return (j + 1, Interval(self.as_of, self.as_of)) if self.low(j) in ends else None

    def _join(self, first: _Value, second: _Value) -> Interval | None:
        """Join two range ends; a yearless end takes its year from the other one."""
        if isinstance(second, _Yearless):
            if isinstance(first, _Yearless):
                second = second.resolve(self.as_of)
            else:
                second = second.near(first.start, before=False)
        if second is None:
            return None
        if isinstance(first, _Yearless):
            first = first.near(second.end, before=True)
        if first is None or first.start > second.end:
            return None
        return Interval(first.start, second.end)

    def expression(self, i: int, bare_ok: bool) -> tuple[int, int, Interval] | None:
        """The longest expression starting at token i, as (first, after-last, interval)."""
        if self.low(i - 1) in vocab.OTHER_CALENDARS:
            return None
        found = _longest(self.between(i, bare_ok), self.point(i, bare_ok))
        if found:
            interval = self.definite(found[1])
            return (i, found[0], interval) if interval else None
        if self.low(i) not in vocab.BOUNDARY_STARTS:
            return None
        for words, edge in vocab.BOUNDARIES.items():
            j = self.words(i, *words)
            operand = self.operand(j) if j is not None else None
            interval = self.definite(operand[1]) if operand else None
            if j is not None and operand and interval:
                day = interval.start if edge == "start" else interval.end
                return j, operand[0], Interval(day, day)
        return None
