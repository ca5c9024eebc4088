"""A later prompt cites an earlier stage's output as ``{{stage_id}}``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from workbench.errors import PromptError
from workbench.pipeline.stages import StageContext
from workbench.prompts.files import (
    load_prompts,
    parse_prompt,
    render,
    stage_orders,
    stage_variables,
    variable_line,
)


def stage(stage_id: str, order: int, variables: str = "[]", body: str = "Rewrite it.") -> str:
    return f"---\nid: {stage_id}\ntitle: {stage_id}\norder: {order}\nvariables: {variables}\n---\n{body}\n"


def pipeline(tmp_path: Path, *files: tuple[str, str]) -> Path:
    for name, text in files:
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_prompt_may_cite_an_earlier_stage(tmp_path: Path) -> None:
    directory = pipeline(
        tmp_path,
        ("01_a.md", stage("noise", 1)),
        ("02_b.md", stage("reference", 2, "[noise]", "Intro.\nBefore cleaning: {{noise}}.")),
    )
    prompts = load_prompts(directory)
    assert stage_variables(prompts[1]) == ("noise",)
    assert variable_line(prompts[1], "noise") == 8
    assert stage_orders(directory) == {"noise": 1, "reference": 2}


def test_citing_a_later_stage_names_the_variables_line(tmp_path: Path) -> None:
    directory = pipeline(
        tmp_path,
        ("01_a.md", stage("noise", 1, "[reference]", "{{reference}}")),
        ("02_b.md", stage("reference", 2)),
    )
    with pytest.raises(PromptError) as caught:
        load_prompts(directory)
    message = str(caught.value)
    assert message.startswith(f"{directory / '01_a.md'}:5: ")
    assert "names stage reference, which runs at order 2, not before this one (1)" in message


def test_an_unknown_variable_lists_the_earlier_stages_too(tmp_path: Path) -> None:
    directory = pipeline(
        tmp_path,
        ("01_a.md", stage("noise", 1)),
        ("02_b.md", stage("reference", 2, "[nosie]", "{{nosie}}")),
    )
    with pytest.raises(PromptError, match=r"02_b.md:5: unknown template variable 'nosie'.*noise"):
        load_prompts(directory)


def test_a_file_read_on_its_own_cannot_cite_a_stage() -> None:
    with pytest.raises(PromptError, match="unknown template variable 'noise'"):
        parse_prompt(stage("reference", 2, "[noise]", "{{noise}}"))
    prompt = parse_prompt(stage("reference", 2, "[noise]", "{{noise}}"), stages={"noise": 1})
    assert prompt.variables == ("noise",)


def test_the_context_fills_a_stage_variable_with_that_stage_output() -> None:
    prompt = parse_prompt(stage("reference", 2, "[noise]", "Was: {{noise}}"), stages={"noise": 1})
    ctx = StageContext("q?", date(2026, 1, 1), cast(Any, None), outputs={"noise": "clean q"})
    system = render(prompt, ctx.variables(prompt), "input")[0]
    assert system.content == "Was: clean q"


def test_a_run_fills_the_cited_stage_output_into_the_later_prompt(
    tmp_path: Path, data_dir: Path
) -> None:
    from tests.environment import environment
    from tests.scripted_llm import ScriptedLLM
    from workbench.pipeline.run import run_pipeline
    from workbench.settings import Settings

    directory = pipeline(
        tmp_path,
        ("01_a.md", stage("noise", 1, "[]", "Clean it.")),
        ("02_b.md", stage("query", 2, "[]", "Shape it.")),
        ("03_c.md", stage("reference", 3, "[noise]", "Cleaned first: {{noise}}")),
    )
    settings = Settings(data_dir=data_dir, prompts_dir=directory)
    llm = ScriptedLLM("show CBC results", "Show CBC results", "Show CBC results")
    trace = run_pipeline(
        "hi, CBC results please", environment(settings, llm), as_of=date(2026, 3, 31)
    )
    assert trace.status == "ok"
    assert llm.requests[2].messages[0].content == "Cleaned first: show CBC results"
