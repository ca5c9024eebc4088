"""Edit blame end to end with the scripted pipeline: a two-hunk edit over two prompt files,
one hunk harmless, the other breaking a case; blame names the breaking hunk."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.environment import environment
from tests.smoke_script import CASES, SQL, PipelineScript
from workbench.diagnosis.blame import reproduces
from workbench.diagnosis.probing import UNRESOLVED, Prober, blame_edit
from workbench.errors import ConfigError
from workbench.llm import ChatRequest
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES
MARKER = "- Prefer a subquery to a join."


@pytest.fixture
def edited(settings: Settings, tmp_path: Path) -> Settings:
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    return settings.model_copy(update={"prompts_dir": prompts})


def breaking_llm(script: PipelineScript):
    """The scripted pipeline, except that the SQL stage writes simple-003's wrong SQL when
    its prompt carries ``MARKER``."""
    llm = script.llm()
    plain = llm.responder

    def respond(request: ChatRequest):
        answer = plain(request)
        system = request.messages[0].content
        if MARKER in system and answer == SIMPLE_003.gold_sql + "\n":
            return SIMPLE_003.wrong_sql
        return answer

    llm.responder = respond
    return llm


def append(settings: Settings, name: str, line: str) -> None:
    path = settings.prompts_dir / name
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", "utf-8")


def test_blame_names_the_hunk_that_broke_the_case(edited, demo_database) -> None:
    store = open_store(edited)
    script = PipelineScript()
    llm = breaking_llm(script)

    def run(**options):
        env = environment(edited, llm, store=store, database=demo_database)
        return env, run_suite(env, SmokeOptions(**options), cases=CASES)

    _, baseline = run()
    append(edited, "02_noise.md", "- Keep every number.")  # harmless
    append(edited, "06_sql.md", MARKER)  # breaks simple-003
    env, checked = run(mode="quick", repeats=1, baseline=baseline.id)
    assert checked.result("simple-003").verdict == "fail"
    said: list[str] = []

    found = blame_edit(env, baseline, checked, {c.id: c for c in CASES}, budget=10, say=said.append)

    assert [h.describe() for h in found.hunks][0].startswith("02_noise.md hunk 1")
    blamed = found.result.cases["simple-003"]
    assert blamed.status == "found" and blamed.change == "new failure"
    (hunk,) = found.hunks_of("simple-003")
    assert hunk.file == "06_sql.md" and MARKER in hunk.diff
    assert set(found.result.cases) == {"simple-003"}
    assert 1 < found.result.probes <= 3  # every hunk, then each half
    assert "about" in said[0] and "2 hunks" in said[0]
    data = found.to_dict()
    assert data["cases"]["simple-003"]["hunks"][0]["file"] == "06_sql.md"


def test_a_baseline_whose_text_is_nowhere_is_refused(edited, demo_database) -> None:
    store = open_store(edited)
    script = PipelineScript()
    llm = breaking_llm(script)
    env = environment(edited, llm, store=store, database=demo_database)
    baseline = run_suite(env, SmokeOptions(), cases=CASES)
    lost = baseline.manifest.stage_versions | {SQL: "0123456789ab"}
    forged = replace(baseline, manifest=replace(baseline.manifest, stage_versions=lost))
    with pytest.raises(ConfigError, match="neither in the prompts folder nor in the prompt"):
        blame_edit(env, forged, baseline, {c.id: c for c in CASES})


def test_hunks_that_make_no_valid_prompt_set_alone_are_unresolved(tmp_path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    prober = Prober(
        env=None,  # type: ignore[arg-type]  (never reached: the prompts do not load)
        baseline=None,  # type: ignore[arg-type]
        cases={},
        old={"03_query.md": "---\nid: [unclosed\n---\nbody\n"},
        hunks=(),
        template=template,
        workdir=tmp_path / "work",
    )
    assert prober(frozenset(), frozenset({"simple-003"})) == {"simple-003": UNRESOLVED}
    assert not reproduces("new failure", UNRESOLVED) and not reproduces("fixed", UNRESOLVED)
