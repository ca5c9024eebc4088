"""The words of a verdict: why two results differ, or in what way they are the same.

Kept apart from the comparisons (``accuracy`` in memory, ``large`` streamed in the database) so
that both say the same thing the same way, and every sentence says only what was checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from workbench.sql.values import is_number

SAMPLE_ROWS = 20
"""Rows kept of each side of a difference: examples, and the material of the rounding hint."""


@dataclass(frozen=True)
class Difference:
    """How two results differ as multisets: counts of rows each side lacks, and a few of them."""

    missing: int
    extra: int
    missing_sample: tuple[tuple[Any, ...], ...] = ()
    extra_sample: tuple[tuple[Any, ...], ...] = ()

    @classmethod
    def of(cls, missing: Sequence[tuple[Any, ...]], extra: Sequence[tuple[Any, ...]]) -> Difference:
        """From every missing and extra row (normalized values)."""
        return cls(
            len(missing), len(extra), tuple(missing[:SAMPLE_ROWS]), tuple(extra[:SAMPLE_ROWS])
        )

    @property
    def none(self) -> bool:
        return not self.missing and not self.extra


def width_reason(gold_columns: Sequence[str], pred_columns: Sequence[str]) -> str:
    """Why results with different numbers of columns differ."""
    difference = len(pred_columns) - len(gold_columns)
    noun = "column" if abs(difference) == 1 else "columns"
    what = (
        f"has {difference} extra {noun}" if difference > 0 else f"is missing {-difference} {noun}"
    )
    return (
        f"prediction {what}: gold returns {_names(gold_columns)}, "
        f"prediction returns {_names(pred_columns)}"
    )


def count_reason(gold_count: int, pred_count: int, difference: Difference) -> str:
    """Why results with different numbers of rows differ."""
    reason = f"prediction has {rows(pred_count)}, gold has {gold_count}"
    if pred_count > gold_count and difference.extra and not difference.missing:
        return (
            f"{reason}; prediction returns {difference.extra} extra {_noun(difference.extra)} "
            f"such as {display_normalized(difference.extra_sample[0])}"
        )
    parts = []
    if difference.missing:
        parts.append(
            f"gold rows missing such as {display_normalized(difference.missing_sample[0])}"
        )
    if difference.extra:
        parts.append(
            f"prediction returns {difference.extra} extra {_noun(difference.extra)} "
            f"such as {display_normalized(difference.extra_sample[0])}"
        )
    return reason + ("; " + "; ".join(parts) if parts else "")


def content_reason(difference: Difference) -> str:
    """Why results with the same number of rows differ."""
    reason = (
        f"same number of rows but different values: {difference.missing} gold "
        f"{_noun(difference.missing)} not returned, such as "
        f"{display_normalized(difference.missing_sample[0])}"
    )
    if difference.extra:
        reason += (
            "; the prediction returns instead rows such as "
            f"{display_normalized(difference.extra_sample[0])}"
        )
    return reason + _rounding_hint(difference)


def _rounding_hint(difference: Difference) -> str:
    for gold_value, pred_value in itertools.product(
        (v for row in difference.missing_sample for v in row if isinstance(v, float)),
        (v for row in difference.extra_sample for v in row if is_number(v)),
    ):
        for digits in range(0, 7):
            if round(gold_value, digits) == pred_value and gold_value != pred_value:
                return f" (the prediction looks rounded: {pred_value} vs gold {gold_value}; drop the ROUND or match the gold's precision)"
    return ""


def same_rows(count: int, note: str = "") -> str:
    return f"same {rows(count)}{note}"


def same_order(count: int, note: str, *, ties_moved: bool) -> str:
    """An ordered match: exactly the gold's sequence, or its order with ties broken otherwise."""
    if not ties_moved:
        return f"same {rows(count)} in the same order{note}"
    return (
        f"same {rows(count)} in the gold's order{note}; rows that tie on its ORDER BY keys "
        "come in another order, which the gold leaves open"
    )


def order_not_checked(count: int, note: str) -> str:
    return (
        f"same {rows(count)}{note}; the order was not checked: the gold sorts by ORDER BY keys "
        "that are not output columns, and they could not be computed"
    )


def order_reason(position: int, gold_row: str, pred_row: str, *, pred_ordered: bool) -> str:
    """Why the same rows in another order differ (``position`` is 0-based)."""
    detail = f"row {position + 1} differs: gold {gold_row} vs prediction {pred_row}"
    if not pred_ordered:
        return f"gold is ordered, prediction is not (same rows, no ORDER BY); {detail}"
    return f"same rows in a different order; {detail}"


def mapping_note(
    gold_columns: Sequence[str], pred_columns: Sequence[str], permutation: Sequence[int]
) -> str:
    if list(permutation) == list(range(len(permutation))):
        return ""
    pairs = ", ".join(
        f"{pred_columns[j]}→{gold_columns[i]}" for i, j in enumerate(permutation) if i != j
    )
    return f" (columns matched by value: {pairs})"


def _names(columns: Sequence[str]) -> str:
    return f"{len(columns)} ({', '.join(columns)})"


def rows(count: int) -> str:
    return f"{count} {_noun(count)}"


def _noun(count: int) -> str:
    return "row" if count == 1 else "rows"


def display(row: Sequence[Any]) -> str:
    """A row of raw result values as the reason shows it."""
    return "(" + ", ".join(_show(v) for v in row) + ")"


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def display_normalized(row: Sequence[Any]) -> str:
    """A row of normalized values (``values.normalize_value``) as the reason shows it."""

    def show(value: Any) -> str:
        if (
            isinstance(value, tuple)
            and value
            and value[0] in {"datetime", "time", "bool", "interval"}
        ):
            inner = value[1]
            if value[0] == "interval":
                return f"{inner:g} s"
            if isinstance(inner, datetime) and inner.time() == time(0):
                return inner.date().isoformat()
            return _show(inner)
        if value == ("nan",):
            return "NaN"
        return _show(value)

    return "(" + ", ".join(show(v) for v in row) + ")"
