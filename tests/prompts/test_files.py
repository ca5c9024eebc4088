"""Prompt files: loading, validation errors that name the file and line, variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import PromptError
from workbench.llm.protocol import Message
from workbench.prompts.files import (
    TEMPLATE_VARIABLES,
    load_prompt,
    load_prompts,
    parse_prompt,
    prompt_set_hash,
    render,
)
from workbench.settings import PROJECT_ROOT

GOOD = """\
---
id: noise
title: Noise removal
order: 2
variables: [as_of]
---
Reference date: {{as_of}}.

## Strip
- Delete greetings.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_prompts_form_the_seven_stage_pipeline() -> None:
    prompts = load_prompts(PROJECT_ROOT / "prompts")
    assert [p.id for p in prompts] == [
        "date_normalization", "noise_removal", "query_normalizer", "reference_normalizer",
        "misc_cleanup", "sql_generation", "narrative",
    ]  # fmt: skip
    assert [p.kind for p in prompts] == [
        "dates", "rewrite", "rewrite", "rewrite", "rewrite", "sql", "narrative",
    ]  # fmt: skip
    by_id = {p.id: p for p in prompts}
    cleanup, sql = by_id["misc_cleanup"], by_id["sql_generation"]
    assert (cleanup.gate, cleanup.thinking_role) == ("gate1", "think")
    assert (sql.gate, sql.thinking_role) == ("gate2", "sql_think")
    assert "schema_sql" in sql.variables
    assert by_id["narrative"].input == "question_and_results"


def test_shipped_prompts_stay_inside_the_macro_task_limits() -> None:
    for prompt in load_prompts(PROJECT_ROOT / "prompts"):
        in_fence = False
        headings = 0
        for line in prompt.body.splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
            elif line.startswith("## ") and not in_fence:
                headings += 1
        assert 1 <= headings <= (2 if prompt.hard else 3), prompt.path


def test_defaults_and_derived_fields(tmp_path: Path) -> None:
    prompt = load_prompt(write(tmp_path, "02_noise.md", GOOD))
    assert prompt.kind == "rewrite"
    assert prompt.mode == "no_think"
    assert prompt.role == "main"
    assert prompt.thinking_role == "main"
    assert prompt.body_start_line == 7
    assert prompt.body.startswith("Reference date:")
    assert len(prompt.content_hash) == 64


def test_unknown_front_matter_key_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("order: 2\n", "order: 2\ntemperature: 0.7\n"))
    with pytest.raises(PromptError) as info:
        load_prompt(path)
    assert f"{path}:5:" in str(info.value)
    assert "temperature" in str(info.value)


def test_bad_value_names_the_key_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("order: 2", "order: 2\nmode: sometimes"))
    with pytest.raises(PromptError) as info:
        load_prompt(path)
    assert info.value.line == 5
    assert "mode" in str(info.value)


def test_gated_mode_needs_a_gate(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("order: 2", "order: 2\nmode: gated"))
    with pytest.raises(PromptError, match="needs a 'gate'"):
        load_prompt(path)


def test_undeclared_variable_names_it_and_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("- Delete greetings.", "- Delete greetings.\n- Use {{schema}}.")
    path = write(tmp_path, "bad.md", text)
    with pytest.raises(PromptError) as info:
        load_prompt(path)
    assert "{{schema}}" in str(info.value)
    assert "add it to 'variables'" in str(info.value)
    assert info.value.line == 11
    assert text.splitlines()[info.value.line - 1] == "- Use {{schema}}."


def test_misspelt_variable_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("{{as_of}}", "{{asof}}"))
    with pytest.raises(PromptError) as info:
        load_prompt(path)
    assert "{{asof}}" in str(info.value)
    assert info.value.line == 7
    for name in TEMPLATE_VARIABLES:
        assert name in str(info.value)


def test_unknown_declared_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("[as_of]", "[as_of, patient]"))
    with pytest.raises(PromptError, match="unknown template variable 'patient'") as info:
        load_prompt(path)
    assert info.value.line == 5


def test_render_fills_variables_and_adds_the_user_turn(tmp_path: Path) -> None:
    prompt = load_prompt(write(tmp_path, "p.md", GOOD))
    messages = render(prompt, {"as_of": "2026-03-31"}, "hi there, count CBC results")
    assert messages == (
        Message("system", "Reference date: 2026-03-31.\n\n## Strip\n- Delete greetings."),
        Message("user", "hi there, count CBC results"),
    )


EXAMPLES = """\
examples:
  - input: "Hey there! list the critical TSH results as a CSV, thanks"
    output: list the critical TSH results
  - input: good morning, how many CBC results?
    output: how many CBC results?
"""


def test_examples_are_sent_as_earlier_turns_before_the_input(tmp_path: Path) -> None:
    prompt = load_prompt(
        write(tmp_path, "p.md", GOOD.replace("variables:", EXAMPLES + "variables:"))
    )
    messages = render(prompt, {"as_of": "2026-03-31"}, "hi, count the PSA results")
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[0].content.startswith("Reference date: 2026-03-31.")
    assert messages[1].content == "Hey there! list the critical TSH results as a CSV, thanks"
    assert messages[2].content == "list the critical TSH results"
    assert messages[4].content == "how many CBC results?"
    assert messages[-1] == Message("user", "hi, count the PSA results")
    plain = load_prompt(write(tmp_path, "q.md", GOOD))
    assert plain.content_hash != prompt.content_hash  # an edited example is a new prompt


def test_an_example_without_its_output_names_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("variables:", "examples:\n  - input: hi there\n    answer: hi\nvariables:")
    with pytest.raises(PromptError) as info:
        load_prompt(write(tmp_path, "bad.md", text))
    assert info.value.line == 6
    assert "examples.0.output: Field required; examples.0.answer: unknown key" in str(info.value)


def test_render_without_a_value_names_the_variable_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "p.md", GOOD)
    with pytest.raises(PromptError, match=r"\{\{as_of\}\}") as info:
        render(load_prompt(path), {}, "text")
    assert info.value.path == str(path)


def test_values_are_not_expanded_twice(tmp_path: Path) -> None:
    prompt = load_prompt(write(tmp_path, "p.md", GOOD))
    system = render(prompt, {"as_of": "{{as_of}}"}, "x")[0].content
    assert system.startswith("Reference date: {{as_of}}.")


def test_load_prompts_sorts_by_order_and_skips_readme(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD.replace("order: 2", "order: 9").replace("noise", "late"))
    write(tmp_path, "b.md", GOOD)
    write(tmp_path, "README.md", "# not a prompt\n")
    assert [p.id for p in load_prompts(tmp_path)] == ["noise", "late"]


@pytest.mark.parametrize(
    ("second", "what"),
    [
        (GOOD.replace("order: 2", "order: 3"), "duplicate id 'noise'"),
        (GOOD.replace("id: noise", "id: other"), "duplicate order 2"),
    ],
)
def test_duplicates_are_refused(tmp_path: Path, second: str, what: str) -> None:
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", second)
    with pytest.raises(PromptError, match=what) as info:
        load_prompts(tmp_path)
    assert "b.md" in str(info.value)


def test_missing_directory_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="WORKBENCH_PROMPTS_DIR"):
        load_prompts(tmp_path / "nowhere")


def test_prompt_set_hash_changes_with_any_edit_and_with_order() -> None:
    a = parse_prompt(GOOD, path="a.md")
    b = parse_prompt(GOOD.replace("id: noise", "id: b").replace("order: 2", "order: 3"))
    edited = parse_prompt(GOOD.replace("greetings", "greetings and thanks"), path="a.md")
    assert prompt_set_hash((a, b)) == prompt_set_hash((a, b))
    assert prompt_set_hash((a, b)) != prompt_set_hash((edited, b))
    assert prompt_set_hash((a, b)) != prompt_set_hash((b, a))
    assert a.content_hash != edited.content_hash
