"""The store: traces, prompt versions and smoke runs, in SQLModel tables.

SQLite in the data directory by default, PostgreSQL (or anything SQLAlchemy
speaks) by URL. Table classes live here and nowhere else; the rest of the
workbench sees frozen dataclasses, converted at this edge.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel, create_engine

from workbench.errors import ConfigError
from workbench.settings import Settings


def open_store(settings: Settings) -> Engine:
    """Create the store's engine and its tables (idempotent)."""
    url = settings.resolved_store_url
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # bad URL or missing driver
            raise ConfigError(
                f"WORKBENCH_STORE_URL={url!r} cannot be used: {exc}. "
                "For PostgreSQL install the extra: pip install -e '.[postgres]'"
            ) from exc
    SQLModel.metadata.create_all(engine)
    return engine


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
    question: str
    as_of: date
    created: datetime = Field(index=True)
    status: str
    trace_json: str = Field(sa_column_kwargs={"name": "json"})


class StageCacheRow(SQLModel, table=True):
    """One cached stage call (workbench.pipeline.cache); ``key`` hashes the whole request."""

    __tablename__ = "stage_cache"

    key: str = Field(primary_key=True)
    stage_id: str = Field(index=True)
    model: str
    created: datetime
    completion: str


class PromptVersionRow(SQLModel, table=True):
    """One saved version of one stage prompt file (see workbench.prompts.versions)."""

    __tablename__ = "prompt_version"
    __table_args__ = (UniqueConstraint("stage", "number"),)

    id: int | None = Field(default=None, primary_key=True)
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
    created: datetime = Field(index=True)
    finished: datetime | None = None
    status: str
    label: str = ""
    manifest: str
    case_ids: str


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
