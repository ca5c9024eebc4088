"""Temporal expressions resolved in Python against a pinned as-of date.

Small models are poor at date arithmetic ("300 days prior" lands days off), so
stage 1 lets Python find and resolve every expression it can read, and asks the
model only to point at expressions Python could not parse; Python then does the
arithmetic for those too (``resolve_expression``). Nothing here reads the clock.

Conventions (all ranges inclusive):

- Weeks run Monday to Sunday; a weekend is that week's Saturday and Sunday.
- "this X" (X = week, weekend, month, quarter, half, year) is the whole calendar X
  containing the as-of date; "last/previous/prior X" the whole one before it;
  "next X" the one after. "last Monday" is the Monday of last week; "last
  March" the latest March before the current month, "this March" the one in
  the as-of year.
- "past/last N units" is the N-unit window ending on the as-of date: days and
  weeks count back N*1 or N*7 days; months, quarters and years step back N
  months (clamped to the month's end) and start the day after, so with as-of
  2026-03-31 "the past 3 months" is 2026-01-01 through 2026-03-31. "the past
  week" (no number) is the same window with N = 1; "last week" is the calendar week.
- "N units ago|back|prior|before" is one date; month arithmetic clamps to the
  month's end (2026-03-31 minus one month is 2026-02-28). "prior"/"before" are
  only read this way when no object follows ("3 days before discharge" is left
  alone, it is relative to an event, not to today).
- "X to date" (YTD, MTD, QTD, WTD, "so far this X") runs from the start of the
  period to the as-of date; "since D" from the start of D to the as-of date
  (when D has not begun yet, "since" stays and D becomes its first day).
- A period right after "fiscal", "academic", "school" or "tax" follows another
  calendar and is left for the model.
- Without a year, a month-day ("Jan 15") or a month ("in January") means the most
  recent one that has begun by the as-of date; a quarter or half ("Q1", "H2") is
  the one in the as-of year. Numeric dates are read month first (US), unless
  the first number cannot be a month.
- After "before", "after", "until", "by", "through" and similar, a period
  becomes the boundary date: "before March 2025" -> "before 2025-03-01",
  "after Q3 2025" -> "after 2025-09-30"; the keyword stays in the text.
- A bare year ("2025") or bare month name is a date only after a word such as
  "in", "during", "since", "from", "between"; plain numbers never are
  ("3 or more", "top 5", "COVID 19"). Lowercase "may" is the verb unless a
  year follows it or it stands after such a word with no verb after it.
- A range ("from A to B", "between A and B", "A through B") runs from the start
  of A to the end of B; an end written without a year takes the other end's
  ("between Jan 1 and Mar 31 2026"); "now", "the present" or "date" may close
  it; "the week of D" is the Monday-to-Sunday week containing D.
- A possessive "'s" after an expression goes with it ("last week's results"
  -> "from 2026-03-23 through 2026-03-29 results").
- A range replaces a directly preceding "in", "during", "for", "over", "within",
  "throughout" or "from", which would otherwise read badly before "from ...":
  "orders in Q1 2026" -> "orders from 2026-01-01 through 2026-03-31". Single
  dates keep their preposition ("on 01/15/2026" -> "on 2026-01-15").
- Explicit dates and ranges are spans too ("orders on 2026-01-20" is the day
  2026-01-20, "from 2025-11-03 through 2025-11-09" that week); text already in the
  canonical form ("2026-01-15", "2026-01-01 through 2026-03-31", with or without a
  leading "from") is reported and left as it is, so resolving twice changes nothing
  and finds the same ranges.
- A part of a period is counted inside it: "the last quarter of 2024" is
  2024-10-01 through 2024-12-31, "the first half of 2025" its first six months,
  "the last month of 2025" December; weeks and days are counted in days from the
  start (or the end, for "last") of the period: "the first week of March" is March
  1 to 7, "the second week of January 2026" January 8 to 14, "the last week of
  2025" December 25 to 31, "the first 10 days of March" March 1 to 10. A part that
  does not fit ("the fifth week of February") is not a date. Alone, "the last
  quarter" is still the quarter before the current one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from workbench.dates.grammar import Parser
from workbench.dates.words import (
    ABSORBED,
    DATE_CONTEXT,
    LIST_WORDS,
    MONTHS,
    TAKES_OPERAND,
    tokenize,
)


@dataclass(frozen=True)
class DateSpan:
    """One temporal expression found in a text and the inclusive range it means."""

    source: str
    start: date
    end: date
    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"date span {self.source!r} starts after it ends")

    @property
    def rendered(self) -> str:
        """The replacement text: one ISO date, or "from A through B"."""
        if self.start == self.end:
            return self.start.isoformat()
        return f"from {self.start.isoformat()} through {self.end.isoformat()}"


@dataclass(frozen=True)
class DateRewrite:
    """A text with every resolved expression replaced by its rendered form."""

    text: str
    spans: tuple[DateSpan, ...]


_CANONICAL = re.compile(r"(?:from\s+)?\d{4}-\d{2}-\d{2}(?:\s+through\s+\d{4}-\d{2}-\d{2})?")


_POSSESSIVE = re.compile(r"['\u2019]s\b")


def _scan(text: str, as_of: date) -> Iterator[DateSpan]:
    tokens = tokenize(text)
    parser = Parser(tokens, as_of)
    i = done = 0  # done: index after the last token of the previous expression
    while i < len(tokens):
        before = parser.low(i - 1)
        bare_ok = before in DATE_CONTEXT or (before in LIST_WORDS and i - 1 == done > 0)
        found = parser.expression(i, bare_ok)
        if found is None:
            i += 1
            continue
        first, after, interval = found
        core = text[tokens[first].start : tokens[after - 1].end]
        if _CANONICAL.fullmatch(core.lower()):
            # Already written as it would be rendered: reported, and left as it stands.
            offset = tokens[first].start
            yield DateSpan(core, interval.start, interval.end, offset, len(core))
            i = done = after
            continue
        if (
            interval.start != interval.end
            and first - 1 >= done
            and parser.low(first - 1) in ABSORBED
            and parser.low(first - 2) not in TAKES_OPERAND
            and parser.low(first) not in ("from", "between", "since")
        ):
            first -= 1
        end = tokens[after - 1].end
        possessive = _POSSESSIVE.match(text, end)  # "last week's results"
        if possessive:
            end = possessive.end()
        offset = tokens[first].start
        source = text[offset:end]
        yield DateSpan(source, interval.start, interval.end, offset, len(source))
        i = done = after


def resolve_relative_dates(text: str, as_of: date) -> DateRewrite:
    """Rewrite every temporal expression in ``text`` as an inclusive ISO range.

    Everything outside the expressions stays byte-identical. See the module
    docstring for the conventions.
    """
    spans = tuple(_scan(text, as_of))
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        kept = _CANONICAL.fullmatch(span.source.lower())  # already written as Python would
        pieces += [text[cursor : span.offset], span.source if kept else span.rendered]
        cursor = span.offset + span.length
    pieces.append(text[cursor:])
    return DateRewrite("".join(pieces), spans)


def resolve_expression(expression: str, as_of: date) -> DateSpan | None:
    """Resolve one expression (e.g. one the model pointed at); None if not understood.

    Unlike the scan, the whole string must be one expression, a bare year or
    month is accepted, and canonical ISO text resolves too.
    """
    stripped = expression.strip().rstrip(".,;:!?")
    tokens = tokenize(stripped)
    if not tokens:
        return None
    parser = Parser(tokens, as_of)
    skip = 1 if tokens[0].low in ABSORBED | {"on"} else 0
    for start in dict.fromkeys((0, skip)):
        found = parser.expression(start, bare_ok=True)
        if found and found[0] == start and found[1] == len(tokens):
            offset = expression.index(stripped)
            return DateSpan(stripped, found[2].start, found[2].end, offset, len(stripped))
    return None


_MONTH_PATTERN = "|".join(sorted(MONTHS, key=len, reverse=True))
_HINTS = re.compile(
    rf"""
    \b(?:recent(?:ly)?|lately|nowadays|these\s+days|the\s+other\s+day
    | (?:earlier|later)\s+(?:this|today|that)(?:\s+(?:week|month|quarter|year))?
    | (?:the\s+)?holidays?(?:\s+season)?|christmas|thanksgiving|easter|halloween
    | new\s+year'?s?(?:\s+(?:day|eve))?
    | (?:(?:this|last|next|the|in|since|during|over)\s+)?(?:spring|summer|autumn|winter)(?:\s+(?:of\s+)?\d{{4}})?
    | (?:this|last|next|the|in|since|during|over)\s+fall(?:\s+(?:of\s+)?\d{{4}})?
    | (?:(?:a|an|a\s+few|few|several|couple|of|some|many|\d+)\s+)*(?:\w+\s+)?(?:days?|weeks?|months?|years?|while|time)\s+ago
    | \w+\s+ago
    | (?:[\w-]+\s+){{0,2}}(?:days?|weeks?|months?|quarters?|years?|while)\s+back
    | (?:last|past|next|previous|prior|coming|upcoming|this|these|those)\s+(?:few|several|couple(?:\s+of)?|\w+)\s+(?:business\s+)?(?:days|weeks|months|quarters|years|hours)
    | (?:next|coming|upcoming)\s+(?:week|month|quarter|year|weekend)
    | (?:(?:on|last|this|next|since|every)\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?
    | (?:last|past|previous|next|within)\s+(?:the\s+)?(?:(?:\d+|[a-z]+)\s+)?hours?
    | fiscal\s+(?:year|quarter|half)(?:\s+\d{{2,4}})?|fy\s?'?\d{{2,4}}
    | (?:early|late|mid)[\s-]+(?:{_MONTH_PATTERN}|\d{{4}}|(?:this|last|next)\s+\w+)
    | (?:the\s+)?(?:end|start|beginning|middle)\s+of\s+(?:the\s+)?(?:week|month|quarter|year)
    | since\s+(?:the\s+)?\w+
    | \w+\s+(?:days|weeks|months|years)\s+(?:before|prior\s+to|after)\s+\w+
    | \w+\s+(?:days?|weeks?|months?|years?)\s+(?:earlier|later)
    | (?:first|last|final)\s+\w+\s+(?:days|weeks|months)\s+of\s+\w+
    )\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


def find_unresolved_hints(text: str, as_of: date | None = None) -> list[str]:
    """Temporal-looking phrases the scan did not resolve, for the model to look at.

    Deliberately loose: a false hint costs one model call, a missed one a wrong
    answer. ``as_of`` only matters for "since <future date>"; by default any
    date is taken as past.
    """
    reference = as_of or date(2999, 12, 31)
    masked = list(text)
    for span in _scan(text, reference):
        masked[span.offset : span.offset + span.length] = "\x00" * span.length
    remaining = "".join(masked)
    return list(dict.fromkeys(m.group().strip() for m in _HINTS.finditer(remaining)))
