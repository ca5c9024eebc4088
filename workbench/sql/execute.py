"""Run one checked, read-only query against a database, with a timeout and a row cap.

``Database`` is what every caller holds: the pipeline, the smoke suite and the commands call
``database.run(sql)``. ``DuckDBDatabase`` (a DuckDB file, the demo among them) is implemented
here; ``workbench.sql.postgres`` holds the PostgreSQL one and ``workbench.sql.target`` picks one
by URL.

``run_query`` hands the query to a worker process (``workbench.sql.worker``), where
``execute_query`` checks, transpiles and runs it under the limits of ``workbench.sql.limits``.

``check_readonly`` refuses everything but one read-only query before a connection is opened;
DuckDB's own locks then stand behind it, so a gap in the check still cannot write or read files:
the database is opened read-only, external access (files, network, extensions) is disabled and
the configuration is locked so the query cannot switch it back. The SQL that runs is regenerated
from the checked syntax tree, never the text as written, and DuckDB's parser must agree it is a
single SELECT.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import duckdb

from workbench.errors import SQLExecutionError, SQLRefused
from workbench.sql.catalog import Catalog, DatabaseSchema, Query, duckdb_catalog
from workbench.sql.check import check_readonly, tree_to_duckdb
from workbench.sql.limits import DUCKDB_MEMORY_LIMIT, MAX_CELL_BYTES, MAX_RESULT_BYTES
from workbench.sql.profile import read_counts, read_schema
from workbench.sql.worker import QueryRequest, out_of_memory_message, run_in_worker, warm_workers

if TYPE_CHECKING:
    import pandas

    from workbench.settings import Settings

CutBy = Literal["rows", "cell bytes", "result bytes"]

READ_ONLY_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 2,
    # One runaway join must not take the memory the other tools on the machine need.
    "memory_limit": DUCKDB_MEMORY_LIMIT,
    # Last, so that the query itself cannot change any of the above.
    "lock_configuration": True,
}


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned, with the SQL as written and as run."""

    sql: str
    executed_sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool
    elapsed_ms: float
    cut_by: CutBy | None = None
    """What cut the result when it is ``truncated``: the row cap, a cell's or the result's bytes."""

    def to_frame(self) -> pandas.DataFrame:
        """The rows as a DataFrame (duplicate column names are kept)."""
        import pandas

        return pandas.DataFrame(list(self.rows), columns=list(self.columns))


class Database(Protocol):
    """A database that checked queries run on, with the limits every query gets.

    One value instead of a URL, a timeout and a row cap passed along separately: the
    pipeline, the smoke runner and the commands hand it on and call ``run``.
    """

    @property
    def label(self) -> str:
        """How the database is named in a trace, a run's record or a page (never a password)."""
        ...

    @property
    def dialect(self) -> str:
        """The SQL dialect the database itself speaks (``duckdb`` or ``postgres``)."""
        ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def row_cap(self) -> int: ...

    def run(self, sql: str, *, dialect: str = "postgres") -> QueryResult:
        """Check one read-only query written in ``dialect`` and run it.

        Raises:
            SQLParseError, SQLRefused: before anything runs.
            SQLExecutionError: the database rejected the query or it ran out of time;
                DatabaseUnavailable when the database cannot be reached.
        """
        ...

    def describe(self, leave_out: frozenset[str] = frozenset()) -> DatabaseSchema:
        """Every table with its row count, columns, keys and text values, but the tables and
        ``table.column`` columns in ``leave_out`` (never read), and warnings about what
        the role cannot see."""
        ...

    def table_counts(self) -> dict[str, int]:
        """Row count of every table, referenced tables first."""
        ...

    def catalog(self) -> Catalog:
        """The tables the role may read and those it may not, from the catalog alone (no
        table is read: cheap on any database)."""
        ...


@dataclass(frozen=True)
class DuckDBDatabase:
    """A DuckDB file (the demo database among them), opened read-only for every query."""

    path: Path
    timeout_s: float = 10.0
    row_cap: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings, path: Path) -> DuckDBDatabase:
        """``path`` with the limits of ``WORKBENCH_SQL_TIMEOUT_S`` and ``WORKBENCH_SQL_ROW_CAP``."""
        return cls(Path(path), timeout_s=settings.sql_timeout_s, row_cap=settings.sql_row_cap)

    @property
    def label(self) -> str:
        return f"duckdb:///{self.path}"

    @property
    def dialect(self) -> str:
        return "duckdb"

    def run(self, sql: str, *, dialect: str = "postgres") -> QueryResult:
        """Check, transpile and run one read-only query (see ``run_query``)."""
        return run_query(
            sql, self.path, timeout_s=self.timeout_s, row_cap=self.row_cap, dialect=dialect
        )

    def describe(self, leave_out: frozenset[str] = frozenset()) -> DatabaseSchema:
        """Read once per version of the file."""
        stat = _existing(self.path).stat()
        return _describe_file(
            str(self.path.resolve()), stat.st_mtime_ns, stat.st_size, frozenset(leave_out)
        )

    def table_counts(self) -> dict[str, int]:
        with _reading(_existing(self.path)) as query:
            return read_counts(query, duckdb_catalog(query).tables)

    def catalog(self) -> Catalog:
        with _reading(_existing(self.path)) as query:
            return duckdb_catalog(query)


READ_WAIT_S = 10.0
"""How long a reader of the catalog waits for a conflicting in-process connection to close."""


def _existing(path: Path) -> Path:
    if not Path(path).is_file():
        raise SQLExecutionError(
            f"no database at {path}; build the demo database with: python -m workbench db build"
        )
    return Path(path)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[Query]:
    # The same hardened settings as query execution: DuckDB refuses a second in-process
    # connection to one file with other settings.
    connection = connect_readonly(path, wait_s=READ_WAIT_S)
    try:
        yield lambda sql: connection.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise SQLExecutionError(f"reading {path} failed: {exc}") from exc
    finally:
        connection.close()


@functools.lru_cache(maxsize=8)
def _describe_file(
    path: str, _mtime_ns: int, _size: int, leave_out: frozenset[str]
) -> DatabaseSchema:
    with _reading(Path(path)) as query:
        return read_schema(query, duckdb_catalog(query), leave_out)


def connect_readonly(database: Path, *, wait_s: float = 0) -> duckdb.DuckDBPyConnection:
    """Open ``database`` read-only with external access disabled and the configuration locked.

    Args:
        wait_s: DuckDB refuses a second in-process connection to a file that is open with other
            settings (say, a page counting rows); retry for up to this long before giving up.
    """
    if not Path(database).is_file():
        raise SQLExecutionError(
            f"database file {database} does not exist; build it with `python -m workbench db build`"
        )
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(database), read_only=True, config=dict(READ_ONLY_CONFIG))
        except duckdb.Error as exc:
            conflict = "different configuration" in str(exc)
            if conflict and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            hint = (
                "; another connection in this process holds the file open with other settings: "
                "open it with workbench.sql.execute.connect_readonly, or close it first"
                if conflict
                else ""
            )
            raise SQLExecutionError(f"cannot open {database} read-only: {exc}{hint}") from exc


def warm_up(database: Database, at_once: int) -> None:
    """Get ready to run ``at_once`` queries at a time on ``database`` before the first one
    comes: a DuckDB file's queries run in worker processes, started now without waiting
    (``warm_workers``); a PostgreSQL server needs nothing."""
    if isinstance(database, DuckDBDatabase):
        warm_workers(at_once)


def run_query(
    sql: str,
    database: Path,
    *,
    timeout_s: float = 10,
    row_cap: int = 10_000,
    dialect: str = "postgres",
) -> QueryResult:
    """Check, transpile and run one read-only query, in a worker process held to the limits.

    Args:
        sql: the query as written (PostgreSQL by default).
        database: a DuckDB file, opened read-only.
        timeout_s: checking, transpiling and running the query must end within this many
            seconds; DuckDB is interrupted then, and the worker killed soon after.
        row_cap: at most this many rows are kept; ``truncated`` says whether more existed.
        dialect: the dialect ``sql`` is written in.

    Raises:
        SQLParseError, SQLRefused: before anything runs.
        SQLExecutionError: DuckDB rejected the query, it ran out of time or memory.
    """
    request = QueryRequest(sql, str(Path(database)), timeout_s, row_cap, dialect)
    return run_in_worker(request)


def execute_query(request: QueryRequest) -> QueryResult:
    """What ``run_query`` does inside its worker: check, transpile, run, cap.

    The timeout counts from the call, so time spent checking leaves less for running.
    """
    started = time.perf_counter()
    sql, database, timeout_s = request.sql, Path(request.database), request.timeout_s
    tree = check_readonly(sql, request.dialect)
    connection = connect_readonly(database, wait_s=timeout_s)
    try:
        executed_sql = tree_to_duckdb(tree, _cached_schema(database, connection))
        _confirm_single_select(executed_sql)
    except BaseException:
        connection.close()
        raise
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        connection.interrupt()

    left = timeout_s - (time.perf_counter() - started)
    watchdog = threading.Timer(max(left, 0.0), interrupt)
    watchdog.daemon = True
    watchdog.start()
    try:
        cursor = connection.execute(executed_sql)
        columns = tuple(d[0] for d in cursor.description or ())
        rows, cut_by = _fetch_capped(cursor, request.row_cap)
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise SQLExecutionError(
                f"the query timed out after {timeout_s:g} s; simplify it or raise "
                f"WORKBENCH_SQL_TIMEOUT_S"
            ) from exc
        if isinstance(exc, duckdb.OutOfMemoryException):
            said = str(exc).strip().splitlines()[0]  # the rest advises SET, which is refused
            raise SQLExecutionError(out_of_memory_message(), detail=f"DuckDB: {said}") from exc
        raise SQLExecutionError(f"DuckDB rejected the query: {exc}") from exc
    finally:
        watchdog.cancel()
        elapsed_ms = (time.perf_counter() - started) * 1000
        connection.close()
    return QueryResult(
        sql=sql,
        executed_sql=executed_sql,
        columns=columns,
        rows=tuple(rows),
        row_count=len(rows),
        truncated=cut_by is not None,
        elapsed_ms=elapsed_ms,
        cut_by=cut_by,
    )


FETCH_BATCH = 256


def _fetch_capped(
    cursor: duckdb.DuckDBPyConnection, row_cap: int
) -> tuple[list[tuple[Any, ...]], CutBy | None]:
    """Rows up to the row cap and ``MAX_RESULT_BYTES``, each cell cut at ``MAX_CELL_BYTES``."""
    rows: list[tuple[Any, ...]] = []
    total = 0
    cut_by: CutBy | None = None
    while True:
        batch = cursor.fetchmany(FETCH_BATCH)
        if not batch:
            return rows, cut_by
        for raw in batch:
            if len(rows) == row_cap:
                return rows, "rows"
            cells = []
            for value in raw:
                size = _value_size(value)
                if size > MAX_CELL_BYTES:
                    value, size, cut_by = _cut_cell(value, size), MAX_CELL_BYTES, "cell bytes"
                cells.append(value)
                total += size
            if total > MAX_RESULT_BYTES:
                return rows, "result bytes"
            rows.append(tuple(cells))


def _value_size(value: Any, limit: int = MAX_CELL_BYTES) -> int:
    """About how many bytes ``value`` takes written out; counting stops past ``limit``."""
    size = 0
    pending = [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, str | bytes | bytearray):
            size += len(item)
        elif isinstance(item, list | tuple):
            size += 2 * len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            size += 2 * len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            size += 8
    return size


def _cut_cell(value: Any, size: int) -> Any:
    """A cell over ``MAX_CELL_BYTES``: text and bytes cut to it, anything else described."""
    if isinstance(value, str | bytes | bytearray):
        return value[:MAX_CELL_BYTES]
    return cut_note(type(value).__name__)


def cut_note(kind: str, limit: int = MAX_CELL_BYTES) -> str:
    """What stands in a cell too large to return that has no prefix to show (a list, a struct);
    PostgreSQL's cut cells say the same (``workbench.sql.pgcaps``)."""
    return f"[a {kind} of more than {limit:,} bytes, cut: too large to return]"


def database_schema(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` of the main schema, for type-aware transpilation."""
    rows = connection.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND database_name = current_database() "
        "ORDER BY table_name, column_index"
    ).fetchall()
    schema: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        schema.setdefault(table, {})[column] = data_type
    return schema


_schema_cache: dict[tuple[str, int, int], dict[str, dict[str, str]]] = {}


def _cached_schema(
    database: Path, connection: duckdb.DuckDBPyConnection
) -> dict[str, dict[str, str]]:
    # Keyed by the file's identity, so a rebuilt database is read afresh.
    stat = Path(database).stat()
    key = (str(Path(database).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _schema_cache:
        _schema_cache.clear()
        _schema_cache[key] = database_schema(connection)
    return _schema_cache[key]


def _confirm_single_select(executed_sql: str) -> None:
    try:
        statements = duckdb.extract_statements(executed_sql)
    except duckdb.Error as exc:
        raise SQLExecutionError(f"DuckDB cannot parse the transpiled query: {exc}") from exc
    kinds = [statement.type for statement in statements]
    if kinds != [duckdb.StatementType.SELECT]:
        names = ", ".join(kind.name for kind in kinds) or "nothing"
        raise SQLRefused(f"refused: DuckDB reads the transpiled query as {names}, not one SELECT")
