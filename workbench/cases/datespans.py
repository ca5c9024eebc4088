"""Relative dates that look at no data: a case asked on an as-of date the data does not reach.

"last quarter" means the quarter before the case's ``as_of`` (the workspace's, unless the case
names its own). On a database whose data ends in 2011, a workspace left on the default as-of
date makes every relative-date case look at empty years: the gold returns nothing, or the
same nothing as a wrong reading, and no check fails. ``smoke check`` therefore reads the
range each date column spans and warns about each relative date of a case that falls
outside all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from workbench.cases.suite import EMPTY_EXPECTED, SmokeCase
from workbench.dates import resolve_relative_dates
from workbench.errors import SQLError
from workbench.sql import Database
from workbench.sql.catalog import quote

_EXPLICIT = re.compile(r"(?:from\s+)?\d{4}-\d{2}-\d{2}(?:\s+(?:through|to)\s+\d{4}-\d{2}-\d{2})?")
_DATE_TYPES = ("DATE", "TIMESTAMP")
ON_PURPOSE = (EMPTY_EXPECTED, "out-of-range")
"""Tags of cases that ask about a period without data on purpose."""


@dataclass(frozen=True)
class DataRange:
    """The first and last day one date column holds."""

    column: str
    first: date
    last: date


def data_ranges(database: Database) -> tuple[DataRange, ...]:
    """The range of every DATE or TIMESTAMP column with a value (one query per column)."""
    ranges = []
    for table in database.describe().tables:
        for column in table.columns:
            if not column.data_type.upper().startswith(_DATE_TYPES):
                continue
            sql = f"SELECT MIN({quote(column.name)}), MAX({quote(column.name)}) FROM {quote(table.name)}"
            try:
                (first, last), *_ = database.run(sql).rows
            except (SQLError, ValueError):
                continue
            if first is not None and last is not None:
                ranges.append(DataRange(f"{table.name}.{column.name}", _day(first), _day(last)))
    return tuple(ranges)


def empty_relative_dates(cases: Iterable[SmokeCase], ranges: Iterable[DataRange]) -> list[str]:
    """One warning per case whose relative dates all resolve outside every date column's range."""
    ranges = tuple(ranges)
    if not ranges:
        return []
    first = min(r.first for r in ranges)
    last = max(r.last for r in ranges)
    warnings = []
    for case in cases:
        if any(tag in case.tags for tag in ON_PURPOSE):
            continue
        spans = [
            s
            for s in resolve_relative_dates(case.question, case.as_of).spans
            if not _EXPLICIT.fullmatch(s.source.strip().lower())
        ]
        empty = [
            s for s in spans if not any(s.start <= r.last and r.first <= s.end for r in ranges)
        ]
        if spans and len(empty) == len(spans):
            span = empty[0]
            where = f" ({case.source})" if case.source else ""
            warnings.append(
                f"{case.id}{where}: {span.source!r} on {case.as_of} means {span.start} through "
                f"{span.end}, but the data's dates run from {first} to {last}: set [run] as_of "
                "in workbench.toml (or the case's as_of) to a day the data reaches"
            )
    return warnings


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
