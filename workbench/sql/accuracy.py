"""Execution accuracy: does a predicted query return what the gold query returns?

Two queries are judged by their results on the same database, in the manner of Spider's
test-suite evaluation and BIRD, with these semantics:

- **Rows are a multiset.** Duplicates count; row order is ignored unless the gold query's
  outermost SELECT has ORDER BY. Then the prediction must list the rows in the gold's order,
  where rows that tie on the gold's ORDER BY keys may come in any order among themselves, also
  when the keys are not output columns (``workbench.sql.ordering``).
- **Columns are matched by their values**, not by position or alias: ``SELECT n, name`` matches
  ``SELECT name AS author, n``. A column permutation is searched (candidates are columns with
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
  30 days), equal only other intervals, and within 1e-6 of their value: PostgreSQL and DuckDB
  average intervals in different arithmetic (``values.INTERVAL_RELATIVE_TOLERANCE``).
- **Strings and bytes** are compared exactly (case and spacing matter).
- **Size**: results larger than the row cap are compared in the database, streamed in chunks
  (``workbench.sql.large``); the cap only limits what is kept for display.

Every verdict carries a reason a person can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.sql.columns import candidate_permutations
from workbench.sql.execute import QueryResult
from workbench.sql.ordering import first_order_difference, gold_is_ordered, same_sequence, sort_keys
from workbench.sql.reasons import (
    Difference,
    content_reason,
    count_reason,
    display,
    mapping_note,
    order_not_checked,
    order_reason,
    same_order,
    same_rows,
    width_reason,
)
from workbench.sql.values import multiset_difference, normalize_value


@dataclass(frozen=True)
class Verdict:
    """Whether the prediction is equivalent to the gold, and why."""

    equivalent: bool
    reason: str
    database: str | None = None
    """The variant database the two were told apart on (None: the main database)."""
    empty: bool = False
    """Both returned no rows (equivalent here, but such a pair proves little)."""
    undetermined: bool = False
    """Both returned no rows on every database judged: the data cannot tell a right query
    from a wrong one, so the pair is neither equivalent nor different (``equivalent`` False)."""


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
            False,
            f"the gold result was cut at {gold.row_count} rows; compare it with "
            "workbench.sql.compare_queries, which streams results larger than the row cap",
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
        guess = next(iter(candidate_permutations(gold_rows, pred_rows, width)))
        mapped = permute(pred_rows, guess)
        missing, extra = multiset_difference(gold_rows, mapped)
        reason = count_reason(len(gold_rows), len(pred_rows), Difference.of(missing, extra))
        if set(missing) <= set(mapped) and set(extra) <= set(gold_rows):
            reason += " (the same distinct rows: check DISTINCT, GROUP BY or the joins)"
        return Verdict(False, reason)

    verified: list[tuple[int, ...]] = []
    first_try: Difference | None = None
    for candidate in candidate_permutations(gold_rows, pred_rows, width):
        difference = Difference.of(*multiset_difference(gold_rows, permute(pred_rows, candidate)))
        if difference.none:
            verified.append(candidate)
            if not ordered:
                break
        elif first_try is None:
            first_try = difference
    if not verified:
        assert first_try is not None
        return Verdict(False, content_reason(first_try))

    note = mapping_note(gold.columns, pred.columns, verified[0])
    if not ordered or len(gold_rows) <= 1:
        return Verdict(True, same_rows(len(gold_rows), note), empty=not gold_rows)
    gold_keys = _normalized_keys(gold, gold_rows, keys)
    if gold_keys is None:
        return Verdict(True, order_not_checked(len(gold_rows), note))
    # Columns with equal values may pair up several ways; any pairing in the gold's order will do.
    positions = []
    for permutation in verified:
        permuted = permute(pred_rows, permutation)
        position = first_order_difference(gold_rows, permuted, gold_keys)
        if position is None:
            note = mapping_note(gold.columns, pred.columns, permutation)
            moved = not same_sequence(gold_rows, permuted)
            return Verdict(True, same_order(len(gold_rows), note, ties_moved=moved))
        positions.append(position)
    position, permutation = positions[0], verified[0]
    return Verdict(
        False,
        order_reason(
            position,
            display(gold.rows[position]),
            display(permute([pred.rows[position]], permutation)[0]),
            pred_ordered=has_order(pred.sql),
        ),
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


def has_order(sql: str) -> bool:
    """Whether ``sql`` has an outer ORDER BY (False when it does not parse)."""
    try:
        return gold_is_ordered(sql)
    except Exception:
        return False


def permute(rows: Sequence[tuple[Any, ...]], permutation: Sequence[int]) -> list[tuple[Any, ...]]:
    """Rows with their columns in gold order (``permutation[i]``: the column that is gold's i)."""
    return [tuple(row[j] for j in permutation) for row in rows]
