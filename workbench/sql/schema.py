"""The ``{{schema}}`` and ``{{schema_sql}}`` texts the SQL stage shows the model, and the
row counts a page shows.

Read from the target database (``Database.describe``): one block per table with its row
count, then one line per column with its type, NOT NULL, keys, whether NULLs occur, and for
text columns either the values of a lookup column or a count and two examples
(``workbench.sql.profile`` decides which); keys that span several columns are the table's.
``{{schema_sql}}`` holds the same facts as ``CREATE TABLE`` statements that PostgreSQL and
DuckDB both accept. The workspace's schema notes (``schema.yaml``) leave tables and columns
out and describe others. A workspace may keep a hand-written ``schema.md`` instead; when it
exists it wins, because teams curate what the model sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.errors import ConfigError
from workbench.sql.catalog import ColumnInfo, DatabaseSchema, TableInfo
from workbench.sql.execute import Database, DuckDBDatabase
from workbench.sql.schemanotes import NO_NOTES, SchemaNotes
from workbench.sql.typenames import compact_type

Source = Database | Path
"""A database, or the path of a DuckDB file."""


def _database(source: Source) -> Database:
    return DuckDBDatabase(Path(source)) if isinstance(source, str | Path) else source


def table_counts(source: Source) -> dict[str, int]:
    """Row count of every table, in creation order (referenced tables first)."""
    return _database(source).table_counts()


def read_schema(source: Source, notes: SchemaNotes = NO_NOTES) -> DatabaseSchema:
    """What the database holds, without what ``notes`` leave out and with their descriptions.

    Raises:
        WorkspaceError: the notes name a table or column the database does not hold.
        ConfigError: no table is left to show (``no_readable_table``).
    """
    database = _database(source)
    schema = database.describe(notes.exclude)
    notes.check(schema.names)
    if not schema.tables:
        raise no_readable_table(database.label, schema.warnings, notes)
    if not notes.describe:
        return schema
    said = notes.describe
    tables = tuple(
        replace(
            table,
            description=said.get(table.name),
            columns=tuple(
                replace(column, description=said.get(f"{table.name}.{column.name}"))
                for column in table.columns
            ),
        )
        for table in schema.tables
    )
    return replace(schema, tables=tables)


def require_tables(database: Database) -> None:
    """Raise ``no_readable_table`` when the role can read no table of ``database``: every
    question would fail, so a run or check says so before it starts (the catalog alone is
    read, which is cheap on any database)."""
    catalog = database.catalog()
    if not catalog.tables:
        unreadable = tuple(
            f"table {name}: the role cannot read it" for name in sorted(catalog.unreadable)
        )
        raise no_readable_table(database.label, unreadable + catalog.warnings)


def no_readable_table(
    label: str, warnings: Iterable[str] = (), notes: SchemaNotes = NO_NOTES
) -> ConfigError:
    """The error for a database that has no table to show the model, with the fix."""
    left_out = sorted(name for name in notes.exclude if "." not in name)
    if left_out:
        why = f"; {notes.path} leaves out {', '.join(left_out)}"
    else:
        why = "".join(f"; {warning}" for warning in warnings)
    return ConfigError(
        f"the database {label} has no table the role can read{why}. Create the tables (on "
        "PostgreSQL, grant the workbench's role SELECT on them: GRANT SELECT ON ALL TABLES IN "
        "SCHEMA public TO the role), or point [database] url in workbench.toml (or "
        "WORKBENCH_DATABASE_URL) at the database that holds them"
    )


@dataclass(frozen=True)
class SchemaTexts:
    """What each schema variable renders to, and what the reader should know about it.

    Args:
        curated: the hand-written ``schema.md`` both variables hold, or None.
    """

    schema: str
    schema_sql: str
    warnings: tuple[str, ...] = ()
    curated: Path | None = None

    @property
    def variables(self) -> dict[str, str]:
        return {"schema": self.schema, "schema_sql": self.schema_sql}


def schema_texts(
    source: Source | None, *, curated: Path | None = None, notes: SchemaNotes = NO_NOTES
) -> SchemaTexts:
    """Both schema variables at once (``python -m workbench schema``); ``source`` may be
    None when the hand-written ``curated`` file exists."""
    if curated is not None and Path(curated).is_file():
        text = _read_curated(Path(curated))
        ignored = (
            (f"{notes.path}: not used, because the hand-written {curated} wins",)
            if notes.path
            else ()
        )
        return SchemaTexts(text, text, ignored, Path(curated))
    if source is None:
        raise ConfigError(f"no database to describe and no hand-written schema at {curated}")
    schema = read_schema(source, notes)
    return SchemaTexts(
        render_schema(schema.tables), render_statements(schema.tables), schema.warnings
    )


def schema_description(
    source: Source, *, curated: Path | None = None, notes: SchemaNotes = NO_NOTES
) -> str:
    """Compact text of every table for a SQL-generation prompt's ``{{schema}}``.

    Args:
        curated: a hand-written description (a workspace's ``schema.md``); used instead of
            reading the database when the file exists.
        notes: the workspace's schema notes (tables and columns left out, descriptions).
    """
    if curated is not None and Path(curated).is_file():
        return _read_curated(Path(curated))
    return render_schema(read_schema(source, notes).tables)


def schema_statements(
    source: Source, *, curated: Path | None = None, notes: SchemaNotes = NO_NOTES
) -> str:
    """The same facts as ``schema_description`` shaped as ``CREATE TABLE`` statements, for
    ``{{schema_sql}}``: coder models have read far more DDL than outlines. A curated
    ``schema.md`` wins here too."""
    if curated is not None and Path(curated).is_file():
        return _read_curated(Path(curated))
    return render_statements(read_schema(source, notes).tables)


def _read_curated(curated: Path) -> str:
    try:
        return curated.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{curated}: cannot be read as UTF-8 text ({exc}); fix the file or remove it "
            "to describe the database from its catalog"
        ) from exc


# -- as CREATE TABLE statements -----------------------------------------------------------


def render_statements(tables: Iterable[TableInfo]) -> str:
    """``CREATE TABLE`` statements: one-column keys inline, keys over several columns as
    table constraints, the rest as ``--`` comments (the row count and description after
    the table's name; description, NULLs and values after each column)."""
    blocks = []
    for table in tables:
        head = "; ".join(filter(None, (f"{table.rows:,} rows", _comment(table.description))))
        items: list[tuple[str, str]] = []
        for column in table.columns:
            items.append((_column_definition(table, column), _column_notes(column)))
        if len(table.primary_key) > 1:
            items.append((f"  PRIMARY KEY ({', '.join(table.primary_key)})", ""))
        for key in table.foreign_keys:
            if len(key.columns) > 1:
                items.append((
                    f"  FOREIGN KEY ({', '.join(key.columns)}) "
                    f"REFERENCES {key.table} ({', '.join(key.referenced)})",
                    "",
                ))  # fmt: skip
        lines = [f"CREATE TABLE {table.name} (  -- {head}"]
        for index, (definition, notes) in enumerate(items):
            line = definition + ("" if index == len(items) - 1 else ",")
            lines.append(f"{line}  -- {notes}" if notes else line)
        lines.append(");")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _column_definition(table: TableInfo, column: ColumnInfo) -> str:
    definition = f"  {column.name} {compact_type(column.data_type)}"
    if table.primary_key == (column.name,):
        definition += " PRIMARY KEY"
    elif column.not_null and column.name not in table.primary_key:
        definition += " NOT NULL"
    for key in table.foreign_keys:
        if key.columns == (column.name,):
            definition += f" REFERENCES {key.table}({key.referenced[0]})"
    return definition


def _column_notes(column: ColumnInfo) -> str:
    notes = [_comment(column.description)] if column.description else []
    if column.has_nulls:
        notes.append("NULLs occur")
    values = _values(column)
    if values:
        notes.append(values)
    return "; ".join(notes)


def _values(column: ColumnInfo) -> str:
    if column.values:
        listed = ", ".join(_literal(v) for v in column.values)
        if not column.cut:
            return f"values: {listed}"
        return f"values: {listed}, … (cut: {column.distinct:,} in all, the most frequent shown)"
    if column.distinct is not None and column.examples:
        return f"{column.distinct:,} distinct, e.g. " + ", ".join(
            _literal(v) for v in column.examples
        )
    return ""


# -- as an outline --------------------------------------------------------------------------


def render_schema(tables: Iterable[TableInfo]) -> str:
    """The description of ``tables``, one block each."""
    blocks = []
    for table in tables:
        head = f"{table.name} ({table.rows:,} rows)"
        lines = [f"{head}: {_comment(table.description)}" if table.description else head]
        lines += ["  " + _describe_column(table, column) for column in table.columns]
        if len(table.primary_key) > 1:
            lines.append(f"  primary key ({', '.join(table.primary_key)})")
        lines += [
            f"  foreign key ({', '.join(key.columns)}) -> {key.table} ({', '.join(key.referenced)})"
            for key in table.foreign_keys
            if len(key.columns) > 1
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _describe_column(table: TableInfo, column: ColumnInfo) -> str:
    parts = [f"{column.name} {compact_type(column.data_type)}"]
    if table.primary_key == (column.name,):
        parts.append("primary key")
    elif column.not_null and column.name not in table.primary_key:
        parts.append("not null")
    for key in table.foreign_keys:
        if key.columns == (column.name,):
            parts.append(f"-> {key.table}.{key.referenced[0]}")
    if column.has_nulls:
        parts.append("has NULLs")
    notes = [", ".join(parts)]
    if column.description:
        notes.append(_comment(column.description))
    values = _values(column)
    if values:
        notes.append(values)
    return "; ".join(notes)


def _comment(text: str | None) -> str:
    """``text`` on one line, safe inside a ``--`` comment."""
    return " ".join((text or "").split())


def _literal(value: str) -> str:
    # A line break inside a value would end the ``--`` comment it is listed in.
    escaped = value.replace("'", "''").replace("\r", "\\r").replace("\n", "\\n")
    return "'" + escaped + "'"
