"""Every kind of YAML file the user writes: text that is not UTF-8, and a key written twice,
are errors that name the file (and line), never a traceback or a silent last-wins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.cases.suite import load_case_file, load_tags
from workbench.errors import CaseError, FileError, PromptError
from workbench.prompts.files import load_prompt
from workbench.prompts.gates import load_gates
from workbench.prompts.thresholds import load_budget_config
from workbench.settings import PROJECT_ROOT

PROMPT = """\
---
id: noise
title: Noise removal
order: 2
---
Remove the pleasantries.
"""
CASE = """\
- id: simple-001
  question: How many labs are there?
  gold_sql: SELECT COUNT(*) FROM labs
  tags: [simple, aggregate]
"""
TAGS = "simple: one\nmedium: two\ncomplex: three\nmessy: four\nedge: five\naggregate: six\n"


def _shipped(name: str) -> str:
    return (PROJECT_ROOT / "prompts" / name).read_text(encoding="utf-8")


# (file name, good text, a line to add twice, the loader, the error it raises)
KINDS: dict[str, tuple[str, str, str, Callable[[Path], object], type[FileError]]] = {
    "prompt file": ("02_noise.md", PROMPT, "title: Again\n", load_prompt, PromptError),
    "gates file": ("gates.yaml", _shipped("gates.yaml"), "", load_gates, PromptError),
    "budget file": ("budget.yaml", _shipped("budget.yaml"), "acronyms: [X]\n", load_budget_config, PromptError),
    "case file": ("simple.yaml", CASE, "  question: Again?\n", load_case_file, CaseError),
    "tag list": ("tags.yaml", TAGS, "simple: again\n", lambda p: load_tags(p.parent), CaseError),
}  # fmt: skip


def _with_duplicate(kind: str, text: str, line: str) -> str:
    if kind == "prompt file":
        return text.replace("order: 2\n", "order: 2\n" + line)
    if kind == "gates file":
        return text.replace("gates:\n", "gates:\n  gate1: {title: first, rules: []}\n", 1)
    return text + line


@pytest.mark.parametrize("kind", KINDS)
def test_a_good_file_of_each_kind_loads(tmp_path: Path, kind: str) -> None:
    name, text, _, load, _ = KINDS[kind]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    load(path)


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_that_is_not_utf8_names_the_file_and_says_so(tmp_path: Path, kind: str) -> None:
    name, text, _, load, error = KINDS[kind]
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") + "# café\n".encode("latin-1"))
    with pytest.raises(error) as caught:
        load(path)
    assert str(path) in str(caught.value) and "UTF-8" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_written_twice_is_refused_with_its_line(tmp_path: Path, kind: str) -> None:
    name, text, line, load, error = KINDS[kind]
    path = tmp_path / name
    path.write_text(_with_duplicate(kind, text, line), encoding="utf-8")
    with pytest.raises(error, match="appears twice") as caught:
        load(path)
    assert str(path) in str(caught.value)
