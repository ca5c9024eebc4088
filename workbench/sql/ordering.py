"""Row order as part of an answer: is the gold ordered, by which keys, and where does a
prediction leave its order.

A gold whose outermost query has ORDER BY asks for its rows in that order, but rows that tie
on the ORDER BY keys may come in any order among themselves: the database is free to break the
tie either way, and so is a right prediction. Ties are found on the keys' values, so the keys
must be known for every gold row. When a key is an output column it is read from the row; when
it is not (``SELECT lab_name ... ORDER BY region``), the gold is run again with its keys
appended as extra output columns (``sort_keys``). A set operation's ORDER BY names its output
columns, so its keys are always read from the rows. When neither works (a key of a
``SELECT DISTINCT`` that is not an output column), the comparator falls back to comparing the
rows as a bag and says that it did not check the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from workbench.sql.check import keeps_ties, parse_sql
from workbench.sql.values import multiset_difference, rows_equal

SORT_KEY_ALIAS = "__workbench_sort_key_{}"
"""Alias of the ``n``-th hidden ORDER BY key appended to the gold (1-based)."""


def gold_is_ordered(gold_sql: str, dialect: str = "postgres") -> bool:
    """Whether the outermost query has ORDER BY (then row order is part of the answer)."""
    return _outer_order(_outer_query(parse_sql(gold_sql, dialect))) is not None


def _outer_query(tree: exp.Expression) -> exp.Expression:
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return tree


def _outer_order(tree: exp.Expression) -> exp.Order | None:
    order = tree.args.get("order")
    return order if isinstance(order, exp.Order) else None


@dataclass(frozen=True)
class SortKeys:
    """Where the gold's ORDER BY keys are found in each of its rows.

    ``sql`` is None when every key is an output column; otherwise it is the gold with the other
    keys appended as output columns, to be run instead of the gold (its first ``width`` columns
    are the gold's own).
    """

    indexes: tuple[int, ...]
    width: int
    sql: str | None = None

    def of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(row[i] for i in self.indexes)


def sort_keys(gold_sql: str, columns: Sequence[str], dialect: str = "postgres") -> SortKeys | None:
    """How to read the gold's ORDER BY keys for every row; None when there is no ORDER BY or
    a key is not an output column and cannot be appended as one without changing the rows
    (the outermost query is a set operation or DISTINCT)."""
    try:
        tree = _outer_query(parse_sql(gold_sql, dialect))
    except Exception:
        return None
    order = _outer_order(tree)
    if order is None:
        return None
    if isinstance(tree, exp.SetOperation):
        return _set_operation_keys(tree, order, columns)
    if not isinstance(tree, exp.Select):
        return None
    width = len(columns)
    indexes: list[int] = []
    hidden: list[exp.Expression] = []
    for ordered in order.expressions:
        index = _projection_index(ordered.this, tree.expressions, columns)
        if index is None:
            hidden.append(
                exp.alias_(ordered.this.copy(), SORT_KEY_ALIAS.format(len(hidden) + 1), quoted=True)
            )
            index = width + len(hidden) - 1
        indexes.append(index)
    if not hidden:
        return SortKeys(tuple(indexes), width)
    if tree.args.get("distinct"):
        return None  # an extra column would split rows that DISTINCT merges
    keyed = tree.copy()
    keyed.set("expressions", [*keyed.expressions, *hidden])
    return SortKeys(tuple(indexes), width, keyed.sql(dialect=dialect))


def _set_operation_keys(
    tree: exp.SetOperation, order: exp.Order, columns: Sequence[str]
) -> SortKeys | None:
    """A set operation's ORDER BY can only name its output columns (by the first query's
    names or by position), so its keys are read from the rows; None when one is not found."""
    first: exp.Expression = tree
    while isinstance(first, exp.SetOperation):
        first = _outer_query(first.this)
    if not isinstance(first, exp.Select):
        return None
    indexes = []
    for ordered in order.expressions:
        index = _projection_index(ordered.this, first.expressions, columns)
        if index is None:
            return None
        indexes.append(index)
    return SortKeys(tuple(indexes), len(columns))


def _projection_index(
    key: exp.Expression, projections: Sequence[exp.Expression], columns: Sequence[str]
) -> int | None:
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.name) - 1
        return position if 0 <= position < len(columns) else None
    if any(p.is_star for p in projections):
        # Only a key written as an output name can be found behind a star.
        if isinstance(key, exp.Column) and not key.table and key.name in columns:
            return list(columns).index(key.name)
        return None
    for index, projection in enumerate(projections):
        if isinstance(key, exp.Column) and not key.table and key.name == projection.alias_or_name:
            return index
        if projection.unalias() == key:
            return index
    return None


def first_order_difference(
    gold: Sequence[tuple[Any, ...]],
    pred: Sequence[tuple[Any, ...]],
    keys: Sequence[tuple[Any, ...]],
) -> int | None:
    """The first position where ``pred`` leaves the gold's order, or None when it keeps it.

    ``keys[i]`` holds the ORDER BY key values of ``gold[i]``; a run of gold rows with equal keys
    may come in any order, so each run is compared as a multiset against the prediction's rows
    at the same positions.
    """
    index = 0
    while index < len(gold):
        end = index + 1
        while end < len(gold) and rows_equal(keys[end], keys[index]):
            end += 1
        missing, _ = multiset_difference(list(gold[index:end]), list(pred[index:end]))
        if missing:
            return next((i for i in range(index, end) if not rows_equal(gold[i], pred[i])), index)
        index = end
    return None


def same_sequence(gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]]) -> bool:
    """Whether the rows come in exactly the same order (ties included)."""
    return all(rows_equal(g, p) for g, p in zip(gold, pred, strict=True))


def limit_tie_breaks(sql: str, columns: int, dialect: str = "postgres") -> tuple[str, str] | None:
    """``sql`` twice, its outermost ORDER BY extended by every output column ascending, then
    descending; None when its outermost query has no LIMIT, has ``FETCH FIRST n ROWS WITH
    TIES`` (which returns every row tied with the last, so never cuts a tie), or does not parse.

    The two return the same rows exactly when the LIMIT does not cut through rows that tie on
    the ORDER BY keys (with no ORDER BY, every row ties): otherwise the rows the LIMIT keeps are
    the database's arbitrary choice.
    """
    try:
        tree = _outer_query(parse_sql(sql, dialect))
    except Exception:
        return None
    limit = tree.args.get("limit")
    if limit is None or keeps_ties(limit):
        return None  # FETCH ... WITH TIES keeps every row tied with the last: it cannot cut a tie
    order = _outer_order(tree)
    given = list(order.expressions) if order is not None else []
    variants = []
    for desc in (False, True):
        copy = tree.copy()
        keys = [exp.Ordered(this=exp.Literal.number(i), desc=desc) for i in range(1, columns + 1)]
        copy.set("order", exp.Order(expressions=[*given, *keys]))
        variants.append(copy.sql(dialect=dialect))
    return variants[0], variants[1]
