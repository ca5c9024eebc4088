"""Judging a prediction by running it: the gold prepared once, then compared on a database.

``compare_results`` judges two results already in memory; this module runs the queries, and
hands results larger than the row cap to ``compare_large``, which streams them. The gold is
prepared once per database (``run_gold``): its result, whether it is ordered, and the
values of its ORDER BY keys for every row, which need a second run with the keys appended when
they are not output columns (``workbench.sql.ordering``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.errors import SQLError
from workbench.sql.accuracy import Verdict, compare_results
from workbench.sql.execute import Database, QueryResult
from workbench.sql.large import compare_large
from workbench.sql.ordering import gold_is_ordered, sort_keys


@dataclass(frozen=True)
class GoldResult:
    """The gold's result on one database, ready to judge predictions against."""

    result: QueryResult
    ordered: bool
    keys: tuple[tuple[Any, ...], ...] | None = None
    """ORDER BY key values per row, when the keys are not all output columns."""


def run_gold(gold_sql: str, database: Database, *, dialect: str = "postgres") -> GoldResult:
    """Run the gold on ``database``; with hidden ORDER BY keys, run it with them appended.

    Raises:
        SQLError: the gold fails (the reference must work).
    """
    result = database.run(gold_sql, dialect=dialect)
    ordered = gold_is_ordered(gold_sql, dialect)
    if not ordered or result.truncated or result.row_count <= 1:
        return GoldResult(result, ordered)
    plan = sort_keys(gold_sql, result.columns, dialect)
    if plan is None or plan.sql is None:
        return GoldResult(result, ordered)
    try:
        keyed = database.run(plan.sql, dialect=dialect)
    except SQLError:
        return GoldResult(result, ordered)  # compared as a bag, and the reason says so
    if keyed.truncated or keyed.row_count != result.row_count:
        return GoldResult(result, ordered)
    rows = tuple(row[: plan.width] for row in keyed.rows)
    keys = tuple(plan.of(row) for row in keyed.rows)
    return GoldResult(
        QueryResult(
            sql=result.sql,
            executed_sql=result.executed_sql,
            columns=result.columns,
            rows=rows,
            row_count=len(rows),
            truncated=False,
            elapsed_ms=result.elapsed_ms,
        ),
        ordered,
        keys,
    )


def judge(
    gold: GoldResult, pred_sql: str, database: Database, *, dialect: str = "postgres"
) -> Verdict:
    """Run the prediction on ``database`` and judge it against ``gold`` (run on the same one);
    a failing prediction is a verdict, not an error."""
    try:
        pred = database.run(pred_sql, dialect=dialect)
    except SQLError as exc:
        return Verdict(False, f"the prediction fails: {exc}")
    if gold.result.truncated or pred.truncated:
        return compare_large(gold.result.sql, pred_sql, database, dialect=dialect)
    return compare_results(gold.result, pred, ordered=gold.ordered, keys=gold.keys)


def compare_queries(
    gold_sql: str, pred_sql: str, database: Database, *, dialect: str = "postgres"
) -> Verdict:
    """Run both queries on ``database`` and judge the prediction.

    Raises:
        SQLError: the gold query fails (the reference must work); a failing prediction is a
            verdict, not an error.
    """
    return judge(run_gold(gold_sql, database, dialect=dialect), pred_sql, database, dialect=dialect)
