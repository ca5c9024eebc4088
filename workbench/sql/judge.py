"""Judging a prediction by running it: the gold prepared once, then compared on each database.

``compare_results`` judges two results already in memory; this module runs the queries, and
hands results larger than the row cap to ``compare_large``, which streams them. The gold is
prepared once per database (``run_gold``): its result, whether it is ordered, and the values
of its ORDER BY keys for every row, which need a second run with the keys appended when they
are not output columns (``workbench.sql.ordering``).

A prediction that agrees with the gold on the main database is then judged on each variant
database (``workbench.sql.variants``) and is equivalent only when it agrees on all of them;
the verdict names the variant where they differed. A variant is skipped, and the reason says
so, where the gold cannot judge: it fails there, or its LIMIT cuts through tied rows there
(the rows it keeps are then the database's arbitrary choice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.errors import DatabaseUnavailable, SQLError
from workbench.sql.accuracy import Verdict, compare_results
from workbench.sql.execute import Database, DuckDBDatabase, QueryResult, connect_readonly
from workbench.sql.large import compare_large
from workbench.sql.ordering import gold_is_ordered, limit_tie_breaks, sort_keys
from workbench.sql.reasons import rows
from workbench.sql.variants import Variant


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
    stripped = tuple(row[: plan.width] for row in keyed.rows)
    keys = tuple(plan.of(row) for row in keyed.rows)
    return GoldResult(replace(result, rows=stripped), ordered, keys)


class GoldCache:
    """Gold results by query and database, each run once (a failure is kept and raised again)."""

    def __init__(self) -> None:
        self._results: dict[tuple[str, str, str], GoldResult | SQLError] = {}

    def get(self, gold_sql: str, database: Database, *, dialect: str = "postgres") -> GoldResult:
        key = (gold_sql, database.label, dialect)
        if key not in self._results:
            try:
                self._results[key] = run_gold(gold_sql, database, dialect=dialect)
            except DatabaseUnavailable:
                raise  # not the gold's fault: asked again once the database is back
            except SQLError as exc:
                self._results[key] = exc
        found = self._results[key]
        if isinstance(found, SQLError):
            raise found
        return found


def judge_result(
    gold: GoldResult, pred: QueryResult, database: Database, *, dialect: str = "postgres"
) -> Verdict:
    """Judge a prediction's result against ``gold``, both from ``database``."""
    if gold.result.truncated or pred.truncated:
        return compare_large(gold.result.sql, pred.sql, database, dialect=dialect)
    return compare_results(gold.result, pred, ordered=gold.ordered, keys=gold.keys)


def judge(
    gold: GoldResult, pred_sql: str, database: Database, *, dialect: str = "postgres"
) -> Verdict:
    """Run the prediction on ``database`` and judge it against ``gold`` (run on the same one);
    a failing prediction is a verdict, not an error."""
    try:
        pred = database.run(pred_sql, dialect=dialect)
    except SQLError as exc:
        return Verdict(False, f"the prediction fails: {exc}")
    return judge_result(gold, pred, database, dialect=dialect)


def judge_on_variants(
    gold_sql: str,
    pred_sql: str,
    verdict: Verdict,
    variants: Sequence[Variant],
    *,
    golds: GoldCache,
    dialect: str = "postgres",
) -> Verdict:
    """Check a verdict of the main database on the variants: an equivalent prediction must
    agree with the gold on each of them (a different one is returned as it is). When both
    return no rows on every database judged, the verdict is *undetermined*: any query that
    returns nothing would agree, so the data cannot tell a right one from a wrong one."""
    if not verdict.equivalent:
        return verdict
    if not variants:
        return _undetermined(1) if verdict.empty else verdict
    checked: list[str] = []
    skipped: list[str] = []
    empty = verdict.empty
    for variant in variants:
        try:
            gold = golds.get(gold_sql, variant.database, dialect=dialect)
        except SQLError as exc:
            skipped.append(f"{variant.name} (the gold fails there: {exc})")
            continue
        outcome = judge(gold, pred_sql, variant.database, dialect=dialect)
        if outcome.equivalent:
            checked.append(variant.name)
            empty = empty and outcome.empty
        elif _limit_cuts_a_tie(gold, variant.database, dialect):
            skipped.append(f"{variant.name} (the gold's LIMIT cuts through tied rows there)")
        else:
            return Verdict(
                False,
                f"differs on variant database {variant.name}: {outcome.reason}; "
                f"{_main_agrees(verdict)}",
                database=variant.name,
            )
    if empty and checked:
        return _undetermined(1 + len(checked))
    reason = verdict.reason
    if checked:
        reason += f"; the same on {len(checked)} variant {_databases(len(checked))} ({', '.join(checked)})"
    if skipped:
        reason += f"; not judged on variant {_databases(len(skipped))} {'; '.join(skipped)}"
    return Verdict(True, reason)


def _undetermined(databases: int) -> Verdict:
    where = "the database" if databases == 1 else f"all {databases} databases judged"
    return Verdict(
        False,
        f"undetermined: the gold and the prediction both return no rows on {where}, so the "
        "data cannot tell a right query from a wrong one",
        empty=True,
        undetermined=True,
    )


def _main_agrees(verdict: Verdict) -> str:
    if verdict.reason.startswith("same 0 rows"):
        return "on the main database both return no rows"
    count = verdict.reason.split()[1] if verdict.reason.startswith("same ") else None
    if count is not None and count.isdigit():
        return f"on the main database both return the same {rows(int(count))}"
    return f"on the main database: {verdict.reason}"


def _databases(count: int) -> str:
    return "database" if count == 1 else "databases"


def _limit_cuts_a_tie(gold: GoldResult, database: Database, dialect: str) -> bool:
    breaks = limit_tie_breaks(gold.result.sql, len(gold.result.columns), dialect)
    if breaks is None:
        return False
    try:
        first, second = (database.run(sql, dialect=dialect) for sql in breaks)
    except SQLError:
        return False
    return sorted(map(repr, first.rows)) != sorted(map(repr, second.rows))


@contextlib.contextmanager
def held_open(databases: Iterable[Database]) -> Iterator[None]:
    """Keep one read-only connection to each database while many queries run on them.

    Every query opens its own connection (``run_query``); DuckDB reuses an open database
    instead of opening the file afresh while another connection to it is held, which takes a
    query on the demo database from about 30 ms to 2 ms. Hold only for a bounded piece of work:
    a database rebuilt meanwhile would still be read as it was.
    """
    with contextlib.ExitStack() as stack:
        files = (d.path for d in databases if isinstance(d, DuckDBDatabase))
        for database in dict.fromkeys(Path(f) for f in files):
            try:
                stack.enter_context(contextlib.closing(connect_readonly(database)))
            except SQLError:
                continue  # only a shortcut: each query opens (and reports) the file itself
        yield


def compare_queries(
    gold_sql: str,
    pred_sql: str,
    database: Database,
    *,
    dialect: str = "postgres",
    variants: Sequence[Variant] = (),
) -> Verdict:
    """Run both queries on ``database`` (then on each variant) and judge the prediction.

    Raises:
        SQLError: the gold query fails on ``database`` (the reference must work); a failing
            prediction is a verdict, not an error.
    """
    golds = GoldCache()
    with held_open([database, *(v.database for v in variants)]):
        gold = golds.get(gold_sql, database, dialect=dialect)
        verdict = judge(gold, pred_sql, database, dialect=dialect)
        return judge_on_variants(
            gold_sql, pred_sql, verdict, variants, golds=golds, dialect=dialect
        )
