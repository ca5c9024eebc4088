"""Result values under the comparator's rules: one canonical form, equality within tolerance,
and multisets of rows compared with that equality.

The rules (what equals what) are listed in ``workbench.sql.accuracy``'s docstring.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

RELATIVE_TOLERANCE = 1e-11
"""Floating-point noise: summing in another order or through a decimal moves a result by far
less than this share of itself; one row more or less in a sum moves it by more."""
ABSOLUTE_TOLERANCE = 1e-12
"""Noise around zero, where a relative tolerance means nothing."""
ROUNDED_DECIMALS = 6
"""A float rounded to this many decimals equals the float ...
"""
ROUNDING_FLOOR = 1.0
"""... when the float is at least this large, so the rounding changes it by at most 5e-7 of itself."""
INTERVAL_RELATIVE_TOLERANCE = 1e-6
"""Intervals are looser than floats: PostgreSQL and DuckDB average intervals in different
arithmetic, and on the shipped suite their averages differ by up to 1.4e-7 of the value (12 ms
of a day). A whole interval more or less in an average of thousands still moves it further."""
INTERVAL_RESOLUTION_S = 1e-6
"""Both engines keep intervals to the microsecond."""


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
    if is_number(gold) and is_number(pred):
        if isinstance(gold, int) and isinstance(pred, int):
            return False
        return _close(float(gold), float(pred))
    if (
        isinstance(gold, tuple)
        and isinstance(pred, tuple)
        and len(gold) == len(pred) == 2
        and gold[0] == pred[0] == "interval"
    ):
        a, b = gold[1], pred[1]
        if math.isinf(a) or math.isinf(b):
            return a == b
        scale = INTERVAL_RELATIVE_TOLERANCE * max(abs(a), abs(b))
        return abs(a - b) <= max(scale, 1.5 * INTERVAL_RESOLUTION_S)
    return False


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    if abs(a - b) <= max(RELATIVE_TOLERANCE * max(abs(a), abs(b)), ABSOLUTE_TOLERANCE):
        return True
    return _rounded_from(a, b) or _rounded_from(b, a)


def _rounded_from(value: float, rounded: float) -> bool:
    """Whether ``rounded`` is ``value`` rounded to ``ROUNDED_DECIMALS`` decimals (half up or
    half even), ``value`` being at least ``ROUNDING_FLOOR`` in size."""
    if abs(value) < ROUNDING_FLOOR:
        return False
    scaled = rounded * 10**ROUNDED_DECIMALS
    if abs(scaled - round(scaled)) > 4 * math.ulp(scaled):
        return False  # more decimals than the rounding leaves
    half_step = 0.5 * 10**-ROUNDED_DECIMALS
    return abs(value - rounded) <= half_step * (1 + 1e-9) + RELATIVE_TOLERANCE * abs(value)


def max_difference(value: float, *, interval: bool = False) -> float:
    """The largest difference from ``value`` that ``values_equal`` may still forgive (as an
    interval's seconds too, when ``interval``)."""
    noise = max(ABSOLUTE_TOLERANCE, 2 * RELATIVE_TOLERANCE * abs(value))
    if interval:
        noise = max(noise, 2 * INTERVAL_RELATIVE_TOLERANCE * abs(value), 2 * INTERVAL_RESOLUTION_S)
    if abs(value) + 1e-6 < ROUNDING_FLOOR:
        return noise
    return noise + 10**-ROUNDED_DECIMALS


def rows_equal(gold: Sequence[Any], pred: Sequence[Any]) -> bool:
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
        slack = 0.0 if math.isinf(lead) else max_difference(lead, interval=True)
        start = bisect.bisect_left(candidate_leads, lead - slack)
        stop = bisect.bisect_right(candidate_leads, lead + slack)
        match = next((i for i in range(start, stop) if rows_equal(row, candidates[i])), None)
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
        if is_number(value):
            key.append(float(value))
        elif isinstance(value, tuple) and len(value) == 2 and value[0] == "interval":
            key.append(float(value[1]))
    return tuple(key)


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if is_number(value):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))
