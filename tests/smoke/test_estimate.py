"""The estimate before a run: seconds per stage from the store's traces, a calibration when
there are none, a quick check priced by what it will call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from tests.smoke.test_calibration import calibrating_llm
from tests.smoke_script import CASES, PipelineScript
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke import plan as plan_module
from workbench.smoke.calibration import PACE_QUESTION, ServerSpeed, calibrate
from workbench.smoke.estimate import (
    LatencyHistory,
    RunShape,
    estimate_run,
    format_duration,
    load_history,
)
from workbench.smoke.plan import SmokeOptions, measure_speed, plan_run
from workbench.smoke.runner import run_plan, run_suite
from workbench.store import open_store

SCRIPTED_S = 0.25  # what every scripted call says it took
MODEL_STAGES = 5  # stages 2-6 call the model for these cases (Python resolves their dates)


@pytest.fixture
def edited(settings: Settings, tmp_path: Path) -> Settings:
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    return settings.model_copy(update={"prompts_dir": prompts})


def test_a_run_is_priced_by_what_each_case_took_before(edited, demo_database) -> None:
    store = open_store(edited)
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    run_suite(env, SmokeOptions(repeats=1), cases=CASES)

    history = load_history(store, ["scripted://llm"], {edited.model_for("main")}, CASES)
    key = (CASES[0].question, CASES[0].as_of.isoformat())
    assert history.by_case[key]["sql_generation"] == SCRIPTED_S
    assert history.by_case[key]["date_normalization"] == 0.0  # Python resolved it
    assert history.by_stage["narrative"] == SCRIPTED_S
    assert history.overhead_s is not None and history.overhead_s >= 0

    estimate = estimate_run(env, CASES, RunShape(repeats=2), history)
    per_repeat = (MODEL_STAGES + 1) * SCRIPTED_S + estimate.cases[0].overhead_s
    assert estimate.total_s == pytest.approx(len(CASES) * 2 * per_repeat)
    assert estimate.stages == len(CASES) * 2 * 7
    assert set(estimate.cases[0].sources) == {"this case"}
    faster = estimate_run(env, CASES, RunShape(repeats=2, concurrency=4, speedup=2.0), history)
    assert faster.total_s == pytest.approx(estimate.total_s / 2)
    assert "3 cases × 2 repeats" in estimate.describe()


def test_a_quick_check_is_priced_from_the_first_edited_stage_on(edited, demo_database) -> None:
    store = open_store(edited)
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    baseline = run_suite(env, SmokeOptions(repeats=2), cases=CASES)
    path = edited.prompts_dir / "06_sql.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n- Keep it short.\n", encoding="utf-8")
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)

    plan = plan_run(env, SmokeOptions(mode="quick", repeats=1, baseline=baseline.id), cases=CASES)
    sources = plan.estimate.cases[0].sources
    assert sources == ("reused",) * 5 + ("this case", "none")
    overhead = plan.estimate.cases[0].overhead_s
    assert plan.estimate.total_s == pytest.approx(len(CASES) * (SCRIPTED_S + overhead))
    assert plan.estimate.calls == len(CASES)  # one stage to call per case
    assert plan.estimate.stages == len(CASES) * 7

    run_suite(env, plan.options, cases=CASES)  # its reused stages took no time: not history
    history = load_history(store, ["scripted://llm"], {edited.model_for("main")}, CASES)
    key = (CASES[0].question, CASES[0].as_of.isoformat())
    assert history.by_case[key]["noise_removal"] == SCRIPTED_S
    assert history.by_stage["noise_removal"] == SCRIPTED_S


def test_another_endpoint_or_model_or_a_reused_stage_is_no_history(edited, demo_database) -> None:
    store = open_store(edited)
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    run_suite(env, SmokeOptions(repeats=1), cases=CASES[:1])
    assert load_history(store, ["http://other/v1"], {edited.model_for("main")}, CASES).calls == 0
    other_model = load_history(store, ["scripted://llm"], {"another-model"}, CASES)
    assert [set(v) for v in other_model.by_case.values()] == [{"date_normalization"}]  # no call


def test_without_history_a_calibration_measures_the_server(edited, demo_database) -> None:
    llm = calibrating_llm()
    calibration = calibrate(llm, "m")
    env = environment(edited, llm, database=demo_database)
    speed = ServerSpeed(calibration=calibration)
    estimate = estimate_run(env, CASES, RunShape(repeats=1), LatencyHistory(), speed)
    sources = estimate.cases[0].sources
    assert set(sources) == {"calibration"}
    assert estimate.cases[0].stage_seconds["date_normalization"] == 0.0  # Python resolves it
    sql = estimate.cases[0].stage_seconds["sql_generation"]
    noise = estimate.cases[0].stage_seconds["noise_removal"]
    assert sql > noise > 0  # the SQL prompt carries the schema and a longer answer
    assert "calibration" in estimate.basis


def test_without_history_or_calibration_the_estimate_says_it_cannot_tell(edited) -> None:
    env = environment(edited, ScriptedLLM())
    estimate = estimate_run(env, CASES, RunShape(), LatencyHistory())
    assert "no timings" in estimate.basis


def test_durations_read_like_people_write_them() -> None:
    assert [format_duration(s) for s in (4.2, 89, 600, 7300)] == [
        "4 s",
        "89 s",
        "10 min",
        "2 h 02 min",
    ]


def test_after_a_quick_check_the_stages_after_an_edit_are_priced_by_how_often_they_carried(
    edited, demo_database
) -> None:
    store = open_store(edited)
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    baseline = run_suite(env, SmokeOptions(repeats=1), cases=CASES)
    path = edited.prompts_dir / "02_noise.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n- Keep numbers.\n", encoding="utf-8")
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    quick = SmokeOptions(mode="quick", repeats=1, baseline=baseline.id)

    planned = plan_run(env, quick, cases=CASES).estimate
    before = planned.cases[0]
    assert before.stage_seconds["query_normalizer"] == pytest.approx(SCRIPTED_S / 2)  # even odds
    assert "3–15 of 21 stages to compute" in planned.describe()  # stage 2, then maybe 3-6
    run_suite(env, quick, cases=CASES)  # the scripted stage 2 answers as before: all carried
    history = load_history(store, ["scripted://llm"], {edited.model_for("main")}, CASES)
    assert history.unchanged_share == 1.0
    after = plan_run(env, quick, cases=CASES).estimate.cases[0]
    assert after.stage_seconds["noise_removal"] == SCRIPTED_S
    assert after.stage_seconds["query_normalizer"] == 0.0


def test_the_history_is_scaled_to_the_servers_pace_now(edited, demo_database) -> None:
    store = open_store(edited)
    env = environment(edited, PipelineScript().llm(), store=store, database=demo_database)
    plan = plan_run(env, SmokeOptions(repeats=1), cases=CASES, speed=ServerSpeed(pace_s=0.05))
    run_plan(env, plan)
    assert plan.manifest.pace_s == 0.05
    history = load_history(store, ["scripted://llm"], {edited.model_for("main")}, CASES)
    assert history.pace_s == 0.05

    same = estimate_run(env, CASES, RunShape(), history, ServerSpeed(pace_s=0.05))
    busy = estimate_run(env, CASES, RunShape(), history, ServerSpeed(pace_s=0.10))
    stage = "sql_generation"
    assert busy.cases[0].stage_seconds[stage] == pytest.approx(
        2 * same.cases[0].stage_seconds[stage]
    )
    assert "2.0x slower than then" in busy.basis
    wild = estimate_run(env, CASES, RunShape(), history, ServerSpeed(pace_s=5.0))
    assert wild.cases[0].stage_seconds[stage] == pytest.approx(4 * SCRIPTED_S)  # bounded
    unknown = estimate_run(env, CASES, RunShape(), history, ServerSpeed())
    assert unknown.cases[0].stage_seconds[stage] == SCRIPTED_S


def test_a_recent_runs_pace_stands_in_for_a_new_probe_until_it_is_old(
    edited, demo_database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(edited)
    llm = PipelineScript().llm()
    env = environment(edited, llm, store=store, database=demo_database)
    speed = measure_speed(env)  # no run yet: the server is asked
    probes = [r for r in llm.requests if PACE_QUESTION in r.messages[-1].content]
    assert len(probes) == 1 and speed.measured_at is not None
    run_plan(env, plan_run(env, SmokeOptions(repeats=1), cases=CASES[:1], speed=speed))

    again = measure_speed(env)  # a run measured it a moment ago
    assert (again.pace_s, again.measured_at) == (speed.pace_s, speed.measured_at)
    assert len([r for r in llm.requests if PACE_QUESTION in r.messages[-1].content]) == 1
    second = plan_run(env, SmokeOptions(repeats=1), cases=CASES[:1], speed=again)
    run_plan(env, second)
    assert second.manifest.pace_at == speed.measured_at.isoformat()  # when, not re-dated
    history = load_history(store, ["scripted://llm"], {edited.model_for("main")}, CASES)
    assert history.pace_s == speed.pace_s  # one measurement, counted once

    monkeypatch.setattr(plan_module, "PACE_REUSE_S", 0.0)  # now too old
    fresh = measure_speed(env)
    assert len([r for r in llm.requests if PACE_QUESTION in r.messages[-1].content]) == 2
    assert fresh.measured_at is not None and fresh.measured_at > speed.measured_at
