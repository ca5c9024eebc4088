"""Comparing results larger than the row cap, streamed in chunks, never held in memory.

The row cap keeps what is shown and stored small; a verdict must not depend on it: two queries
returning the same 15,000 rows are equivalent. So when either result is cut at the cap, the
comparison moves into the database, under the same rules as ``compare_results``:

1. Shape. ``DESCRIBE`` gives both column lists; a different width is a mismatch.
2. Columns. Each column gets an order-insensitive fingerprint computed by the database (count,
   distinct count, minimum, maximum and a sum of value hashes; for numbers the count, sum,
   minimum and maximum, matched within a loose tolerance), on a canonical form that makes equal
   what the rules call equal (an integer and a float, a date and a timestamp at midnight). Gold
   and prediction columns with matching fingerprints are the candidates of a permutation, as
   in memory.
3. Rows. Both results are sorted by the database on their canonical columns (the prediction's
   in gold column order) and merged in chunks of ``CHUNK_ROWS``: rows equal under the
   tolerance pair up. Rows the merge leaves unpaired (a real difference, or floats that differ
   by noise and so sorted apart) are paired again at the end within the tolerance; at most
   ``MAX_UNPAIRED`` of them are kept, the rest only counted.
4. Order. When the gold is ordered and the rows agree, both are read once more in their own
   order and compared run by run, a run being the gold rows that tie on its ORDER BY keys
   (appended as columns when they are not outputs, as in ``workbench.sql.ordering``). Memory is
   then bounded by the largest run of tied rows.

The sorting happens in the database, within its memory limit.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from workbench.errors import SQLError, SQLExecutionError
from workbench.sql import reasons
from workbench.sql.accuracy import Verdict, has_order, permute
from workbench.sql.check import check_readonly, tree_to_duckdb
from workbench.sql.columns import permutations_of
from workbench.sql.execute import Database, DuckDBDatabase, connect_readonly, database_schema
from workbench.sql.ordering import gold_is_ordered, same_sequence, sort_keys
from workbench.sql.reasons import Difference
from workbench.sql.values import multiset_difference, normalize_value, rows_equal

CHUNK_ROWS = 2_000
"""Rows fetched from the database at a time."""
MAX_UNPAIRED = 10_000
"""Unpaired rows kept for the final pairing; beyond them rows are only counted."""
MAX_PERMUTATIONS = 6
"""Column permutations verified on a large result (each is one pass over both results)."""

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "REAL")
_NUMERIC += ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "DECIMAL")


@dataclass(frozen=True)
class _Query:
    """One side, ready to run: its SQL as written and as DuckDB runs it, and its columns."""

    sql: str
    role: str  # "gold" or "prediction": whose failure a DuckDB error is
    executed: str
    columns: tuple[str, ...]
    families: tuple[str, ...]
    canonical: tuple[str, ...]  # SQL of each column's canonical form, over q.c0 ... q.cN

    def source(self) -> str:
        names = ", ".join(f'"c{i}"' for i in range(len(self.columns)))
        return f"({self.executed}) AS q({names})"


def compare_large(
    gold_sql: str, pred_sql: str, database: Database, *, dialect: str = "postgres"
) -> Verdict:
    """Judge the prediction against the gold without holding either result in memory.

    Raises:
        SQLError: the gold fails, or the comparison ran out of time; a failing prediction
            is a verdict. Only a DuckDB database streams its results here; on another
            database a result over the row cap cannot be judged (the error says so).
    """
    if not isinstance(database, DuckDBDatabase):
        raise SQLExecutionError(
            f"a result over the row cap ({database.row_cap:,} rows) can only be judged on a "
            f"DuckDB database, not on {database.label}; raise WORKBENCH_SQL_ROW_CAP or narrow "
            "the query"
        )
    with _Session(database, dialect) as session:
        gold = session.prepare(gold_sql, "gold")
        try:
            pred = session.prepare(pred_sql, "prediction")
            return _compare(session, gold, pred, ordered=gold_is_ordered(gold_sql, dialect))
        except _PredictionFails as exc:
            return Verdict(False, f"the prediction fails: {exc}")


def _compare(session: _Session, gold: _Query, pred: _Query, *, ordered: bool) -> Verdict:
    if len(pred.columns) != len(gold.columns):
        return Verdict(False, reasons.width_reason(gold.columns, pred.columns))
    gold_print, pred_print = session.fingerprints(gold), session.fingerprints(pred)
    gold_count, pred_count = gold_print[0], pred_print[0]
    width = len(gold.columns)
    candidates = [
        [j for j in range(width) if _similar(gold_print[1][i], pred_print[1][j])]
        for i in range(width)
    ]
    permutations = list(permutations_of(candidates))[:MAX_PERMUTATIONS]
    if gold_count != pred_count:
        difference = session.merge(gold, pred, permutations[0])
        return Verdict(False, reasons.count_reason(gold_count, pred_count, difference))
    first: Difference | None = None
    failed_order: str | None = None
    for permutation in permutations:
        difference = session.merge(gold, pred, permutation)
        if not difference.none:
            first = first or difference
            continue
        note = reasons.mapping_note(gold.columns, pred.columns, permutation)
        if not ordered or gold_count <= 1:
            return Verdict(True, reasons.same_rows(gold_count, note))
        order = session.order(gold, pred, permutation)
        if order is None:
            return Verdict(True, reasons.order_not_checked(gold_count, note))
        if order.position is None:
            return Verdict(True, reasons.same_order(gold_count, note, ties_moved=order.ties_moved))
        failed_order = failed_order or order.reason
    if failed_order is not None:
        return Verdict(False, failed_order)
    assert first is not None
    return Verdict(False, reasons.content_reason(first))


# --- the database side --------------------------------------------------------------------


def _canonical(column: str, kind: str) -> tuple[str, str]:
    """The family of a DuckDB type and the SQL of a value's canonical form."""
    kind = kind.upper()
    if kind.startswith(_NUMERIC):
        return "number", f"CAST({column} AS DOUBLE)"
    if kind.startswith(("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")):
        return "datetime", f"timezone('UTC', {column})"
    if kind.startswith(("DATE", "TIMESTAMP")):
        return "datetime", f"CAST({column} AS TIMESTAMP)"
    if kind == "INTERVAL":
        return "interval", f"epoch({column})"
    if kind == "BOOLEAN":
        return "bool", column
    if kind.startswith("TIME"):
        return "time", f"CAST({column} AS TIME)"
    return "text", f"CAST({column} AS VARCHAR)"


class _PredictionFails(SQLExecutionError):
    """The prediction's own query failed while being compared: a verdict, not an error."""


@dataclass(frozen=True)
class _Order:
    position: int | None
    ties_moved: bool = False
    reason: str = ""


class _Session:
    """One read-only connection for a large comparison, and the queries it runs."""

    def __init__(self, database: DuckDBDatabase, dialect: str) -> None:
        self.database = database
        self.dialect = dialect
        self.connection: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> _Session:
        self.connection = connect_readonly(self.database.path, wait_s=self.database.timeout_s)
        self.schema = database_schema(self.connection)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.connection is not None
        self.connection.close()

    def transpile(self, sql: str) -> str:
        return tree_to_duckdb(check_readonly(sql, self.dialect), self.schema)

    def prepare(self, sql: str, role: str) -> _Query:
        try:
            executed = self.transpile(sql)
        except SQLError as exc:
            if role == "prediction":
                raise _PredictionFails(str(exc)) from exc
            raise
        described = list(self._stream(f"DESCRIBE {executed}", role))
        columns = tuple(str(row[0]) for row in described)
        forms = [_canonical(f'q."c{i}"', str(row[1])) for i, row in enumerate(described)]
        return _Query(
            sql, role, executed, columns, tuple(f for f, _ in forms), tuple(c for _, c in forms)
        )

    def fingerprints(self, query: _Query) -> tuple[int, list[tuple[Any, ...]]]:
        """The row count, and per column its family and aggregates over canonical values."""
        parts = ["COUNT(*)"]
        for family, form in zip(query.families, query.canonical, strict=True):
            if family in ("number", "interval"):
                parts += [f"COUNT({form})", f"SUM({form})", f"MIN({form})", f"MAX({form})"]
            else:
                parts += [f"COUNT({form})", f"COUNT(DISTINCT {form})", f"MIN({form})"]
                parts += [f"MAX({form})", f"SUM(hash({form}))"]
        row = next(self._stream(f"SELECT {', '.join(parts)} FROM {query.source()}", query.role))
        prints, index = [], 1
        for family in query.families:
            size = 4 if family in ("number", "interval") else 5
            prints.append((family, *row[index : index + size]))
            index += size
        return int(row[0]), prints

    def merge(self, gold: _Query, pred: _Query, permutation: Sequence[int]) -> Difference:
        """Rows of gold the prediction lacks and rows it adds, merging both sorted results."""
        gold_rows = self._sorted(gold, range(len(gold.columns)))
        pred_rows = self._sorted(pred, permutation)
        unpaired: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        overflow = [0, 0]

        def put(side: int, row: tuple[Any, ...]) -> None:
            if len(unpaired[side]) < MAX_UNPAIRED:
                unpaired[side].append(_normal(row))
            else:
                overflow[side] += 1

        g, p = next(gold_rows, None), next(pred_rows, None)
        while g is not None or p is not None:
            if p is None or (g is not None and g[1] < p[1]):
                put(0, g[0])  # type: ignore[index]
                g = next(gold_rows, None)
            elif g is None or p[1] < g[1]:
                put(1, p[0])
                p = next(pred_rows, None)
            else:
                # Equal raw values (within one family of types) are equal under the rules too.
                if g[0] != p[0] and not rows_equal(_normal(g[0]), _normal(p[0])):
                    put(0, g[0])
                    put(1, p[0])
                g, p = next(gold_rows, None), next(pred_rows, None)
        missing, extra = multiset_difference(*unpaired)
        sample = Difference.of(missing, extra)
        return Difference(
            sample.missing + overflow[0],
            sample.extra + overflow[1],
            sample.missing_sample,
            sample.extra_sample,
        )

    def _sorted(
        self, query: _Query, order: Sequence[int]
    ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
        """Rows (columns in ``order``) with their sort keys, sorted by the database."""
        width = len(order)
        values = ", ".join(f'q."c{j}"' for j in order)
        forms = ", ".join(query.canonical[j] for j in order)
        keys = ", ".join(f"{width + n} ASC NULLS FIRST" for n in range(1, width + 1))
        sql = f"SELECT {values}, {forms} FROM {query.source()} ORDER BY {keys}"
        families = [query.families[j] for j in order]
        for row in self._stream(sql, query.role):
            yield row[:width], tuple(map(_sort_key, row[width:], families))

    def order(self, gold: _Query, pred: _Query, permutation: Sequence[int]) -> _Order | None:
        """Whether the prediction lists the rows in the gold's order (None: keys unknown)."""
        plan = sort_keys(gold.sql, gold.columns, self.dialect)
        if plan is None:
            return None
        gold_rows = self._stream(self.transpile(plan.sql) if plan.sql else gold.executed, "gold")
        pred_rows = self._stream(pred.executed, "prediction")
        with contextlib.closing(gold_rows), contextlib.closing(pred_rows):
            position, moved = 0, False
            run: list[tuple[Any, ...]] = []
            run_key: tuple[Any, ...] = ()
            for raw in _with_end(gold_rows):
                key = () if raw is None else _normal(plan.of(raw))
                if run and (raw is None or not rows_equal(key, run_key)):
                    pred_run = [next(pred_rows) for _ in run]
                    outcome = self._compare_run(run, pred_run, permutation, position, pred.sql)
                    if outcome is not None:
                        return outcome
                    moved = moved or not same_sequence(
                        [_normal(r[: plan.width]) for r in run], _normal_all(pred_run, permutation)
                    )
                    position += len(run)
                    run = []
                if raw is not None:
                    run.append(raw)
                    run_key = key
        return _Order(None, ties_moved=moved)

    def _compare_run(
        self,
        run: list[tuple[Any, ...]],
        pred_run: list[tuple[Any, ...]],
        permutation: Sequence[int],
        position: int,
        pred_sql: str,
    ) -> _Order | None:
        width = len(permutation)
        gold_normal = [_normal(r[:width]) for r in run]
        pred_normal = _normal_all(pred_run, permutation)
        missing, _ = multiset_difference(gold_normal, pred_normal)
        if not missing:
            return None
        offset = next(
            (
                i
                for i, (g, p) in enumerate(zip(gold_normal, pred_normal, strict=True))
                if not rows_equal(g, p)
            ),
            0,
        )
        reason = reasons.order_reason(
            position + offset,
            reasons.display(run[offset][:width]),
            reasons.display(permute([pred_run[offset]], permutation)[0]),
            pred_ordered=has_order(pred_sql),
        )
        return _Order(position + offset, reason=reason)

    def _stream(self, sql: str, role: str) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` in chunks, interrupted after the database's timeout; a DuckDB error
        of the prediction's query is ``_PredictionFails``."""
        assert self.connection is not None
        cursor = self.connection.cursor()
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            cursor.interrupt()

        watchdog = threading.Timer(self.database.timeout_s, interrupt)
        watchdog.daemon = True
        watchdog.start()
        try:
            cursor.execute(sql)
            while chunk := cursor.fetchmany(CHUNK_ROWS):
                yield from chunk
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise SQLExecutionError(
                    f"comparing the results took longer than {self.database.timeout_s:g} s; "
                    "raise WORKBENCH_SQL_TIMEOUT_S"
                ) from exc
            if role == "prediction":
                raise _PredictionFails(f"DuckDB rejected the query: {exc}") from exc
            raise SQLExecutionError(f"DuckDB rejected the gold query: {exc}") from exc
        finally:
            watchdog.cancel()
            cursor.close()


def _with_end(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...] | None]:
    yield from rows
    yield None


def _normal(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(normalize_value(v) for v in row)


def _normal_all(rows: list[tuple[Any, ...]], permutation: Sequence[int]) -> list[tuple[Any, ...]]:
    return [_normal(row) for row in permute(rows, permutation)]


def _sort_key(value: Any, family: str) -> tuple[Any, ...]:
    """The database's order of a canonical value, NULLs first and NaN after every number."""
    if value is None:
        return (0,)
    if isinstance(value, float) and math.isnan(value):
        return (2,)
    return (1, family, value)


def _similar(gold: tuple[Any, ...], pred: tuple[Any, ...]) -> bool:
    """Whether two column fingerprints may belong to equal columns (verified row by row)."""
    if gold[0] != pred[0] or gold[1] != pred[1]:
        return False
    if gold[0] not in ("number", "interval"):
        return gold[2:] == pred[2:]
    return all(_loosely_equal(a, b) for a, b in zip(gold[2:], pred[2:], strict=True))


def _loosely_equal(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1.0)
