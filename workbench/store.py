"""The store: traces, prompt versions and smoke runs, in SQLModel tables.

SQLite in the data directory by default, PostgreSQL (or anything SQLAlchemy
speaks) by URL. Table classes live here and nowhere else; the rest of the
workbench sees frozen dataclasses, converted at this edge.

Every trace, cached stage answer, prompt version and smoke run carries the id of
the workspace it belongs to, so that workspaces sharing one store never see each
other's history. The engine ``open_store`` returns knows its workspace
(``store_workspace``); everything that reads or writes these tables scopes by it.
Rows written before workspaces existed belong to the demo (``workbench.upgrade``).

Opening a store creates what is missing: tables, and columns added since the store was
made (each new column has a default, so old rows stay valid). Several processes may open
a fresh store at the same moment (a page, the CLI, a test run). For a SQLite file they take
turns, under a lock file beside it; for a database server, whichever creates a table first
wins and the others, told it exists, look again.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import UniqueConstraint, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.schema import CreateColumn
from sqlmodel import Field, SQLModel, create_engine

from workbench.errors import ConfigError, StoreError
from workbench.settings import Settings
from workbench.upgrade import upgrade_store
from workbench.workspace import DEMO_NAME

WORKSPACE_OPTION = "workbench_workspace"

CREATE_ATTEMPTS = 5


def open_store(settings: Settings) -> Engine:
    """Create the store's engine and whatever tables and columns it lacks (idempotent),
    scoped to the workspace; an older store is upgraded in place first.

    Raises:
        ConfigError: the data directory or the store URL cannot be used (the message says
            which setting and why).
    """
    url = settings.resolved_store_url
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3, not SQLAlchemy's default
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    shown = _shown(url)
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            raise ConfigError(
                f"WORKBENCH_STORE_URL={shown} cannot be used: {exc}. "
                "For PostgreSQL install the extra: pip install -e '.[postgres]'"
            ) from exc
    try:
        with _creation_lock(url):
            upgrade_store(engine, SQLModel.metadata)
            _create_missing(engine)
    except DBAPIError as exc:
        engine.dispose()
        where = (
            f"in WORKBENCH_DATA_DIR={settings.data_dir} ({shown})"
            if settings.store_url is None
            else f"at WORKBENCH_STORE_URL={shown}"
        )
        reason = " ".join(str(exc.orig or exc).split())[:300]
        raise ConfigError(
            f"cannot open the store {where}: {reason}; check that the location exists, "
            "is writable and (for a database server) is running"
        ) from exc
    return engine.execution_options(**{WORKSPACE_OPTION: settings.workspace_name})


def store_workspace(engine: Engine) -> str:
    """The workspace whose records ``engine`` reads and writes."""
    return engine.get_execution_options().get(WORKSPACE_OPTION, DEMO_NAME)


def as_utc(moment: datetime) -> datetime:
    """A stored time in UTC: SQLite hands back the naive UTC time it was given."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


@contextlib.contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """For a SQLite file, one process at a time creates what is missing (others wait)."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        yield
        return
    try:
        lock = open(Path(database).with_name(Path(database).name + ".lock"), "a")  # noqa: SIM115
    except OSError:  # the directory is missing or read-only: opening the store will say so
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _create_missing(engine: Engine) -> None:
    """Create missing tables and columns, tolerating another process doing the same."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            SQLModel.metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except DBAPIError as exc:
            if attempt == CREATE_ATTEMPTS or not _raced(exc):
                raise
            time.sleep(0.05 * attempt)


def _raced(exc: DBAPIError) -> bool:
    """True when another process got there first: it created the object between our look
    and our create, or holds the database while doing so."""
    message = str(exc.orig or exc).lower()
    return any(
        words in message
        for words in (
            "already exists",
            "duplicate column",
            "pg_type_typname_nsp_index",
            "database is locked",
        )
    )


def _add_missing_columns(engine: Engine) -> None:
    """ALTER TABLE ... ADD COLUMN for columns the model has and the table lacks."""
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            default = column.server_default
            if default is None and not column.nullable:
                raise StoreError(
                    f"the store's table {table.name} lacks column {column.name}, which has no "
                    "default to fill old rows with: point WORKBENCH_STORE_URL at a new store"
                )
            spec = CreateColumn(column).compile(dialect=engine.dialect)
            with engine.begin() as connection:
                connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN {spec}'))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the smoke runner write results while a page reads them.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# -- pipeline runs (workbench.pipeline.trace converts to and from these rows) ---------------------


class TraceRow(SQLModel, table=True):
    """One pipeline run; ``trace_json`` (column ``json``) holds the whole trace."""

    __tablename__ = "traces"

    id: str = Field(primary_key=True)
    workspace: str = Field(index=True)
    question: str
    as_of: date
    created: datetime = Field(index=True)
    status: str
    trace_json: str = Field(sa_column_kwargs={"name": "json"})


class StageCacheRow(SQLModel, table=True):
    """One cached stage call (workbench.pipeline.cache); ``key`` hashes the whole request."""

    __tablename__ = "stage_cache"

    key: str = Field(primary_key=True)
    workspace: str = Field(index=True)
    stage_id: str = Field(index=True)
    model: str
    created: datetime
    completion: str


class PromptVersionRow(SQLModel, table=True):
    """One saved version of one stage prompt file (see workbench.prompts.versions)."""

    __tablename__ = "prompt_version"
    __table_args__ = (UniqueConstraint("workspace", "stage", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(index=True)
    stage: str = Field(index=True)
    number: int
    text: str
    sha256: str
    created_at: datetime = Field(index=True)
    author: str
    message: str
    origin: str


# -- smoke runs (workbench.smoke.results converts to and from these rows) ------------------


class SmokeRunRow(SQLModel, table=True):
    """One smoke run: what it ran against (``manifest``) and which cases, in order."""

    __tablename__ = "smoke_run"

    id: str = Field(primary_key=True)
    workspace: str = Field(index=True)
    created: datetime = Field(index=True)
    finished: datetime | None = None
    status: str
    label: str = ""
    manifest: str
    case_ids: str
    note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    """Why the run stopped short (interrupted), in words; empty otherwise."""
    owner: str = Field(default="", sa_column_kwargs={"server_default": ""})
    """``host:pid:start`` of the process running it (``workbench.smoke.owner``)."""


class SmokeCaseRow(SQLModel, table=True):
    """One finished case of a smoke run, stored the moment it completes."""

    __tablename__ = "smoke_case"
    __table_args__ = (UniqueConstraint("run_id", "case_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, foreign_key="smoke_run.id")
    case_id: str
    verdict: str
    finished: datetime
    result: str


class TrainingExportRow(SQLModel, table=True):
    """One case that reached a training set, or a case whose question nearly is such a case's
    (``workbench.diagnosis.heldout``): a later run scores these apart from the rest."""

    __tablename__ = "training_export"

    id: int | None = Field(default=None, primary_key=True)
    export_id: str = Field(index=True)
    run_id: str
    case_id: str = Field(index=True)
    question: str
    exposure: str
    """``exported``, or ``near <case id>`` for a question nearly an exported one's."""
    path: str
    created: datetime


class BlameRow(SQLModel, table=True):
    """What edit blame found for the cases a run flipped against a baseline
    (``workbench.diagnosis.report``): the hunks per case, as JSON."""

    __tablename__ = "edit_blame"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    baseline_id: str
    created: datetime
    result: str


# -- the model server (workbench.llm.selftest converts to and from these rows) -------------


class ServerCheckRow(SQLModel, table=True):
    """One concurrency self-test of a model server, keyed by the server's fingerprint."""

    __tablename__ = "server_check"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(index=True)
    endpoint: str
    created: datetime = Field(index=True)
    passed: bool
    result: str
