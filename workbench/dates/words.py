"""The words and tokens dates are written with, for the date grammar.

Kept apart from the parser so that the vocabulary (which words count as context,
which prepositions a range absorbs) can be read and adjusted in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from workbench.dates.periods import Unit

# Word lists read best as one string each.
_MONTH_WORDS = (
    "january february march april may june july august september october november december"
)
MONTH_NAMES = _MONTH_WORDS.split()
MONTHS: dict[str, int] = {name: i + 1 for i, name in enumerate(MONTH_NAMES)}
MONTHS.update({name[:3]: i + 1 for i, name in enumerate(MONTH_NAMES)})
MONTHS["sept"] = 9
_WEEKDAY_NAMES = "monday tuesday wednesday thursday friday saturday sunday"
WEEKDAYS = {name: i for i, name in enumerate(_WEEKDAY_NAMES.split())}
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
SMALL = _SMALL_NUMBERS.split()
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
TENS |= {"eighty": 80, "ninety": 90}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3}
ORDINALS["4th"] = 4
UNITS = {
    f"{unit}{plural}": unit
    for unit in ("day", "week", "month", "quarter", "year")
    for plural in ("", "s")
}
PART_UNITS: dict[str, Unit] = {
    f"{unit}{plural}": unit  # type: ignore[misc]
    for unit in ("day", "week", "month", "quarter")
    for plural in ("", "s")
} | {"half": "half"}
"""Units a period is cut into: "the first week of March", "the last 3 months of 2025"."""
FINAL = {"last", "final"}
THIS = {"this", "current"}
LAST = {"last", "previous", "prior"}
WINDOW = {"past", "last", "previous", "prior", "trailing", "preceding"}
CALENDAR_UNITS: tuple[Unit, ...] = ("week", "weekend", "month", "quarter", "half", "year")
# Words after which a bare year or month name is read as a date.
DATE_CONTEXT = {"in", "during", "for", "since", "from", "between", "until", "till", "through"}
DATE_CONTEXT |= {"thru", "before", "after", "throughout", "within", "across"}
# Words that carry the date context of an expression just before them ("in 2024 and 2025").
LIST_WORDS = {"and", "or", ",", "&"}
# Lowercase "may" is a month only when one of these (or nothing) follows it.
AFTER_MAY = {"and", "or", "of", "to", "through", "until", "till", "for", "with", "so"}
ABSORBED = {"in", "during", "for", "over", "within", "throughout", "from"}
# Words that take a date after them; a preposition after one of these is not absorbed,
# or the "from" it turns into would be read with them on a second pass.
TAKES_OPERAND = {"since", "-", "to", "through", "thru", "until", "till", "before", "after"}
TAKES_OPERAND |= {"by", "of", "than", "starting", "ending"}
# Boundary keyword -> which end of the following period it means.
BOUNDARIES: dict[tuple[str, ...], Literal["start", "end"]] = {
    ("before",): "start",
    ("since",): "start",  # only when "since D" itself failed: D lies after the as-of date
    ("after",): "end",
    ("until",): "end",
    ("till",): "end",
    ("through",): "end",
    ("thru",): "end",
    ("by",): "end",
    ("prior", "to"): "start",
    ("up", "to"): "end",
    ("as", "of"): "end",
    ("earlier", "than"): "start",
    ("later", "than"): "end",
    ("starting",): "start",
    ("ending",): "end",
}
BOUNDARY_STARTS = {words[0] for words in BOUNDARIES}
# Words joining the two ends of a range ("between" takes "and").
CONNECTORS = ("to", "through", "thru", "until", "till", "-")
# Periods after these words follow another calendar; left for the model.
OTHER_CALENDARS = {"fiscal", "financial", "academic", "school", "tax", "fy"}
# After "N days prior/before", these words begin a new clause rather than an object.
CLAUSE_WORDS = {"and", "or", "but", "with", "for", "in", "on", "at", "across", "sorted"}
CLAUSE_WORDS |= {"grouped", "ordered", "who", "which", "where", "when", "whose", "by"}


# --- tokens ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<iso>\d{4}-\d{1,2}-\d{1,2})(?![\w-])
  | (?P<ymd>\d{4}/\d{1,2}/\d{1,2})(?![\w/])
  | (?P<mdy>\d{1,2}(?P<sep>[/-])\d{1,2}(?P=sep)(?:\d{4}|\d{2}))(?![\w/-])
  | (?P<num>\d+(?:st|nd|rd|th)?)(?!\w)
  | (?P<other>\d\w*)
  | (?P<word>[^\W\d_][^\W_]*)
  | (?P<punct>[^\s\w]|_)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """A word, number, numeric date or punctuation mark, with its place in the text."""

    kind: str
    text: str
    low: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split a text into tokens; whitespace separates them and is dropped."""
    return [
        Token(m.lastgroup or "other", m.group(), m.group().lower(), m.start(), m.end())
        for m in _TOKEN.finditer(text)
    ]
