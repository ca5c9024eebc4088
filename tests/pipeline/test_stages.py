"""The stage kinds' shared pieces (the stages themselves run in ``test_run.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from workbench.pipeline.stages import StageContext, repeated_phrase
from workbench.prompts.files import parse_prompt, render
from workbench.settings import Settings


def test_repeated_phrase() -> None:
    assert repeated_phrase("a b c d e f g h " * 3) == "a b c d e f g h"
    assert repeated_phrase("a b c d e f g h " * 2) is None
    assert repeated_phrase("one two three", n=2, repeats=2) is None


def test_a_prompt_gets_the_schema_in_the_shape_it_asks_for(
    settings: Settings, demo_database: Path
) -> None:
    """``{{schema}}`` is the outline, ``{{schema_sql}}`` the CREATE TABLE statements; only
    what a prompt declares is computed."""
    prompt = parse_prompt(
        "---\nid: sql\ntitle: SQL\norder: 6\nkind: sql\nvariables: [schema_sql, as_of]\n---\n"
        "Write SQL for {{as_of}}.\n\n{{schema_sql}}\n"
    )
    env = environment(settings, ScriptedLLM(), database=demo_database)
    context = StageContext(question="q", as_of=date(2026, 3, 31), env=env)
    values = context.variables(prompt)
    assert set(values) == {"schema_sql", "as_of"}
    assert values["schema_sql"].startswith("CREATE TABLE departments (")
    outline = replace(prompt, variables=("schema",))
    assert context.variables(outline)["schema"].startswith("departments (10 rows)")
    system = render(prompt, values, "q")[0].content
    assert "  status VARCHAR,  -- NULLs occur" in system and "{{" not in system
