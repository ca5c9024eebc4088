"""Upgrading a store written before workspaces: every row of it belongs to the demo.

Stores from earlier versions have no ``workspace`` column. Opening one adds it, with the
demo's name as the value of every existing row (those rows were the demo's: there was no
other workspace), and an index on it. Prompt versions were numbered per stage; now they are
numbered per workspace and stage, so their unique constraint changes too: SQLite cannot
alter a constraint, so that table is rebuilt in place, rows and ids kept.

Two processes may open an old store at once: the upgrade runs under the database's write
lock (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock) and checks again inside it,
so it happens exactly once and a reader never sees half of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from workbench.errors import StoreError
from workbench.workspace import DEMO_NAME

WORKSPACE_TABLES = ("traces", "stage_cache", "prompt_version", "smoke_run")
"""The tables whose rows belong to one workspace."""
COLUMN = "workspace"
REBUILT = "prompt_version"
"""Its unique constraint gains the workspace: (stage, number) -> (workspace, stage, number)."""


def upgrade_store(engine: Engine, metadata: MetaData) -> None:
    """Add the workspace column where an older store lacks it (idempotent)."""
    try:
        if engine.dialect.name == "sqlite":
            path = engine.url.database
            if path and path != ":memory:" and Path(path).is_file():
                _upgrade_sqlite(path, metadata)
        else:
            _upgrade_generic(engine)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(
            f"upgrading the store {engine.url!r} failed: {exc}; nothing changed"
        ) from exc


def _sqlite_missing(connection: sqlite3.Connection) -> list[str]:
    tables = {
        name
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return [
        table
        for table in WORKSPACE_TABLES
        if table in tables
        and COLUMN not in {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
    ]


def _upgrade_sqlite(path: str, metadata: MetaData) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        if not _sqlite_missing(connection):
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            for table in _sqlite_missing(connection):  # again, now that we hold the lock
                if table == REBUILT:
                    _rebuild_sqlite(connection, metadata)
                else:
                    _add_column(connection.execute, table)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _add_column(execute: Callable[[str], object], table: str) -> None:
    execute(f"ALTER TABLE {table} ADD COLUMN {COLUMN} VARCHAR NOT NULL DEFAULT '{DEMO_NAME}'")
    execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{COLUMN} ON {table} ({COLUMN})")


def _rebuild_sqlite(connection: sqlite3.Connection, metadata: MetaData) -> None:
    table = metadata.tables[REBUILT]
    old = f"{REBUILT}_before_workspaces"
    columns = [c.name for c in table.columns if c.name != COLUMN]
    connection.execute(f"ALTER TABLE {REBUILT} RENAME TO {old}")
    for (index,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (old,),
    ).fetchall():
        connection.execute(f'DROP INDEX "{index}"')
    dialect = sqlite.dialect()
    connection.execute(str(CreateTable(table).compile(dialect=dialect)))
    for index in table.indexes:
        connection.execute(str(CreateIndex(index).compile(dialect=dialect)))
    listed = ", ".join(columns)
    connection.execute(
        f"INSERT INTO {REBUILT} ({COLUMN}, {listed}) SELECT '{DEMO_NAME}', {listed} FROM {old}"
    )
    connection.execute(f"DROP TABLE {old}")


def _generic_missing(connection: Engine | Connection) -> list[str]:
    inspector = inspect(connection)
    return [
        table
        for table in WORKSPACE_TABLES
        if inspector.has_table(table)
        and COLUMN not in {c["name"] for c in inspector.get_columns(table)}
    ]


def _upgrade_generic(engine: Engine) -> None:
    if not _generic_missing(engine):
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('workbench store upgrade'))")
            )
        for table in _generic_missing(connection):
            _add_column(lambda sql: connection.execute(text(sql)), table)
            if table == REBUILT:
                _widen_unique(connection)


def _widen_unique(connection: Connection) -> None:
    for constraint in inspect(connection).get_unique_constraints(REBUILT):
        if set(constraint["column_names"]) == {"stage", "number"} and constraint["name"]:
            connection.execute(
                text(f'ALTER TABLE {REBUILT} DROP CONSTRAINT "{constraint["name"]}"')
            )
    connection.execute(
        text(
            f"ALTER TABLE {REBUILT} ADD CONSTRAINT {REBUILT}_{COLUMN}_stage_number_key "
            f"UNIQUE ({COLUMN}, stage, number)"
        )
    )
