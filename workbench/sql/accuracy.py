"""Execution accuracy: does a predicted query return what the gold query returns?

Two queries are judged by their results on the same database, in the manner of Spider's
test-suite evaluation and BIRD, with these semantics:

- **Rows are a multiset.** Duplicates count; row order is ignored unless the gold query's
  outermost SELECT has ORDER BY. Then the prediction must list the rows in the gold's order,
  where rows that tie on the gold's ORDER BY keys may come in any order among themselves, also
  when the keys are not output columns (``workbench.sql.ordering``).
- **Columns are matched by their values**, not by position or alias: ``SELECT n, name`` matches
  ``SELECT name AS physician, n``. A column permutation is searched (candidates are columns with
  the same multiset of values, then every permutation is verified on the rows). A different
  number of columns is a mismatch.
- **Numbers**: an int, a Decimal and a float of the same value are equal; two integers (or
  integral decimals) must be equal exactly: counts differing by one are a different answer.
  Two numbers at least one of which is a float (or a fractional decimal) are equal when they
  differ by floating-point noise only (at most 1e-11 of the larger, or 1e-12 near zero), or when
  one is the other rounded to 6 decimals and the other is at least 1 in size (the rounding then
  moves it by at most 5e-7 of itself). Why so tight: one row more or less in a sum of many
  (a 5.6 million total missing a value of 0.03 moves by 5e-9) is a different answer, and noise
  stays orders of magnitude below 1e-11. Other rounding is not forgiven: ``ROUND(x, 2)``
  against ``x`` is a mismatch and the reason says the prediction looks rounded. Booleans are
  not numbers (``TRUE`` does not equal ``1``). NaN equals NaN.
- **NULL equals NULL.**
- **Dates and times**: a date equals a timestamp at midnight of that day; time zone aware
  timestamps are compared in UTC; intervals are compared as seconds (DuckDB counts a month as
  30 days) and equal only other intervals.
- **Strings and bytes** are compared exactly (case and spacing matter).
- A **truncated** result (cut at the row cap) is never declared equivalent.

Every verdict carries a reason a person can act on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from workbench.sql.columns import candidate_permutations
from workbench.sql.execute import QueryResult
from workbench.sql.ordering import first_order_difference, gold_is_ordered, same_sequence, sort_keys
from workbench.sql.values import is_number, multiset_difference, normalize_value


@dataclass(frozen=True)
class Verdict:
    """Whether the prediction is equivalent to the gold, and why."""

    equivalent: bool
    reason: str


# --- the verdict ---------------------------------------------------------------------------


def compare_results(
    gold: QueryResult,
    pred: QueryResult,
    *,
    ordered: bool,
    keys: Sequence[tuple[Any, ...]] | None = None,
) -> Verdict:
    """Judge a prediction's result against the gold's (semantics in the module docstring).

    Args:
        ordered: the gold has an outer ORDER BY (``gold_is_ordered``).
        keys: the gold's ORDER BY key values for each gold row, when its keys are not all
            output columns (``run_gold`` computes them); without them such a gold's rows are
            compared as a bag and the reason says so.
    """
    if gold.truncated:
        return Verdict(
            False, f"the gold result was cut at {gold.row_count} rows; raise WORKBENCH_SQL_ROW_CAP"
        )
    if pred.truncated:
        return Verdict(
            False,
            f"the prediction's result was cut at {pred.row_count} rows; it returns too many rows",
        )
    width = len(gold.columns)
    if len(pred.columns) != width:
        return Verdict(False, width_reason(gold.columns, pred.columns))
    gold_rows = [tuple(normalize_value(v) for v in row) for row in gold.rows]
    pred_rows = [tuple(normalize_value(v) for v in row) for row in pred.rows]
    if len(gold_rows) != len(pred_rows):
        mapped = _permute(pred_rows, _best_guess(gold_rows, pred_rows, width))
        missing, extra = multiset_difference(gold_rows, mapped)
        reason = _count_reason(len(gold_rows), len(pred_rows), missing, extra)
        if set(missing) <= set(mapped) and set(extra) <= set(gold_rows):
            reason += " (the same distinct rows: check DISTINCT, GROUP BY or the joins)"
        return Verdict(False, reason)

    verified: list[tuple[int, ...]] = []
    first_try: tuple[list[Any], list[Any]] | None = None
    for candidate in candidate_permutations(gold_rows, pred_rows, width):
        missing, extra = multiset_difference(gold_rows, _permute(pred_rows, candidate))
        if not missing and not extra:
            verified.append(candidate)
            if not ordered:
                break
        elif first_try is None:
            first_try = (missing, extra)
    if not verified:
        assert first_try is not None
        return Verdict(False, _content_reason(*first_try))

    if not ordered or len(gold_rows) <= 1:
        note = _mapping_note(gold.columns, pred.columns, verified[0])
        return Verdict(True, f"same {_rows(len(gold_rows))}{note}")
    gold_keys = _normalized_keys(gold, gold_rows, keys)
    if gold_keys is None:
        note = _mapping_note(gold.columns, pred.columns, verified[0])
        return Verdict(
            True,
            f"same {_rows(len(gold_rows))}{note}; the order was not checked: the gold sorts "
            "by ORDER BY keys that are not output columns, and they could not be computed",
        )
    # Columns with equal values may pair up several ways; any pairing in the gold's order will do.
    positions = []
    for permutation in verified:
        permuted = _permute(pred_rows, permutation)
        position = first_order_difference(gold_rows, permuted, gold_keys)
        if position is None:
            note = _mapping_note(gold.columns, pred.columns, permutation)
            if same_sequence(gold_rows, permuted):
                return Verdict(True, f"same {_rows(len(gold_rows))} in the same order{note}")
            return Verdict(
                True,
                f"same {_rows(len(gold_rows))} in the gold's order{note}; rows that tie on "
                "its ORDER BY keys come in another order, which the gold leaves open",
            )
        positions.append(position)
    position, permutation = positions[0], verified[0]
    gold_row = _display(gold.rows[position])
    pred_row = _display(_permute([pred.rows[position]], permutation)[0])
    detail = f"row {position + 1} differs: gold {gold_row} vs prediction {pred_row}"
    if not _has_order(pred.sql):
        return Verdict(
            False, f"gold is ordered, prediction is not (same rows, no ORDER BY); {detail}"
        )
    return Verdict(False, f"same rows in a different order; {detail}")


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


def _normalized_keys(
    gold: QueryResult, gold_rows: list[tuple[Any, ...]], keys: Sequence[tuple[Any, ...]] | None
) -> list[tuple[Any, ...]] | None:
    """The gold's ORDER BY key values per row: given, read from output columns, or None."""
    if keys is not None:
        return [tuple(normalize_value(v) for v in key) for key in keys]
    plan = sort_keys(gold.sql, gold.columns)
    if plan is None or plan.sql is not None:
        return None
    return [plan.of(row) for row in gold_rows]


def _has_order(sql: str) -> bool:
    try:
        return gold_is_ordered(sql)
    except Exception:
        return False


def _permute(rows: Sequence[tuple[Any, ...]], permutation: Sequence[int]) -> list[tuple[Any, ...]]:
    return [tuple(row[j] for j in permutation) for row in rows]


def _best_guess(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], width: int
) -> tuple[int, ...]:
    return next(iter(candidate_permutations(gold, pred, width)), tuple(range(width)))


def _count_reason(gold_count: int, pred_count: int, missing: list[Any], extra: list[Any]) -> str:
    reason = f"prediction has {_rows(pred_count)}, gold has {gold_count}"
    if pred_count > gold_count and extra and len(missing) == 0:
        return f"{reason}; prediction returns {len(extra)} extra {_noun(len(extra))} such as {_display_normalized(extra[0])}"
    return reason + _examples(missing, extra)


def _content_reason(missing: list[Any], extra: list[Any]) -> str:
    reason = (
        f"same number of rows but different values: {len(missing)} gold "
        f"{_noun(len(missing))} not returned, such as {_display_normalized(missing[0])}"
    )
    if extra:
        reason += f"; the prediction returns instead rows such as {_display_normalized(extra[0])}"
    return reason + _rounding_hint(missing, extra)


def _examples(missing: list[Any], extra: list[Any]) -> str:
    parts = []
    if missing:
        parts.append(f"gold rows missing such as {_display_normalized(missing[0])}")
    if extra:
        parts.append(
            f"prediction returns {len(extra)} extra {_noun(len(extra))} "
            f"such as {_display_normalized(extra[0])}"
        )
    return "; " + "; ".join(parts) if parts else ""


def _rounding_hint(missing: list[Any], extra: list[Any]) -> str:
    for gold_value, pred_value in itertools.product(
        (v for row in missing[:20] for v in row if isinstance(v, float)),
        (v for row in extra[:20] for v in row if is_number(v)),
    ):
        for digits in range(0, 7):
            if round(gold_value, digits) == pred_value and gold_value != pred_value:
                return f" (the prediction looks rounded: {pred_value} vs gold {gold_value}; drop the ROUND or match the gold's precision)"
    return ""


def _mapping_note(
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


def _rows(count: int) -> str:
    return f"{count} {_noun(count)}"


def _noun(count: int) -> str:
    return "row" if count == 1 else "rows"


def _display(row: Sequence[Any]) -> str:
    return "(" + ", ".join(_show(v) for v in row) + ")"


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _display_normalized(row: Sequence[Any]) -> str:
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
