"""Execution accuracy: does a predicted query return what the gold query returns?

Two queries are judged by their results on the same database, in the manner of Spider's
test-suite evaluation and BIRD, with these semantics:

- **Rows are a multiset.** Duplicates count; row order is ignored unless the gold query's
  outermost SELECT has ORDER BY. Then the prediction must list the rows in the same order, where
  rows that tie on the gold's ORDER BY keys (when those keys are output columns) may come in any
  order among themselves.
- **Columns are matched by their values**, not by position or alias: ``SELECT n, name`` matches
  ``SELECT name AS physician, n``. A column permutation is searched (candidates are columns with
  the same multiset of values, then every permutation is verified on the rows). A different
  number of columns is a mismatch.
- **Numbers**: an int, a Decimal and a float of the same value are equal; two numbers at least
  one of which is a float (or a fractional decimal) are equal within a relative tolerance of 1e-6
  or an absolute one of 1e-9; two integers (or integral decimals) must be equal exactly: counts
  differing by one are a different answer.
  Rounding is not forgiven: ``ROUND(x, 2)`` against ``x`` is a mismatch unless the difference is
  within the tolerance; the reason then says the prediction looks rounded. Booleans are not
  numbers (``TRUE`` does not equal ``1``). NaN equals NaN.
- **NULL equals NULL.**
- **Dates and times**: a date equals a timestamp at midnight of that day; time zone aware
  timestamps are compared in UTC; intervals are compared as seconds (DuckDB counts a month as
  30 days) and equal only other intervals.
- **Strings and bytes** are compared exactly (case and spacing matter).
- A **truncated** result (cut at the row cap) is never declared equivalent.

Every verdict carries a reason a person can act on.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from workbench.errors import SQLError
from workbench.sql.check import parse_sql
from workbench.sql.execute import QueryResult, run_query

RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-9
MAX_PERMUTATIONS = 120
"""Column permutations verified before giving up on ambiguous columns."""


@dataclass(frozen=True)
class Verdict:
    """Whether the prediction is equivalent to the gold, and why."""

    equivalent: bool
    reason: str


# --- values -------------------------------------------------------------------------------


def normalize_value(value: Any) -> Any:
    """The canonical, hashable form of one result value (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if isinstance(value, Decimal):
            if value.is_nan():
                return ("nan",)
            if value.is_finite() and value == value.to_integral_value():
                return int(value)
            return float(value)
        return ("nan",) if math.isnan(value) else value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return ("datetime", value)
    if isinstance(value, date):
        return ("datetime", datetime(value.year, value.month, value.day))
    if isinstance(value, time):
        return ("time", value.replace(tzinfo=None))
    if isinstance(value, timedelta):
        return ("interval", value.total_seconds())
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, list | tuple):
        return ("list", tuple(normalize_value(v) for v in value))
    if isinstance(value, dict):
        return ("map", tuple(sorted((str(k), normalize_value(v)) for k, v in value.items())))
    return ("other", str(value))


def values_equal(gold: Any, pred: Any) -> bool:
    """Whether two normalized values are equal under the tolerance rules."""
    if gold == pred:
        return True
    if _is_number(gold) and _is_number(pred):
        if isinstance(gold, int) and isinstance(pred, int):
            return False
        return _close(float(gold), float(pred))
    if (
        isinstance(gold, tuple)
        and isinstance(pred, tuple)
        and len(gold) == len(pred) == 2
        and gold[0] == pred[0] == "interval"
    ):
        return _close(gold[1], pred[1])
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(RELATIVE_TOLERANCE * max(abs(a), abs(b)), ABSOLUTE_TOLERANCE)


def _rows_equal(gold: Sequence[Any], pred: Sequence[Any]) -> bool:
    return all(values_equal(g, p) for g, p in zip(gold, pred, strict=True))


def _coarse(value: Any) -> Any:
    """A hashable key equal for values that may be equal within tolerance."""
    if isinstance(value, float) and not math.isinf(value):
        return ("number",)
    if isinstance(value, int):
        return ("number",)
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "interval":
        return ("interval",)
    return value


# --- multisets -----------------------------------------------------------------------------


def multiset_difference(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of gold the prediction lacks, and rows of the prediction gold lacks (normalized).

    Exact matches are removed first; the rest are paired within the tolerance, bucketed by their
    non-numeric values and sorted by their numbers so each gold row looks at few candidates.
    """
    exact_gold = Counter(gold)
    exact_pred = Counter(pred)
    common = exact_gold & exact_pred
    left_gold = list((exact_gold - common).elements())
    left_pred = list((exact_pred - common).elements())
    if not left_gold or not left_pred:
        return left_gold, left_pred
    buckets: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in left_pred:
        buckets[tuple(_coarse(v) for v in row)].append(row)
    for rows in buckets.values():
        rows.sort(key=_numeric_sort_key)
    leads = {key: [_lead(row) for row in rows] for key, rows in buckets.items()}
    missing: list[tuple[Any, ...]] = []
    for row in sorted(left_gold, key=_numeric_sort_key):
        key = tuple(_coarse(v) for v in row)
        candidates, candidate_leads = buckets.get(key, []), leads.get(key, [])
        # Only rows whose first number is within the tolerance can match: bisect to them.
        lead = _lead(row)
        slack = (
            0.0 if math.isinf(lead) else max(ABSOLUTE_TOLERANCE, 2 * RELATIVE_TOLERANCE * abs(lead))
        )
        start = bisect.bisect_left(candidate_leads, lead - slack)
        stop = bisect.bisect_right(candidate_leads, lead + slack)
        match = next((i for i in range(start, stop) if _rows_equal(row, candidates[i])), None)
        if match is None:
            missing.append(row)
        else:
            del candidates[match], candidate_leads[match]
    extra = [row for rows in buckets.values() for row in rows]
    return missing, extra


def _lead(row: tuple[Any, ...]) -> float:
    """The row's first number (0 when it has none), the key rows are bisected on."""
    key = _numeric_sort_key(row)
    return key[0] if key else 0.0


def _numeric_sort_key(row: tuple[Any, ...]) -> tuple[float, ...]:
    key = []
    for value in row:
        if _is_number(value):
            key.append(float(value))
        elif isinstance(value, tuple) and len(value) == 2 and value[0] == "interval":
            key.append(float(value[1]))
    return tuple(key)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if _is_number(value):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))


# --- columns -------------------------------------------------------------------------------


def _column_signature(rows: Sequence[tuple[Any, ...]], index: int) -> tuple[Any, ...]:
    values = (_signature_value(row[index]) for row in rows)
    return tuple(sorted(Counter(values).items(), key=lambda item: _sort_key(item[0])))


def _signature_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isinf(value):
        return float(f"{value:.5g}")
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "interval":
        return ("interval", float(f"{value[1]:.5g}"))
    return value


def _candidate_permutations(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], width: int
) -> Iterable[tuple[int, ...]]:
    """Column permutations (gold index -> prediction index), most plausible first."""
    if not gold and not pred:
        yield tuple(range(width))
        return
    gold_sigs = [_column_signature(gold, i) for i in range(width)]
    pred_sigs = [_column_signature(pred, j) for j in range(width)]
    candidates = [[j for j in range(width) if pred_sigs[j] == gold_sigs[i]] for i in range(width)]
    seen: set[tuple[int, ...]] = set()
    if all(candidates):
        for permutation in _assignments(candidates):
            seen.add(permutation)
            yield permutation
    fallback = _greedy_permutation(candidates, width)
    if fallback not in seen:
        yield fallback


def _assignments(candidates: list[list[int]]) -> Iterable[tuple[int, ...]]:
    order = sorted(range(len(candidates)), key=lambda i: len(candidates[i]))
    produced = 0

    def extend(position: int, chosen: dict[int, int]) -> Iterable[tuple[int, ...]]:
        nonlocal produced
        if produced >= MAX_PERMUTATIONS:
            return
        if position == len(order):
            produced += 1
            yield tuple(chosen[i] for i in range(len(candidates)))
            return
        gold_index = order[position]
        used = set(chosen.values())
        for pred_index in candidates[gold_index]:
            if pred_index not in used:
                chosen[gold_index] = pred_index
                yield from extend(position + 1, chosen)
                del chosen[gold_index]

    yield from extend(0, {})


def _greedy_permutation(candidates: list[list[int]], width: int) -> tuple[int, ...]:
    """Matched columns where possible, the rest by position: the mapping used to explain a miss."""
    chosen: dict[int, int] = {}
    for i in range(width):
        free = [j for j in candidates[i] if j not in chosen.values()]
        if free:
            chosen[i] = i if i in free else free[0]
    rest = iter(j for j in range(width) if j not in chosen.values())
    return tuple(chosen[i] if i in chosen else next(rest) for i in range(width))


# --- the verdict ---------------------------------------------------------------------------


def gold_is_ordered(gold_sql: str, dialect: str = "postgres") -> bool:
    """Whether the outermost query has ORDER BY (then row order is part of the answer)."""
    return _outer_order(parse_sql(gold_sql, dialect)) is not None


def _outer_order(tree: exp.Expression) -> exp.Order | None:
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    order = tree.args.get("order")
    return order if isinstance(order, exp.Order) else None


def _order_key_columns(gold_sql: str, columns: Sequence[str]) -> tuple[int, ...] | None:
    """Output column indexes of the gold's ORDER BY keys, or None when a key is not an output."""
    try:
        tree = parse_sql(gold_sql)
    except Exception:
        return None
    order = _outer_order(tree)
    if order is None or not isinstance(tree, exp.Select):
        return None
    projections = tree.expressions
    indexes: list[int] = []
    for ordered in order.expressions:
        key = ordered.this
        index = _projection_index(key, projections, columns)
        if index is None:
            return None
        indexes.append(index)
    return tuple(indexes)


def _projection_index(
    key: exp.Expression, projections: Sequence[exp.Expression], columns: Sequence[str]
) -> int | None:
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.name) - 1
        return position if 0 <= position < len(projections) else None
    for index, projection in enumerate(projections):
        if isinstance(projection, exp.Star):
            return None
        if isinstance(key, exp.Column) and not key.table and key.name == projection.alias_or_name:
            return index
        if projection.unalias() == key:
            return index
    if isinstance(key, exp.Column) and key.name in columns and len(projections) == len(columns):
        return list(columns).index(key.name)
    return None


def compare_results(gold: QueryResult, pred: QueryResult, *, ordered: bool) -> Verdict:
    """Judge a prediction's result against the gold's (semantics in the module docstring)."""
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
        difference = len(pred.columns) - width
        noun = "column" if abs(difference) == 1 else "columns"
        what = (
            f"has {difference} extra {noun}"
            if difference > 0
            else f"is missing {-difference} {noun}"
        )
        return Verdict(
            False,
            f"prediction {what}: gold returns {_names(gold.columns)}, "
            f"prediction returns {_names(pred.columns)}",
        )
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
    for candidate in _candidate_permutations(gold_rows, pred_rows, width):
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
    keys = _order_key_columns(gold.sql, gold.columns)
    # Columns with equal values may pair up several ways; any pairing in the gold's order will do.
    positions = []
    for permutation in verified:
        position = _first_order_difference(gold_rows, _permute(pred_rows, permutation), keys)
        if position is None:
            note = _mapping_note(gold.columns, pred.columns, permutation)
            return Verdict(True, f"same {_rows(len(gold_rows))} in the same order{note}")
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


def _has_order(sql: str) -> bool:
    try:
        return gold_is_ordered(sql)
    except Exception:
        return False


def _first_order_difference(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], keys: tuple[int, ...] | None
) -> int | None:
    if keys is None:
        for index, (g, p) in enumerate(zip(gold, pred, strict=True)):
            if not _rows_equal(g, p):
                return index
        return None
    # Rows tying on the ORDER BY keys may come in any order: compare key runs, then each run.
    index = 0
    while index < len(gold):
        end = index + 1
        while end < len(gold) and _rows_equal(_pick(gold[end], keys), _pick(gold[index], keys)):
            end += 1
        for offset in range(index, end):
            if not _rows_equal(_pick(gold[offset], keys), _pick(pred[offset], keys)):
                return offset
        missing, _ = multiset_difference(list(gold[index:end]), list(pred[index:end]))
        if missing:
            return index
        index = end
    return None


def _pick(row: tuple[Any, ...], keys: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys)


def _permute(rows: Sequence[tuple[Any, ...]], permutation: Sequence[int]) -> list[tuple[Any, ...]]:
    return [tuple(row[j] for j in permutation) for row in rows]


def _best_guess(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], width: int
) -> tuple[int, ...]:
    return next(iter(_candidate_permutations(gold, pred, width)), tuple(range(width)))


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
        (v for row in extra[:20] for v in row if _is_number(v)),
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


def compare_queries(gold_sql: str, pred_sql: str, database: Path, **run_kwargs: Any) -> Verdict:
    """Run both queries on ``database`` and judge the prediction.

    Args:
        run_kwargs: passed to ``run_query`` (timeout_s, row_cap, dialect).

    Raises:
        SQLError: the gold query fails (the reference must work); a failing prediction is a
            verdict, not an error.
    """
    gold = run_query(gold_sql, database, **run_kwargs)
    try:
        pred = run_query(pred_sql, database, **run_kwargs)
    except SQLError as exc:
        return Verdict(False, f"the prediction fails: {exc}")
    ordered = gold_is_ordered(gold_sql, run_kwargs.get("dialect", "postgres"))
    return compare_results(gold, pred, ordered=ordered)
