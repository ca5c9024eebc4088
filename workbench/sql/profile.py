"""What the data holds, read with the same plain SQL on DuckDB and PostgreSQL: row counts,
whether NULLs occur, and which values a text column takes.

Which columns have their values listed is decided from the data alone, never from column
names (a rule tuned to one database's ``*_name`` columns lists two of a genre table's 25
names and every address of an 8-row staff table):

- a text column whose values *repeat* is a lookup (a status, a country, a category): at
  most half as many distinct values as non-NULL ones, and short ones (repeated notes
  longer than ``LOOKUP_MEAN_CHARS`` on average are prose);
- so is the first text column with all-distinct values of a table other tables point at
  that is small enough for all of them to be listed (a genre, a media type, a region): its
  values are what the rows are called;
- anything else (names of people, addresses, e-mails, free text: values all or nearly all
  distinct) gets a count and two short examples, which show the format without the data.

A list shows at most ``LIST_VALUES`` values and ``LIST_CHARS`` characters; when a column
has more, the most frequent are shown and the list says it was cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from workbench.sql.catalog import (
    Catalog,
    ColumnInfo,
    DatabaseSchema,
    Query,
    TableCatalog,
    TableInfo,
    catalog_names,
    leave_out,
    quote,
)

REPEAT_SHARE = 0.5
"""A text column with at most this share of distinct values among its non-NULL ones is a lookup."""
LOOKUP_MEAN_CHARS = 24
"""Values longer than this on average are prose (notes, addresses), not codes or names."""
LIST_VALUES = 40
"""At most this many values of a lookup column are shown."""
LABEL_TABLE_ROWS = LIST_VALUES
"""A table other tables point at has its label column listed when all its rows' names fit."""
LIST_CHARS = 800
"""... and at most this many characters of them."""
EXAMPLE_VALUES = 2
"""A column that is no lookup gets this many examples."""
EXAMPLE_MAX_CHARS = 40


def read_schema(query: Query, catalog: Catalog, left_out: frozenset[str]) -> DatabaseSchema:
    """The profile of every table of ``catalog`` but those ``left_out`` (``table`` or
    ``table.column``), with a warning for each table the role cannot read."""
    unreadable = tuple(
        f"table {name}: the role cannot read it (no SELECT privilege), so the model is not "
        "shown it; grant SELECT on it, or list it under exclude in the schema notes"
        for name in sorted(catalog.unreadable - left_out)
    )
    return DatabaseSchema(
        read_tables(query, leave_out(catalog.tables, left_out)),
        unreadable + catalog.warnings,
        catalog_names(catalog),
    )


def read_tables(query: Query, tables: Iterable[TableCatalog]) -> tuple[TableInfo, ...]:
    """Row counts, NULLs and text values of every table, in the order given."""
    tables = tuple(tables)
    pointed_at = {
        key.table for table in tables for key in table.foreign_keys if key.table != table.name
    }
    return tuple(_read_table(query, table, table.name in pointed_at) for table in tables)


def read_counts(query: Query, tables: Iterable[TableCatalog]) -> dict[str, int]:
    """Row count of every table, in the order given."""
    return {t.name: int(query(f"SELECT COUNT(*) FROM {quote(t.name)}")[0][0]) for t in tables}


def _read_table(query: Query, table: TableCatalog, pointed_at: bool) -> TableInfo:
    name = quote(table.name)
    in_keys = {column for key in table.foreign_keys for column in key.columns}
    described = [c for c in table.columns if c.text and c.name not in in_keys]
    measures = ["COUNT(*)"]
    measures += [f"COUNT({quote(c.name)})" for c in table.columns]
    measures += [f"COUNT(DISTINCT {quote(c.name)})" for c in described]
    row = query(f"SELECT {', '.join(measures)} FROM {name}")[0]
    rows = int(row[0])
    present = dict(
        zip((c.name for c in table.columns), row[1 : 1 + len(table.columns)], strict=True)
    )
    distinct = dict(zip((c.name for c in described), row[1 + len(table.columns) :], strict=True))
    label = _label_column(described, distinct, present, rows) if pointed_at else None
    columns = []
    for column in table.columns:
        info = replace(column, has_nulls=int(present[column.name]) < rows)
        if column.name in distinct:
            count, filled = int(distinct[column.name]), int(present[column.name])
            lookup = column.name == label or count <= filled * REPEAT_SHARE
            info = _with_values(query, name, info, count, lookup=lookup)
        columns.append(info)
    return TableInfo(table.name, rows, tuple(columns), table.primary_key, table.foreign_keys)


def _label_column(
    described: Sequence[ColumnInfo], distinct: dict[str, Any], present: dict[str, Any], rows: int
) -> str | None:
    """The column a small lookup table's rows are called by: its first text column whose
    values are all distinct and never NULL."""
    if rows > LABEL_TABLE_ROWS:
        return None
    for column in described:
        if int(distinct[column.name]) == int(present[column.name]) == rows:
            return column.name
    return None


def _with_values(
    query: Query, table: str, column: ColumnInfo, distinct: int, *, lookup: bool
) -> ColumnInfo:
    q = quote(column.name)
    if lookup:
        found = query(
            f"SELECT {q} FROM {table} WHERE {q} IS NOT NULL "
            f"GROUP BY {q} ORDER BY COUNT(*) DESC, {q} LIMIT {LIST_VALUES}"
        )
        frequent = [str(value) for (value,) in found]
        if sum(map(len, frequent)) <= LOOKUP_MEAN_CHARS * len(frequent):
            values, cut = fit_values(frequent, distinct)
            return replace(column, distinct=distinct, values=values, cut=cut)
        short = [v for v in frequent if 1 <= len(v) <= EXAMPLE_MAX_CHARS]
        return replace(column, distinct=distinct, examples=tuple(short[:EXAMPLE_VALUES]))
    found = query(
        f"SELECT {q} FROM {table} WHERE {q} IS NOT NULL "
        f"AND length({q}) BETWEEN 1 AND {EXAMPLE_MAX_CHARS} "
        f"GROUP BY {q} ORDER BY COUNT(*) DESC, {q} LIMIT {EXAMPLE_VALUES}"
    )
    return replace(column, distinct=distinct, examples=tuple(str(value) for (value,) in found))


def fit_values(frequent: Sequence[str], distinct: int) -> tuple[tuple[str, ...], bool]:
    """The values to show of a lookup column, most frequent first, and whether the list is
    cut; a whole list is sorted (here, not by the engine: collations differ, the
    description should not)."""
    shown: list[str] = []
    chars = 0
    for value in frequent[:LIST_VALUES]:
        chars += len(value) + 4  # quotes, comma, space
        if shown and chars > LIST_CHARS:
            break
        shown.append(value)
    if len(shown) >= distinct:
        return tuple(sorted(shown)), False
    return tuple(shown), True
