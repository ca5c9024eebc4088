"""What a run runs against: settings, the model, the prompt set, the database, the store.

One value instead of the same five or six arguments handed from the pages and the
commands to ``run_pipeline``, the smoke runner and the experiments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine

from workbench.llm import LLM
from workbench.prompts import SCHEMA_VARIABLES, PromptSet, load_prompt_set
from workbench.settings import Settings
from workbench.sql import Database, open_database, require_tables, workspace_schema
from workbench.urls import DEMO_DATABASE


@dataclass(frozen=True)
class RunEnvironment:
    """Everything a pipeline run needs besides the question.

    Args:
        database: where the SQL runs; None: the settings' target database, opened when a
            run first needs it (``with_database``).
        store: where traces are saved and stage answers cached; None: neither.
    """

    settings: Settings
    llm: LLM
    prompts: PromptSet
    database: Database | None = None
    store: Engine | None = None

    @classmethod
    def load(
        cls,
        settings: Settings,
        llm: LLM,
        *,
        store: Engine | None = None,
        database: Database | None = None,
    ) -> RunEnvironment:
        """The environment of ``settings``: its prompt set read from ``prompts_dir``.

        Raises:
            PromptError: a prompt file, ``gates.yaml`` or ``budget.yaml`` is malformed.
        """
        return cls(settings, llm, load_prompt_set(settings.prompts_dir), database, store)

    def with_database(self) -> RunEnvironment:
        """This environment with its database opened (the demo one built if needed)."""
        if self.database is not None:
            return self
        return replace(self, database=open_database(self.settings))

    @property
    def needs_database(self) -> bool:
        """Whether a stage of the prompt set runs SQL or shows the model the schema."""
        return self.prompts.needs_database


def check_workspace(settings: Settings) -> PromptSet:
    """What would stop every run of the workspace, found before one starts: a prompt file
    that does not load, and when a stage needs the database, a database with no table the
    role can read or a ``schema.yaml`` naming what it does not hold. The shipped demo's
    database is not opened (it would be built here; it always has its tables).

    Raises:
        WorkbenchError: the first problem, with the file and line or setting to fix.
    """
    prompts = load_prompt_set(settings.prompts_dir)
    if not prompts.needs_database or settings.database_url == DEMO_DATABASE:
        return prompts
    if any(SCHEMA_VARIABLES & set(stage.variables) for stage in prompts.stages):
        workspace_schema(settings)
    else:
        require_tables(open_database(settings))
    return prompts
