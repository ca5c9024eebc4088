"""Which column of a prediction is which column of the gold, matched by values.

Columns are matched by their values, not by position or alias: candidates are
columns with the same multiset of values (floats to five significant digits),
and every candidate permutation is then verified on the rows by the caller.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from workbench.sql.values import sort_key

MAX_PERMUTATIONS = 120
"""Column permutations verified before giving up on ambiguous columns."""


def _column_signature(rows: Sequence[tuple[Any, ...]], index: int) -> tuple[Any, ...]:
    values = (_signature_value(row[index]) for row in rows)
    return tuple(sorted(Counter(values).items(), key=lambda item: sort_key(item[0])))


def _signature_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isinf(value):
        return float(f"{value:.5g}")
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "interval":
        return ("interval", float(f"{value[1]:.5g}"))
    return value


def candidate_permutations(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], width: int
) -> Iterable[tuple[int, ...]]:
    """Column permutations (gold index -> prediction index), most plausible first."""
    if not gold and not pred:
        yield tuple(range(width))
        return
    gold_sigs = [_column_signature(gold, i) for i in range(width)]
    pred_sigs = [_column_signature(pred, j) for j in range(width)]
    yield from permutations_of(
        [[j for j in range(width) if pred_sigs[j] == gold_sigs[i]] for i in range(width)]
    )


def permutations_of(candidates: list[list[int]]) -> Iterable[tuple[int, ...]]:
    """Permutations that give every gold column one of its candidates (``candidates[i]``: the
    prediction's columns that may be gold column ``i``), then the best guess when none does."""
    seen: set[tuple[int, ...]] = set()
    if all(candidates):
        for permutation in _assignments(candidates):
            seen.add(permutation)
            yield permutation
    fallback = _greedy_permutation(candidates, len(candidates))
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
