"""What a database holds, read from the database itself: tables, row counts, columns.

``schema_description`` is the text the SQL stage's prompt shows the model for
``{{schema}}``: one block per table with its row count, then one line per column with
its type, key, foreign key, whether NULLs occur, and for text columns either every
distinct value (when there are few) or a few examples. Every reader opens the file
with the same hardened settings as query execution (DuckDB refuses a second
in-process connection with other settings).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import duckdb

from workbench.errors import SQLExecutionError
from workbench.sql.execute import connect_readonly

LIST_VALUES_UP_TO = 12
"""A text column with at most this many distinct values has them all listed."""
LIST_NAMES_UP_TO = 40
"""A ``*_name`` column of a small lookup table (tests, labs) is listed up to this many."""
EXAMPLE_VALUES = 2
"""A text column with more distinct values gets this many examples."""
EXAMPLE_MAX_CHARS = 40
OPEN_WAIT_S = 10.0
"""How long a reader waits for a conflicting in-process connection to close."""


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[object]:
    if not path.is_file():
        raise SQLExecutionError(
            f"no database at {path}; build the demo database with: python -m workbench db build"
        )
    con = connect_readonly(path, wait_s=OPEN_WAIT_S)
    try:
        yield con
    except duckdb.Error as exc:
        raise SQLExecutionError(f"reading {path} failed: {exc}") from exc
    finally:
        con.close()


def _tables(con) -> list[str]:
    """Table names, referenced tables before the tables that reference them."""
    names = sorted(
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
    )
    needs = {name: set() for name in names}
    for table, referenced in con.execute(
        "SELECT table_name, referenced_table FROM duckdb_constraints() "
        "WHERE constraint_type = 'FOREIGN KEY'"
    ).fetchall():
        if table in needs and referenced in needs and referenced != table:
            needs[table].add(referenced)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= set(ordered)]
        # A reference cycle cannot be ordered; take the rest alphabetically.
        ordered.extend(ready[:1] or [n for n in names if n not in ordered])
    return ordered


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_counts(path: Path) -> dict[str, int]:
    """Row count of every table, in creation order (referenced tables first)."""
    with _read_only(path) as con:
        return {
            name: con.execute(f"SELECT COUNT(*) FROM {_quote(name)}").fetchone()[0]
            for name in _tables(con)
        }


def schema_description(path: Path) -> str:
    """Compact text of every table for a SQL-generation prompt's ``{{schema}}``.

    One block per table: its row count, then one line per column with type, key,
    foreign key, whether NULLs occur, and for text columns either every distinct
    value (when there are few) or a few examples. Read once per version of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SQLExecutionError(
            f"no database at {path}; build the demo database with: python -m workbench db build"
        )
    stat = path.stat()
    return _describe(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _describe(path: str, _mtime_ns: int, _size: int) -> str:
    with _read_only(Path(path)) as con:
        foreign = {
            (table, columns[0]): f"{ref_table}.{ref_columns[0]}"
            for table, columns, ref_table, ref_columns in con.execute(
                "SELECT table_name, constraint_column_names, referenced_table, "
                "referenced_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'FOREIGN KEY'"
            ).fetchall()
        }
        primary = {
            (table, columns[0])
            for table, columns in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
        blocks = []
        for table in _tables(con):
            rows = con.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]
            lines = [f"{table} ({rows:,} rows)"]
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            for column, data_type in columns:
                lines.append(
                    "  " + _describe_column(con, table, column, data_type, primary, foreign)
                )
            blocks.append("\n".join(lines))
        return "\n".join(blocks)


def _describe_column(con, table, column, data_type, primary, foreign) -> str:
    parts = [f"{column} {data_type}"]
    if (table, column) in primary:
        parts.append("primary key")
    if (table, column) in foreign:
        parts.append(f"-> {foreign[(table, column)]}")
    q_table, q_column = _quote(table), _quote(column)
    nulls, distinct = con.execute(
        f"SELECT COUNT(*) - COUNT({q_column}), COUNT(DISTINCT {q_column}) FROM {q_table}"
    ).fetchone()
    if nulls:
        parts.append("has NULLs")
    text = ", ".join(parts)
    if data_type != "VARCHAR" or (table, column) in foreign:
        return text
    if distinct <= LIST_VALUES_UP_TO or (column.endswith("_name") and distinct <= LIST_NAMES_UP_TO):
        values = con.execute(
            f"SELECT DISTINCT {q_column} FROM {q_table} WHERE {q_column} IS NOT NULL ORDER BY 1"
        ).fetchall()
        return f"{text}; values: " + ", ".join(_literal(v) for (v,) in values)
    examples = con.execute(
        f"SELECT {q_column} FROM {q_table} WHERE {q_column} IS NOT NULL "
        f"AND length({q_column}) BETWEEN 1 AND {EXAMPLE_MAX_CHARS} "
        f"GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT {EXAMPLE_VALUES}"
    ).fetchall()
    if not examples:
        return text
    return f"{text}; {distinct:,} distinct, e.g. " + ", ".join(_literal(v) for (v,) in examples)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
