"""Check an edit: a quick check against a baseline run, with scripted model answers.

What is reused (only identical requests the baseline's repeats agreed on, and only
while the store still holds exactly that answer), what is asked again and said so,
and every baseline that cannot stand in refused with what differs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.environment import environment
from tests.smoke_script import CASES, NOISE, QUERY, SQL, PipelineScript, case
from workbench.dates import resolve_relative_dates
from workbench.errors import ConfigError
from workbench.pipeline import StageCache, load_trace
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.compare import compare_smoke_runs
from workbench.smoke.results import set_run_status
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.store import StageCacheRow, TraceRow, open_store

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES
NARRATED = case("edge-001")  # its expectations read the narrative
STAGES = 7


@pytest.fixture
def edited(settings: Settings, tmp_path: Path) -> Settings:
    """Settings on a copy of the shipped prompts, to edit."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    return settings.model_copy(update={"prompts_dir": prompts})


@pytest.fixture
def store(settings: Settings):
    return open_store(settings)


def edit(settings: Settings, name: str) -> None:
    path = settings.prompts_dir / name
    path.write_text(path.read_text(encoding="utf-8") + "\n- Keep every number.\n", "utf-8")


def run(settings, store, script, demo_database, cases=CASES, **options):
    return run_suite(
        environment(settings, script.llm(), store=store, database=demo_database),
        SmokeOptions(**options),
        cases=cases,
    )


def quick(settings, store, script, demo_database, baseline, cases=CASES, **options):
    return run(settings, store, script, demo_database, cases, mode="quick", repeats=1,
               baseline=baseline.id, **options)  # fmt: skip


def asked(script: PipelineScript, since: int) -> list[str]:
    return [stage for stage, _ in script.log[since:]]


def test_after_editing_the_sql_prompt_only_the_sql_stage_is_asked(
    edited, store, demo_database
) -> None:
    script = PipelineScript()
    baseline = run(edited, store, script, demo_database)
    edit(edited, "06_sql.md")
    for_quick = len(script.log)
    script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=3)  # the edit breaks one
    checked = quick(edited, store, script, demo_database, baseline)

    assert asked(script, for_quick) == [SQL] * 3  # no narrative, nothing before stage 6
    assert checked.manifest.mode == "quick" and checked.manifest.baseline == baseline.id
    assert [r.verdict for r in checked.results] == ["pass", "fail", "pass"]
    for result in checked.results:
        (repeat,) = result.repeats
        reused = [s.stage_id for s in repeat.stages if s.reused]
        assert len(reused) == 4  # stages 2-5 (stage 1 needed no model)
        assert SQL not in reused
        assert repeat.stages[-1].skipped and repeat.stages[-1].output is None
        trace = load_trace(store, result.trace_ids[0])
        assert [s.reused_from for s in trace.stages[1:5]] == [f"smoke run {baseline.id}"] * 4
    comparison = compare_smoke_runs(baseline, checked)
    assert [(c.case_id, c.change) for c in comparison.cases][0] == ("simple-003", "new failure")
    assert comparison.regressed


def test_after_editing_stage_2_later_stages_are_reused_when_its_answer_did_not_change(
    edited, store, demo_database
) -> None:
    script = PipelineScript()
    baseline = run(edited, store, script, demo_database)
    edit(edited, "02_noise.md")
    since = len(script.log)
    changed = SIMPLE_007.question + " please"  # one case's stage 2 answers differently now
    script.sql[changed] = SIMPLE_007.gold_sql
    script.plant(NOISE, SIMPLE_007.question, changed, call=3)
    checked = quick(edited, store, script, demo_database, baseline)

    calls = asked(script, since)
    assert calls.count(NOISE) == 3  # the edited stage, for every case
    assert calls.count(QUERY) == 1 and calls.count(SQL) == 1  # only where its answer changed
    same = checked.result("simple-002").repeats[0]
    assert [s.reused for s in same.stages[2:6]] == [True] * 4
    assert [r.verdict for r in checked.results] == ["pass", "pass", "pass"]


def test_a_stage_the_baseline_was_flaky_on_is_asked_again(edited, store, demo_database) -> None:
    script = PipelineScript()
    other = "Show count female patient"
    script.sql[other] = SIMPLE_007.gold_sql
    script.plant(QUERY, SIMPLE_007.question, other, call=2)  # repeat 2 of the baseline differs
    baseline = run(edited, store, script, demo_database)
    assert baseline.result("simple-007").verdict == "flaky"
    edit(edited, "06_sql.md")
    checked = quick(edited, store, script, demo_database, baseline)

    flaky = checked.result("simple-007")
    assert [s.reused for s in flaky.repeats[0].stages[1:6]] == [True, False, False, False, False]
    assert any("repeats answered it differently" in n and "stage 3" in n for n in flaky.notes)
    steady = checked.result("simple-002").repeats[0]
    assert [s.reused for s in steady.stages[1:5]] == [True] * 4
    comparison = compare_smoke_runs(baseline, checked)
    assert next(c for c in comparison.cases if c.case_id == "simple-007").change == "unchanged"


def test_a_damaged_or_replaced_stored_answer_is_asked_again_and_said_so(
    edited, store, demo_database
) -> None:
    script = PipelineScript()
    baseline = run(edited, store, script, demo_database)
    first = load_trace(store, baseline.result("simple-002").trace_ids[0])
    query_key = first.stages[2].request_key
    noise_key = next(
        s.request_key for s in load_trace(store, baseline.result("simple-003").trace_ids[0]).stages
        if s.stage_id == NOISE
    )  # fmt: skip
    with Session(store) as session:
        row = session.get(StageCacheRow, query_key)
        row.completion = "{damaged"
        session.add(row)
        session.commit()
    cache = StageCache(store)
    replaced = replace(cache.entry(noise_key), text="something else entirely")
    cache.put(noise_key, NOISE, replaced)  # a later run's different answer
    edit(edited, "06_sql.md")
    since = len(script.log)
    checked = quick(edited, store, script, demo_database, baseline)

    assert sorted(asked(script, since)) == sorted([QUERY, NOISE, SQL, SQL, SQL])
    assert any("stage 3" in n and "damaged" in n for n in checked.result("simple-002").notes)
    assert any("replaced its stored answer" in n for n in checked.result("simple-003").notes)
    assert [r.verdict for r in checked.results] == ["pass", "pass", "pass"]
    assert StageCache(store).entry(query_key) is not None  # the fresh answer replaced the damage


def test_the_narrative_runs_for_a_case_whose_expectations_read_it(
    edited, store, demo_database
) -> None:
    script = PipelineScript(cases=(NARRATED,))
    dated = resolve_relative_dates(NARRATED.question, NARRATED.as_of).text
    script.sql[dated] = NARRATED.gold_sql
    script.plant("narrative", NARRATED.question, "Nothing matched.", call=1)
    script.plant("narrative", NARRATED.question, "Nothing matched.", call=2)
    baseline = run(edited, store, script, demo_database, cases=(NARRATED,))
    edit(edited, "07_narrative.md")
    script.plant("narrative", NARRATED.question, "Dr. Who says nothing matched.", call=3)
    checked = quick(edited, store, script, demo_database, baseline, cases=(NARRATED,))
    (repeat,) = checked.results[0].repeats
    assert not repeat.stages[-1].skipped and not repeat.stages[-1].reused
    assert all(s.reused for s in repeat.stages[1:6])
    assert checked.results[0].verdict == "fail"  # the narrative expectation still counts
    assert "narrative output contains 'Dr. '" in checked.results[0].reason


# -- baselines that cannot stand in -------------------------------------------------------


@pytest.fixture
def finished(edited, store, demo_database):
    return run(edited, store, PipelineScript(), demo_database, cases=CASES[:1])


def refused(settings, store, demo_database, baseline_id, cases=CASES[:1]) -> str:
    with pytest.raises(ConfigError) as caught:
        run(settings, store, PipelineScript(), demo_database, cases, mode="quick", repeats=1,
            baseline=baseline_id)  # fmt: skip
    return str(caught.value)


def test_a_baseline_with_another_model_or_server_setting_is_refused(
    edited, store, demo_database, finished
) -> None:
    other_model = edited.model_copy(update={"model_sql_think": "qwen3-sql-v2"})
    message = refused(other_model, store, demo_database, finished.id)
    assert "model sql_think: smollm2-135m-instruct then, qwen3-sql-v2 now" in message
    bf16 = edited.model_copy(update={"server_dtype": "bfloat16"})
    message = refused(bf16, store, demo_database, finished.id)
    assert "server setting dtype: float32 then, bfloat16 now" in message
    assert "run a full run (Hunt flakes)" in message


def test_a_baseline_whose_cases_changed_is_refused(edited, store, demo_database, finished) -> None:
    changed = replace(SIMPLE_002, gold_sql=SIMPLE_002.gold_sql + " ")
    changed = replace(changed, question=SIMPLE_002.question + "?")
    message = refused(edited, store, demo_database, finished.id, cases=(changed,))
    assert "case definitions changed since baseline" in message and "simple-002" in message


def test_an_unfinished_deleted_quick_or_answerless_baseline_is_refused(
    edited, store, demo_database, finished
) -> None:
    assert "not in this store" in refused(edited, store, demo_database, "20250101-000000-abcdef")
    set_run_status(store, finished.id, "interrupted")
    message = refused(edited, store, demo_database, finished.id)
    assert "is interrupted (1 of 1 cases finished): resume it first" in message
    set_run_status(store, finished.id, "done")

    checked = quick(edited, store, PipelineScript(), demo_database, finished, cases=CASES[:1])
    assert "is itself a quick check" in refused(edited, store, demo_database, checked.id)

    with Session(store) as session:
        for trace_id in finished.result("simple-002").trace_ids:
            session.delete(session.get(TraceRow, trace_id))
        session.commit()
    assert "keeps no stage answers in this store" in refused(
        edited, store, demo_database, finished.id
    )


def test_a_baseline_from_before_quick_checks_is_refused(
    edited, store, demo_database, finished
) -> None:
    from workbench.store import SmokeRunRow

    with Session(store) as session:
        row = session.get(SmokeRunRow, finished.id)
        manifest = json.loads(row.manifest)
        manifest.pop("case_digests")
        row.manifest = json.dumps(manifest)
        session.add(row)
        session.commit()
    assert "recorded before quick checks existed" in refused(
        edited, store, demo_database, finished.id
    )


def test_quick_options_need_a_baseline_and_one_repeat() -> None:
    with pytest.raises(ConfigError, match="needs a baseline"):
        SmokeOptions(mode="quick", repeats=1)
    with pytest.raises(ConfigError, match="runs each case once"):
        SmokeOptions(mode="quick", repeats=2, baseline="x")
