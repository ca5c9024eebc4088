"""What a prompt's schema variables cost: the workspace's schema, rendered for the budget.

``{{schema_sql}}`` is sent with every call of the stage that uses it, and on a real database
it is most of the prompt (the demo's: about 1,500 of 2,000 tokens), so a budget that counts
only the file's text says little about the call. The budget counts what the variables
render to when the workspace's database (or its ``schema.md``) can be read, and says why
not when it cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workbench.errors import PromptError, WorkbenchError
from workbench.prompts.budget import prompt_files
from workbench.prompts.files import SCHEMA_VARIABLES, TEMPLATE_VARIABLE
from workbench.settings import Settings
from workbench.sql import workspace_schema


def rendered_schema(
    settings: Settings, paths: Sequence[Path]
) -> tuple[dict[str, str] | None, str | None]:
    """What the schema variables render to for the workspace, when a prompt uses one (it is
    sent with every call of that stage, so it counts towards its tokens); else a note why
    the schema is not counted."""
    try:
        files = prompt_files(paths)
    except PromptError:
        return None, None  # budget_paths reports it
    uses = any(
        name in SCHEMA_VARIABLES
        for f in files
        for name in TEMPLATE_VARIABLE.findall(f.read_text(encoding="utf-8", errors="replace"))
    )
    if not uses:
        return None, None
    try:
        texts = workspace_schema(settings)
    except WorkbenchError as exc:
        return None, f"the schema is not counted in the tokens: {exc}"
    return {"schema": texts.schema, "schema_sql": texts.schema_sql}, None
