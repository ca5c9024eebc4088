"""What a database holds, read from the database itself: tables, row counts, columns, keys, values.

Two halves. The *catalog* (table names, column types, primary and foreign keys) is read from
each engine's own system tables: ``duckdb_catalog`` here, the PostgreSQL one in
``workbench.sql.postgres``. The *facts* about the data (row counts, whether NULLs occur, the
distinct values of small text columns, examples of large ones) are read with the same plain SQL
on either engine by ``read_tables``, so that a DuckDB file and a PostgreSQL database holding the
same rows are described alike. ``workbench.sql.schema`` turns the result into the ``{{schema}}``
text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

LIST_VALUES_UP_TO = 12
"""A text column with at most this many distinct values has them all listed."""
LIST_NAMES_UP_TO = 40
"""A ``*_name`` column of a small lookup table is listed up to this many."""
EXAMPLE_VALUES = 2
"""A text column with more distinct values gets this many examples."""
EXAMPLE_MAX_CHARS = 40

Query = Callable[[str], Sequence[Sequence[Any]]]
"""Runs one catalog or statistics query and returns its rows."""


@dataclass(frozen=True)
class ColumnInfo:
    """One column: its type and keys, and for text columns what values it holds."""

    name: str
    data_type: str
    text: bool = False
    primary_key: bool = False
    references: str | None = None
    """``table.column`` of a foreign key."""
    has_nulls: bool = False
    distinct: int | None = None
    """Distinct values of a text column that is not a foreign key (None otherwise)."""
    values: tuple[str, ...] | None = None
    """Every value, when there are few (None: too many to list)."""
    examples: tuple[str, ...] = ()
    """The most frequent short values, when there are many."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: tuple[ColumnInfo, ...]


@dataclass(frozen=True)
class TableCatalog:
    """A table as the engine's catalog describes it, before its data is looked at."""

    name: str
    columns: tuple[ColumnInfo, ...]
    references: frozenset[str] = frozenset()
    """Tables this one has foreign keys to."""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def referenced_first(tables: Iterable[TableCatalog]) -> tuple[TableCatalog, ...]:
    """Tables ordered so that referenced tables come before the tables that reference them."""
    by_name = {t.name: t for t in sorted(tables, key=lambda t: t.name)}
    ordered: list[str] = []
    while len(ordered) < len(by_name):
        placed = set(ordered)
        ready = [
            name
            for name, table in by_name.items()
            if name not in placed and (table.references & by_name.keys()) - {name} <= placed
        ]
        # A reference cycle cannot be ordered; take the rest alphabetically.
        ordered.extend(ready[:1] or [n for n in by_name if n not in placed])
    return tuple(by_name[name] for name in ordered)


def read_tables(query: Query, tables: Iterable[TableCatalog]) -> tuple[TableInfo, ...]:
    """Row counts, NULLs and text values of every table, in the order given."""
    return tuple(_read_table(query, table) for table in tables)


def read_counts(query: Query, tables: Iterable[TableCatalog]) -> dict[str, int]:
    """Row count of every table, in the order given."""
    return {t.name: int(query(f"SELECT COUNT(*) FROM {quote(t.name)}")[0][0]) for t in tables}


def _read_table(query: Query, table: TableCatalog) -> TableInfo:
    name = quote(table.name)
    described = [c for c in table.columns if c.text and c.references is None]
    measures = ["COUNT(*)"]
    measures += [f"COUNT({quote(c.name)})" for c in table.columns]
    measures += [f"COUNT(DISTINCT {quote(c.name)})" for c in described]
    row = query(f"SELECT {', '.join(measures)} FROM {name}")[0]
    rows = int(row[0])
    present = dict(
        zip((c.name for c in table.columns), row[1 : 1 + len(table.columns)], strict=True)
    )
    distinct = dict(zip((c.name for c in described), row[1 + len(table.columns) :], strict=True))
    columns = []
    for column in table.columns:
        info = ColumnInfo(
            column.name,
            column.data_type,
            text=column.text,
            primary_key=column.primary_key,
            references=column.references,
            has_nulls=int(present[column.name]) < rows,
        )
        if column.name in distinct:
            info = _with_values(query, name, info, int(distinct[column.name]))
        columns.append(info)
    return TableInfo(table.name, rows, tuple(columns))


def _with_values(query: Query, table: str, column: ColumnInfo, distinct: int) -> ColumnInfo:
    q = quote(column.name)
    listed = distinct <= LIST_VALUES_UP_TO or (
        column.name.endswith("_name") and distinct <= LIST_NAMES_UP_TO
    )
    if listed:
        found = query(f"SELECT DISTINCT {q} FROM {table} WHERE {q} IS NOT NULL")
        # Sorted here, not by the engine: collations differ, the description should not.
        return replace(column, distinct=distinct, values=_sorted(found))
    found = query(
        f"SELECT {q} FROM {table} WHERE {q} IS NOT NULL "
        f"AND length({q}) BETWEEN 1 AND {EXAMPLE_MAX_CHARS} "
        f"GROUP BY {q} ORDER BY COUNT(*) DESC, {q} LIMIT {EXAMPLE_VALUES}"
    )
    examples = tuple(str(value) for (value,) in found)
    return replace(column, distinct=distinct, examples=examples)


def _sorted(rows: Sequence[Sequence[Any]]) -> tuple[str, ...]:
    return tuple(sorted(str(value) for (value,) in rows))


# -- DuckDB's catalog ---------------------------------------------------------------------


def duckdb_catalog(query: Query) -> tuple[TableCatalog, ...]:
    """The main schema's tables from DuckDB's catalog functions, referenced tables first."""
    foreign: dict[tuple[str, str], str] = {}
    references: dict[str, set[str]] = {}
    for table, columns, ref_table, ref_columns in query(
        "SELECT table_name, constraint_column_names, referenced_table, referenced_column_names "
        "FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ):
        foreign[(table, columns[0])] = f"{ref_table}.{ref_columns[0]}"
        references.setdefault(table, set()).add(ref_table)
    primary = {
        (table, columns[0])
        for table, columns in query(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY' "
            "AND schema_name = 'main' AND database_name = current_database()"
        )
    }
    columns: dict[str, list[ColumnInfo]] = {}
    for table, column, data_type in query(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND database_name = current_database() "
        "ORDER BY table_name, column_index"
    ):
        columns.setdefault(table, []).append(
            ColumnInfo(
                column,
                data_type,
                text=data_type == "VARCHAR",
                primary_key=(table, column) in primary,
                references=foreign.get((table, column)),
            )
        )
    return referenced_first(
        TableCatalog(name, tuple(cols), frozenset(references.get(name, ())))
        for name, cols in columns.items()
    )
