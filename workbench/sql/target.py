"""The target database: the one ``WORKBENCH_DATABASE_URL`` (or the workspace's ``database.url``) names.

Every command and page that runs SQL opens it here, so that ``sql run``, ``run``, ``smoke
check`` and ``smoke run`` all query the same database: ``postgresql://…`` (natively, see
``workbench.sql.postgres``), ``duckdb:///path.duckdb`` (through the transpiler), or ``demo``,
the demo database built on demand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ConfigError
from workbench.sql.demo import demo_database, demo_database_path
from workbench.sql.execute import Database, DuckDBDatabase
from workbench.sql.postgres import PostgresDatabase, check_url, redact
from workbench.sql.schema import SchemaTexts, schema_texts
from workbench.sql.schemanotes import load_schema_notes
from workbench.urls import DEMO_DATABASE
from workbench.workspace import WORKSPACE_FILE, duckdb_path

if TYPE_CHECKING:
    from workbench.settings import Settings


def database_setting(settings: Settings) -> str:
    """Where the database URL was configured, as an error message should name it."""
    if settings.workspace is not None and "WORKBENCH_DATABASE_URL" not in os.environ:
        return f"database.url in {Path(settings.workspace) / WORKSPACE_FILE}"
    return "WORKBENCH_DATABASE_URL"


def database_dialect(settings: Settings) -> str:
    """The dialect the target database speaks (``duckdb`` or ``postgres``), without opening it."""
    return (
        "postgres"
        if settings.database_url.startswith(("postgresql://", "postgres://"))
        else "duckdb"
    )


def database_label(settings: Settings) -> str:
    """The target database as a page or ``info`` names it, without opening it (no password)."""
    url = settings.database_url
    if url == DEMO_DATABASE:
        return f"demo (DuckDB, {demo_database_path(settings).name} in the data directory)"
    return redact(url)


def open_database(settings: Settings) -> Database:
    """The target database with the settings' query limits (the demo one built if needed).

    Raises:
        ConfigError: the URL is malformed, names a DuckDB file that does not exist, or the
            PostgreSQL driver is missing; the message names the setting.
    """
    return open_url(settings, settings.database_url, database_setting(settings))


def open_url(settings: Settings, url: str, setting: str) -> Database:
    """The database at ``url`` (see ``open_database``); ``setting`` is named in errors."""
    if url == DEMO_DATABASE:
        return demo_database(settings)
    if url.startswith("duckdb://"):
        path = duckdb_path(url)
        if not path.is_file():
            raise ConfigError(
                f"{setting} names the DuckDB file {path}, which does not exist; fix the path "
                "(duckdb:///relative.duckdb or duckdb:////absolute.duckdb)"
            )
        return DuckDBDatabase.from_settings(settings, path)
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{setting}={url!r} is not a database URL; use postgresql://USER@HOST:PORT/DATABASE, "
            f"duckdb:///PATH.duckdb or {DEMO_DATABASE}"
        )
    check_url(url, setting)
    return PostgresDatabase(
        url, timeout_s=settings.sql_timeout_s, row_cap=settings.sql_row_cap, setting=setting
    )


def database_at(settings: Settings, where: str) -> Database:
    """A database named on the command line (``--database``): a URL, or a DuckDB file's path."""
    if "://" in where or where == DEMO_DATABASE:
        return open_url(settings, where, "--database")
    path = Path(where)
    if not path.is_file():
        raise ConfigError(f"--database {where}: no such DuckDB file")
    return DuckDBDatabase.from_settings(settings, path)


def workspace_schema(settings: Settings) -> SchemaTexts:
    """What ``{{schema}}`` and ``{{schema_sql}}`` render to for the settings' workspace: its
    hand-written ``schema.md`` when it exists (no database opened), else the database's
    catalog with its ``schema.yaml`` applied.

    Raises:
        WorkspaceError: ``schema.yaml`` is malformed or names what the database does not hold.
        ConfigError, SQLError: the database cannot be opened or read, or has no readable table.
    """
    notes = load_schema_notes(settings.schema_notes)
    curated = settings.schema_file
    database = None if curated is not None and curated.is_file() else open_database(settings)
    return schema_texts(database, curated=curated, notes=notes)
