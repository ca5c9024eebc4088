"""Run checked queries on PostgreSQL, natively: the pipeline writes PostgreSQL already.

The sqlglot check (``workbench.sql.check``) still refuses everything but one read-only query
before a connection is opened. Behind it stand the database's own guards, so that a gap in the
check still cannot write:

- every query gets a fresh connection whose session defaults to read-only transactions, and
  runs inside an explicit ``READ ONLY`` transaction that is rolled back, never committed;
- ``statement_timeout`` bounds it on the server (``WORKBENCH_SQL_TIMEOUT_S``);
- it goes through the extended query protocol, where the server accepts exactly one statement
  whatever the text holds;
- the result is held to the byte caps of ``workbench.sql.limits`` where its bytes arrive: the
  query is described first and run inside a wrapping query that cuts every cell over its cap on
  the server (``workbench.sql.pgcaps``), then rows are streamed one at a time and the stream is
  cut at ``MAX_RESULT_BYTES`` and at the row cap, so neither a 900 MB cell nor ten million rows
  cross the network whole; ``cut_by`` says what cut it, as on DuckDB. ``executed_sql`` is the
  query as it runs inside that wrapper;
- a role that can write server files even inside a read-only transaction (a superuser, a
  member of ``pg_write_server_files`` or ``pg_execute_server_program``) is refused outright.

The SQL runs as written, not regenerated: the server's own parser decides what it is, and a
round trip through another parser's printer could only change its meaning.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    SchemaPermissionDenied,
    SQLExecutionError,
    SQLRefused,
    WorkbenchError,
)
from workbench.sql import pgcaps
from workbench.sql.catalog import (
    Catalog,
    ColumnInfo,
    DatabaseSchema,
    ForeignKey,
    Query,
    TableCatalog,
    referenced_first,
)
from workbench.sql.check import check_readonly
from workbench.sql.execute import CutBy, QueryResult
from workbench.sql.profile import read_counts, read_schema
from workbench.urls import PASSWORD_HOME

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT = "install the PostgreSQL driver: pip install -e '.[postgres]' (make setup does)"
APPLICATION_NAME = "text2sql-workbench"

_ROLE_CHECK = (
    "SELECT rolsuper, pg_has_role('pg_write_server_files', 'MEMBER'), "
    "pg_has_role('pg_execute_server_program', 'MEMBER') FROM pg_roles WHERE rolname = current_user"
)

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       t.typcategory = 'S', a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = ANY (current_schemas(false))
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY array_position(current_schemas(false), n.nspname::text), c.relname, a.attnum
"""

_KEYS = """
SELECT n.nspname, tc.relname, con.contype,
       array_agg(a.attname::text ORDER BY k.i), rc.relname::text,
       array_agg(ra.attname::text ORDER BY k.i)
FROM pg_constraint con
JOIN pg_class tc ON tc.oid = con.conrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, i)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[k.i]
WHERE con.contype IN ('p', 'f') AND n.nspname = ANY (current_schemas(false))
GROUP BY n.nspname, tc.relname, con.oid, con.contype, rc.relname
ORDER BY 1, 2, 3, con.oid
"""

_UNSEEN = """
SELECT n.nspname, c.relname, n.nspname = ANY (current_schemas(false)),
       has_table_privilege(c.oid, 'SELECT'), has_schema_privilege(n.oid, 'USAGE')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
  AND (NOT n.nspname = ANY (current_schemas(false)) OR NOT has_table_privilege(c.oid, 'SELECT'))
ORDER BY 1, 2
"""
"""Tables the description leaves out: unreadable ones, and those of schemas off the path."""


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for labels and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _driver() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # the postgres extra is not installed
        raise ConfigError(f"a postgresql:// database needs psycopg: {INSTALL_HINT}") from exc
    return psycopg


def check_url(url: str, setting: str) -> None:
    """Raise ConfigError naming ``setting`` when ``url`` is not a usable connection string."""
    psycopg = _driver()
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"{setting}={redact(url)!r} is not a PostgreSQL URL ({exc}); "
            "write it as postgresql://USER@HOST:PORT/DATABASE"
        ) from exc


@dataclass(frozen=True)
class PostgresDatabase:
    """A PostgreSQL database reached by URL; every query on its own read-only connection.

    Args:
        url: ``postgresql://user@host:port/db``; a password is best left to ``PGPASSWORD``
            or ``~/.pgpass``, which libpq reads.
        setting: where the URL was configured, named in every error about it.
    """

    url: str
    timeout_s: float = 10.0
    row_cap: int = 10_000
    setting: str = "WORKBENCH_DATABASE_URL"

    @property
    def label(self) -> str:
        return redact(self.url)

    @property
    def dialect(self) -> str:
        return "postgres"

    def run(self, sql: str, *, dialect: str = "postgres") -> QueryResult:
        """Check one read-only query and run it (transpiled first when not PostgreSQL)."""
        tree = check_readonly(sql, dialect)
        executed = sql if dialect == "postgres" else tree.sql(dialect="postgres", comments=False)
        with self.connect() as connection:
            started = time.perf_counter()
            columns, rows, cut_by = self._stream(connection, executed)
            elapsed_ms = (time.perf_counter() - started) * 1000
        return QueryResult(
            sql=sql,
            executed_sql=executed,
            columns=columns,
            rows=tuple(rows),
            row_count=len(rows),
            truncated=cut_by is not None,
            elapsed_ms=elapsed_ms,
            cut_by=cut_by,
        )

    def _stream(
        self, connection: psycopg.Connection, sql: str
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]], CutBy | None]:
        """The query's columns, its rows within the caps, and what cut them (``pgcaps``)."""
        psycopg = _driver()
        try:
            described = pgcaps.describe(connection, sql)
            rows, cut_by = pgcaps.read_capped(connection, sql, described, self.row_cap)
        except psycopg.Error as exc:
            raise self._query_error(connection, exc) from exc
        return tuple(column.name for column in described), rows, cut_by

    def _query_error(self, connection: psycopg.Connection, exc: Exception) -> WorkbenchError:
        psycopg = _driver()
        if connection.broken or connection.closed:
            return self._unavailable(exc, "lost the connection to")
        if isinstance(exc, psycopg.errors.QueryCanceled) and "timeout" in str(exc):
            return SQLExecutionError(
                f"the query timed out after {self.timeout_s:g} s; simplify it or raise "
                "WORKBENCH_SQL_TIMEOUT_S"
            )
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return SQLRefused(f"refused by the database: {_first_lines(exc)}")
        schema = re.search(r"permission denied for schema (\S+)", str(exc))
        if isinstance(exc, psycopg.errors.InsufficientPrivilege) and schema:
            return SchemaPermissionDenied(
                f"PostgreSQL rejected the query: {_first_lines(exc, limit=1)}; the role "
                f"{connection.info.user!r} may not use schema {schema[1]}: as its owner, "
                f"GRANT USAGE ON SCHEMA {schema[1]} TO {connection.info.user} (and SELECT on "
                "its tables)"
            )
        # SQLError keeps one line (with the HINT) and the whole text as its detail.
        return SQLExecutionError(f"PostgreSQL rejected the query: {_first_lines(exc, limit=8)}")

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A fresh connection inside a READ ONLY transaction, rolled back and closed after."""
        psycopg = _driver()
        check_url(self.url, self.setting)
        timeout_ms = max(1, int(self.timeout_s * 1000))
        parameters = psycopg.conninfo.conninfo_to_dict(self.url)
        options = " ".join(
            filter(
                None,
                (
                    str(parameters.get("options") or ""),
                    "-c default_transaction_read_only=on",
                    f"-c statement_timeout={timeout_ms}",
                    f"-c lock_timeout={timeout_ms}",
                    f"-c idle_in_transaction_session_timeout={timeout_ms * 3}",
                ),
            )
        )
        try:
            connection = psycopg.connect(
                self.url,
                options=options,
                connect_timeout=max(2, math.ceil(self.timeout_s)),
                application_name=APPLICATION_NAME,
            )
        except psycopg.OperationalError as exc:
            raise connect_failure(exc, self.url, self.setting) from exc
        try:
            connection.read_only = True
            try:
                self._refuse_writers(connection)
            except psycopg.Error as exc:
                raise self._query_error(connection, exc) from exc
            yield connection
        finally:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()
            connection.close()

    def _refuse_writers(self, connection: psycopg.Connection) -> None:
        user = connection.info.user
        row = connection.execute(_ROLE_CHECK).fetchone()
        if row is not None and any(row):
            raise ConfigError(
                f"{self.setting} connects as {user!r}, a role that can write files on the "
                "database server even inside a read-only transaction (superuser, "
                "pg_write_server_files or pg_execute_server_program); connect as a read-only "
                "role instead (README: 'Use it on your own pipeline')"
            )

    def _unavailable(self, exc: Exception, what: str) -> DatabaseUnavailable:
        return unavailable(exc, what, self.url, self.setting)

    # -- what it holds --------------------------------------------------------------------

    def describe(self, leave_out: frozenset[str] = frozenset()) -> DatabaseSchema:
        """Read afresh whenever the catalog changed (a table or column added or dropped)."""
        leave_out = frozenset(leave_out)
        with self._reading() as query:
            catalog = _catalog(query)
            key = (self.label, hash((catalog, leave_out)))
            with _describe_lock:
                cached = _described.get(key)
            if cached is not None:
                return cached
            described = read_schema(query, catalog, leave_out)
        with _describe_lock:
            if len(_described) >= 8:
                _described.clear()
            _described[key] = described
        return described

    def table_counts(self) -> dict[str, int]:
        with self._reading() as query:
            return read_counts(query, _catalog(query).tables)

    def catalog(self) -> Catalog:
        with self._reading() as query:
            return _catalog(query)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Query]:
        psycopg = _driver()
        with self.connect() as connection:
            try:
                yield lambda sql: connection.execute(sql).fetchall()
            except psycopg.Error as exc:
                error = self._query_error(connection, exc)
                if "timed out" in str(error):
                    error = SQLExecutionError(
                        f"describing {self.label} took longer than {self.timeout_s:g} s; raise "
                        "WORKBENCH_SQL_TIMEOUT_S or write the workspace's schema.md by hand"
                    )
                raise error from exc


def connect_failure(exc: Exception, url: str, setting: str) -> WorkbenchError:
    """What a failed connection to ``url`` (configured in ``setting``) means, and the fix."""
    message = _first_lines(exc)
    label = redact(url)
    if "no password supplied" in message:
        return ConfigError(
            f"the database at {label} asks for a password and none was given: {PASSWORD_HOME} "
            "(never in workbench.toml, which is kept in git)"
        )
    if "password authentication failed" in message:
        refused = f"the database at {label} refused the password for user "
        refused += repr(urlsplit(url).username or "(default)")
        if urlsplit(url).password:
            return ConfigError(
                f"{refused}: it is the one written in {setting}, which wins over PGPASSWORD and "
                f"~/.pgpass; remove it from the URL and {PASSWORD_HOME}"
            )
        return ConfigError(f"{refused}: check the one in PGPASSWORD or ~/.pgpass")
    if "does not exist" in message:
        return ConfigError(f"{message.split('FATAL:')[-1].strip()} at {label}: fix {setting}")
    return unavailable(exc, "cannot reach", url, setting)


def unavailable(exc: Exception, what: str, url: str, setting: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"{what} the database at {redact(url)}: {_first_lines(exc)}. Is it running, and are "
        f"the host and port in {setting} right?"
    )


_described: dict[tuple[str, int], DatabaseSchema] = {}
_describe_lock = threading.Lock()


def _catalog(query: Query) -> Catalog:
    """The tables on the search path the role may read, from PostgreSQL's catalog.

    A name in two schemas is the one found first on the search path, as in a query.
    """
    schema_of: dict[str, str] = {}
    columns: dict[str, list[ColumnInfo]] = {}
    for schema, table, column, data_type, text, not_null in query(_COLUMNS):
        if schema_of.setdefault(table, schema) == schema:
            columns.setdefault(table, []).append(
                ColumnInfo(column, data_type, text=bool(text), not_null=bool(not_null))
            )
    primary: dict[str, tuple[str, ...]] = {}
    foreign: dict[str, list[ForeignKey]] = {}
    for schema, table, kind, key_columns, ref_table, ref_columns in query(_KEYS):
        if schema_of.get(table) != schema:
            continue
        if kind == "p":
            primary[table] = tuple(key_columns)
        else:
            foreign.setdefault(table, []).append(
                ForeignKey(tuple(key_columns), ref_table, tuple(ref_columns))
            )
    unreadable, warnings = _unseen(query)
    tables = referenced_first(
        TableCatalog(name, tuple(cols), primary.get(name, ()), tuple(foreign.get(name, ())))
        for name, cols in columns.items()
    )
    return Catalog(tables, warnings, frozenset(unreadable - schema_of.keys()))


def _unseen(query: Query) -> tuple[set[str], tuple[str, ...]]:
    """Tables on the search path the role cannot read, and a warning for each schema off
    the search path that holds tables."""
    unreadable: set[str] = set()
    elsewhere: dict[str, list[str]] = {}
    unusable: set[str] = set()
    for schema, table, on_path, readable, usable in query(_UNSEEN):
        if not on_path:
            elsewhere.setdefault(schema, []).append(table)
            if not usable:
                unusable.add(schema)
        elif not readable:
            unreadable.add(table)
    if not elsewhere:
        return unreadable, ()
    ((role, path),) = query(
        "SELECT current_user::text, array_to_string(current_schemas(false), ', ')"
    )
    warnings = tuple(
        (
            f"permission denied for schema {schema} ({len(tables)} table(s): {_some(tables)}): "
            f"the role has no USAGE on it, so the model is not shown it: GRANT USAGE ON "
            f"SCHEMA {schema} TO {role} (and SELECT on its tables), then ALTER ROLE {role} SET "
            f"search_path = {', '.join(filter(None, (path, schema)))}; or ignore this if it is "
            "not meant to be queried"
        )
        if schema in unusable
        else (
            f"schema {schema} ({len(tables)} table(s): {_some(tables)}) is not on the search "
            f"path ({path or 'empty'}), so the model is not shown it: ALTER ROLE {role} SET "
            f"search_path = {', '.join(filter(None, (path, schema)))}, or ignore this if it is "
            "not meant to be queried"
        )
        for schema, tables in elsewhere.items()
    )
    return unreadable, warnings


def _some(names: list[str], shown: int = 5) -> str:
    more = f", … ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _first_lines(exc: BaseException, limit: int = 3) -> str:
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    return "\n".join(lines[:limit]) or type(exc).__name__
