"""What a database holds, as its catalog says: tables, columns, types, keys, NOT NULL.

Two halves. The *catalog* is read from each engine's own system tables: ``duckdb_catalog``
here, the PostgreSQL one in ``workbench.sql.postgres``; both give ``TableCatalog`` values. The
*profile* of the data (row counts, whether NULLs occur, the values of lookup columns) is read
with the same plain SQL on either engine by ``workbench.sql.profile``, so that a DuckDB file
and a PostgreSQL database holding the same rows are described alike.
``workbench.sql.schema`` turns the result into the ``{{schema}}`` and ``{{schema_sql}}`` texts.

Keys are the table's, not the column's: a primary key or foreign key may span several
columns (``playlist_track (playlist_id, track_id)``), and calling its first column a key
would tell the model that column is unique.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

Query = Callable[[str], Sequence[Sequence[Any]]]
"""Runs one catalog or statistics query and returns its rows."""


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of a table refer to ``referenced`` columns of ``table``."""

    columns: tuple[str, ...]
    table: str
    referenced: tuple[str, ...]


@dataclass(frozen=True)
class ColumnInfo:
    """One column: its type, and for text columns what values it holds."""

    name: str
    data_type: str
    text: bool = False
    not_null: bool = False
    """Declared NOT NULL (a primary key's columns are, whether declared or not)."""
    has_nulls: bool = False
    distinct: int | None = None
    """Distinct values of a text column that is not a foreign key (None otherwise)."""
    values: tuple[str, ...] | None = None
    """The values of a lookup column: all of them, or the most frequent when ``cut``."""
    cut: bool = False
    """``values`` are not all of them: ``distinct`` says how many there are."""
    examples: tuple[str, ...] = ()
    """The most frequent short values of a column that is no lookup."""
    description: str | None = None
    """What the workspace's schema notes say about it."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class TableCatalog:
    """A table as the engine's catalog describes it, before its data is looked at."""

    name: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def references(self) -> frozenset[str]:
        """Tables this one has foreign keys to."""
        return frozenset(key.table for key in self.foreign_keys)


@dataclass(frozen=True)
class Catalog:
    """The tables a role may read, and what was seen but left out of them."""

    tables: tuple[TableCatalog, ...]
    warnings: tuple[str, ...] = ()
    unreadable: frozenset[str] = frozenset()
    """Tables on the search path the role may not read (named, never described)."""


@dataclass(frozen=True)
class DatabaseSchema:
    """What ``Database.describe`` returns: the tables, and warnings about what it could not
    show (tables the role cannot read, schemas outside the search path).

    Args:
        names: every ``table`` and ``table.column`` the catalog holds, left-out ones
            included (what a schema notes file may name).
    """

    tables: tuple[TableInfo, ...]
    warnings: tuple[str, ...] = ()
    names: frozenset[str] = frozenset()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def catalog_names(catalog: Catalog) -> frozenset[str]:
    """Every ``table`` and ``table.column`` of ``catalog``."""
    names = set(catalog.unreadable)
    for table in catalog.tables:
        names.add(table.name)
        names.update(f"{table.name}.{column.name}" for column in table.columns)
    return frozenset(names)


def leave_out(tables: Iterable[TableCatalog], names: Collection[str]) -> tuple[TableCatalog, ...]:
    """``tables`` without the tables and ``table.column`` columns ``names`` lists.

    A key that needs a column left out goes with it, and so does a foreign key to a table
    that is not there: the statements must still build.
    """
    kept = [t for t in tables if t.name not in names]
    columns = {
        t.name: tuple(c for c in t.columns if f"{t.name}.{c.name}" not in names) for t in kept
    }
    present = {name: {c.name for c in cols} for name, cols in columns.items()}
    result = []
    for table in kept:
        mine = present[table.name]
        primary = table.primary_key if set(table.primary_key) <= mine else ()
        foreign = tuple(
            key
            for key in table.foreign_keys
            if set(key.columns) <= mine and set(key.referenced) <= present.get(key.table, set())
        )
        result.append(replace(table, columns=columns[table.name], primary_key=primary,
                              foreign_keys=foreign))  # fmt: skip
    return referenced_first(result)


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


# -- DuckDB's catalog ---------------------------------------------------------------------

_DUCKDB_HERE = "database_name = current_database()"


def duckdb_catalog(query: Query) -> Catalog:
    """The main schema's tables from DuckDB's catalog functions, referenced tables first."""
    foreign: dict[str, list[ForeignKey]] = {}
    primary: dict[str, tuple[str, ...]] = {}
    for table, kind, columns, ref_table, ref_columns in query(
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') "
        f"AND schema_name = 'main' AND {_DUCKDB_HERE} ORDER BY table_name, constraint_index"
    ):
        if kind == "PRIMARY KEY":
            primary[table] = tuple(columns)
        else:
            foreign.setdefault(table, []).append(
                ForeignKey(tuple(columns), ref_table, tuple(ref_columns))
            )
    columns: dict[str, list[ColumnInfo]] = {}
    for table, column, data_type, nullable in query(
        "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
        f"WHERE schema_name = 'main' AND {_DUCKDB_HERE} ORDER BY table_name, column_index"
    ):
        columns.setdefault(table, []).append(
            ColumnInfo(
                column,
                data_type,
                text=data_type == "VARCHAR",
                not_null=not nullable or column in primary.get(table, ()),
            )
        )
    elsewhere = query(
        "SELECT schema_name, count(*) FROM duckdb_tables() "
        f"WHERE schema_name <> 'main' AND NOT internal AND {_DUCKDB_HERE} "
        "GROUP BY schema_name ORDER BY schema_name"
    )
    warnings = tuple(
        f"schema {schema} holds {count} table(s) outside the main schema; they are left out "
        "(queries name main's tables without a schema)"
        for schema, count in elsewhere
    )
    tables = referenced_first(
        TableCatalog(name, tuple(cols), primary.get(name, ()), tuple(foreign.get(name, ())))
        for name, cols in columns.items()
    )
    return Catalog(tables, warnings)
