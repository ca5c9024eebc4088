"""The run environment tests hand to the pipeline and the smoke runner."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from workbench.llm import LLM
from workbench.pipeline import RunEnvironment
from workbench.settings import Settings
from workbench.sql import Database, DuckDBDatabase


def environment(
    settings: Settings,
    llm: LLM,
    *,
    store: Engine | None = None,
    database: Path | Database | None = None,
) -> RunEnvironment:
    """The environment of ``settings``, its prompt files read as they are now.

    ``database``: a DuckDB file (given the settings' limits) or a ``Database``; None: the
    settings' target database, opened when the run needs it.
    """
    if isinstance(database, Path):
        database = DuckDBDatabase.from_settings(settings, database)
    return RunEnvironment.load(settings, llm, store=store, database=database)
