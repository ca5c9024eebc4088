"""The ``{{schema}}`` and ``{{schema_sql}}`` texts the SQL stage shows the model, and the
row counts a page shows.

Read from the target database (``Database.describe``): one block per table with its row
count, then one line per column with its type, key, foreign key, whether NULLs occur, and for
text columns either every distinct value (when there are few) or a few examples;
``{{schema_sql}}`` holds the same facts as ``CREATE TABLE`` statements. A workspace
may keep a hand-written ``schema.md`` instead; when it exists it wins, because teams curate
what the model sees (leaving out tables it must not query, explaining codes).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from workbench.errors import ConfigError
from workbench.sql.catalog import ColumnInfo, TableInfo
from workbench.sql.execute import Database, DuckDBDatabase

Source = Database | Path
"""A database, or the path of a DuckDB file."""


def _database(source: Source) -> Database:
    return DuckDBDatabase(Path(source)) if isinstance(source, str | Path) else source


def table_counts(source: Source) -> dict[str, int]:
    """Row count of every table, in creation order (referenced tables first)."""
    return _database(source).table_counts()


def schema_description(source: Source, *, curated: Path | None = None) -> str:
    """Compact text of every table for a SQL-generation prompt's ``{{schema}}``.

    Args:
        curated: a hand-written description (a workspace's ``schema.md``); used instead of
            reading the database when the file exists.
    """
    if curated is not None and Path(curated).is_file():
        try:
            return Path(curated).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{curated}: cannot be read as UTF-8 text ({exc}); fix the file or remove it "
                "to describe the database from its catalog"
            ) from exc
    return render_schema(_database(source).describe())


def schema_statements(source: Source, *, curated: Path | None = None) -> str:
    """The same facts as ``schema_description`` shaped as ``CREATE TABLE`` statements, for
    ``{{schema_sql}}``: coder models have read far more DDL than outlines. A curated
    ``schema.md`` wins here too."""
    if curated is not None and Path(curated).is_file():
        return schema_description(source, curated=curated)
    return render_statements(_database(source).describe())


def render_statements(tables: Iterable[TableInfo]) -> str:
    """``CREATE TABLE`` statements with keys inline and the rest as ``--`` comments: the row
    count after the table's name, whether NULLs occur and the values after each column."""
    blocks = []
    for table in tables:
        lines = [f"CREATE TABLE {table.name} (  -- {table.rows:,} rows"]
        last = len(table.columns) - 1
        for index, column in enumerate(table.columns):
            definition = f"  {column.name} {column.data_type}"
            if column.primary_key:
                definition += " PRIMARY KEY"
            if column.references:
                target, _, key = column.references.rpartition(".")
                definition += f" REFERENCES {target}({key})"
            definition += "" if index == last else ","
            notes = _column_notes(column)
            lines.append(f"{definition}  -- {notes}" if notes else definition)
        lines.append(");")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _column_notes(column: ColumnInfo) -> str:
    notes = ["NULLs occur"] if column.has_nulls else []
    if column.values is not None:
        notes.append("values: " + ", ".join(_literal(v) for v in column.values))
    elif column.distinct is not None and column.examples:
        notes.append(
            f"{column.distinct:,} distinct, e.g. " + ", ".join(_literal(v) for v in column.examples)
        )
    return "; ".join(notes)


def render_schema(tables: Iterable[TableInfo]) -> str:
    """The description of ``tables``, one block each."""
    blocks = []
    for table in tables:
        lines = [f"{table.name} ({table.rows:,} rows)"]
        lines += ["  " + _describe_column(column) for column in table.columns]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _describe_column(column: ColumnInfo) -> str:
    parts = [f"{column.name} {column.data_type}"]
    if column.primary_key:
        parts.append("primary key")
    if column.references:
        parts.append(f"-> {column.references}")
    if column.has_nulls:
        parts.append("has NULLs")
    text = ", ".join(parts)
    if column.distinct is None:
        return text
    if column.values is not None:
        return f"{text}; values: " + ", ".join(_literal(v) for v in column.values)
    if not column.examples:
        return text
    return f"{text}; {column.distinct:,} distinct, e.g. " + ", ".join(
        _literal(v) for v in column.examples
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
