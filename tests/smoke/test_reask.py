"""Re-asking uncertain flips before the verdict: scripted runs against a baseline.

Each case's SQL answer is planted per call (the baseline's two repeats are calls 1-2,
the new run's 3-4, the re-asks 5 on), so a test decides what every re-ask says.
"""

from __future__ import annotations

import shutil

import pytest

from tests.environment import environment
from tests.smoke_script import CASES, SQL, PipelineScript
from workbench.cli import build_parser
from workbench.commands.smoke import run_outcome
from workbench.llm.protocol import Completion
from workbench.settings import Settings
from workbench.smoke.compare import compare_smoke_runs, comparison_frame
from workbench.smoke.reask import reask_flips
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES


@pytest.fixture
def store(settings: Settings):
    return open_store(settings)


def args(*flags: str):
    return build_parser().parse_args(["smoke", "run", "--baseline", "a", *flags])


def wrong(script: PipelineScript, case, *calls: int) -> None:
    """Answer the case's SQL stage with a query that returns nothing on those calls."""
    answer = case.wrong_sql or "SELECT 1 WHERE FALSE;"
    for call in calls:
        script.plant(SQL, case.question, answer, call=call)


def runs(settings, store, script, demo_database, **reask):
    """A baseline and a new run (two repeats each) of ``CASES``, then the re-asks."""
    env = environment(settings, script.llm(), store=store, database=demo_database)
    baseline = run_suite(env, SmokeOptions(repeats=2), cases=CASES)
    after = run_suite(env, SmokeOptions(repeats=2), cases=CASES)
    settled, report = reask_flips(env, baseline, after, CASES, **reask)
    return baseline, settled, report


def sql_calls(script: PipelineScript, case) -> int:
    return script.calls[(SQL, case.question)]


def test_a_flip_in_a_case_the_baseline_saw_flaky_is_re_asked_and_dropped(
    settings, store, demo_database
) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 1, 5, 6)  # flaky baseline, new run passes, re-asks mostly fail
    baseline, after, report = runs(settings, store, script, demo_database)

    assert report.reasked == ("simple-003",) and sql_calls(script, SIMPLE_003) == 7
    comparison = compare_smoke_runs(baseline, after)
    assert comparison.paired_test.fixes == 0 and comparison.paired_test.regressions == 0
    outcome = run_outcome(after, baseline, args(), reasked=report)
    assert "simple-003: re-asked 3×: fail, fail, pass → dropped (dropped as noise)" in outcome.text
    (entry,) = outcome.data["comparison"]["reasked"]
    assert entry["settled"] == "dropped" and entry["reasks"] == ["fail", "fail", "pass"]


def test_a_regression_the_re_asks_do_not_reproduce_is_dropped_and_fails_no_gate(
    settings, store, demo_database
) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 4)  # passes in the baseline, flaky in the new run
    baseline, after, report = runs(settings, store, script, demo_database)

    outcome = run_outcome(after, baseline, args("--fail-on-regression"), reasked=report)
    assert outcome.data["comparison"]["paired_test"]["regressions"] == 0
    assert outcome.exit_code == 0
    assert "re-asked 3×: pass, pass, pass → dropped" in outcome.text


def test_a_regression_the_re_asks_reproduce_is_confirmed(settings, store, demo_database) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 4, 5, 6)
    baseline, after, report = runs(settings, store, script, demo_database)

    outcome = run_outcome(after, baseline, args("--fail-on-regression"), reasked=report)
    test = outcome.data["comparison"]["paired_test"]
    assert test["regressions"] == 1 and test["uncertain"] == []  # confirmed: no longer uncertain
    assert outcome.exit_code == 1
    assert "simple-003: re-asked 3×: fail, fail, pass → confirmed" in outcome.text


def test_a_stable_regression_is_not_re_asked_and_counts(settings, store, demo_database) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 3, 4)  # fails both repeats of the new run: nothing uncertain
    baseline, after, report = runs(settings, store, script, demo_database)

    assert report.reasked == () and sql_calls(script, SIMPLE_003) == 4
    outcome = run_outcome(after, baseline, args("--fail-on-regression"), reasked=report)
    assert outcome.data["comparison"]["paired_test"]["regressions"] == 1
    assert outcome.exit_code == 1


def test_the_budget_bounds_the_re_asks_and_says_when_it_ran_out(
    settings, store, demo_database
) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 4)
    wrong(script, SIMPLE_007, 4)
    baseline, after, report = runs(settings, store, script, demo_database, budget=3)

    assert len(report.reasked) == 1 and len(report.unasked) == 1
    assert sql_calls(script, SIMPLE_003) + sql_calls(script, SIMPLE_007) == 8 + 3
    assert "the budget ran out before" in report.words()
    test = compare_smoke_runs(baseline, after).paired_test
    assert test.uncertain == report.unasked  # the unasked flip stays uncertain, counted as it is


def test_reask_zero_turns_it_off(settings, store, demo_database) -> None:
    assert args("--reask", "0").reask == 0
    script = PipelineScript()
    wrong(script, SIMPLE_003, 4)
    baseline, after, report = runs(settings, store, script, demo_database, times=0)

    assert report.reasked == () and sql_calls(script, SIMPLE_003) == 4
    outcome = run_outcome(after, baseline, args("--fail-on-regression"), reasked=report)
    assert outcome.exit_code == 1  # the uncertain regression counts as it is


def test_the_re_asks_are_stored_with_the_run(settings, store, demo_database) -> None:
    from workbench.smoke.results import load_run

    script = PipelineScript()
    wrong(script, SIMPLE_003, 4, 5, 6)
    _, after, _ = runs(settings, store, script, demo_database)

    stored = load_run(store, after.id).result("simple-003")
    assert stored is not None and stored.verdict == "flaky"  # the run's own verdict stays
    assert [r.verdict for r in stored.reasks] == ["fail", "fail", "pass"]
    assert len(stored.repeats) == 2


# -- after a plain quick check: one repeat, so only a low margin can mark a flip ---------


def quick_check(settings, store, script, demo_database, tmp_path, margin: float):
    """A baseline (two repeats), then a quick check of an edit to the SQL stage, whose one
    fresh SQL answer for simple-003 is wrong and chosen by ``margin``; then the re-asks."""
    env = environment(settings, script.llm(), store=store, database=demo_database)
    baseline = run_suite(env, SmokeOptions(repeats=2), cases=CASES)
    prompts = tmp_path / "edited"
    shutil.copytree(settings.prompts_dir, prompts)
    sql = next(prompts.glob("06_*.md"))
    sql.write_text(sql.read_text() + "\n- Prefer explicit column lists.\n")
    edited = settings.model_copy(update={"prompts_dir": prompts})
    script.plant(SQL, SIMPLE_003.question, lambda: low_margin(SIMPLE_003, margin), call=3)
    env = environment(edited, script.llm(), store=store, database=demo_database)
    quick = SmokeOptions(repeats=1, mode="quick", baseline=baseline.id)
    after = run_suite(env, quick, cases=CASES)
    settled, report = reask_flips(env, baseline, after, CASES)
    return baseline, after, settled, report


def low_margin(case, margin: float) -> Completion:
    answer = case.wrong_sql or "SELECT 1 WHERE FALSE;"
    return Completion(
        answer, "m", "stop", 11, len(answer.split()), latency_s=0.25, min_margin=margin
    )


def test_a_quick_checks_low_margin_regression_is_re_asked(
    settings, store, demo_database, tmp_path
) -> None:
    script = PipelineScript()
    wrong(script, SIMPLE_003, 4, 5)  # the re-asks: fail, fail, pass
    baseline, after, settled, report = quick_check(
        settings, store, script, demo_database, tmp_path, margin=0.2
    )

    assert after.manifest.mode == "quick" and len(after.result("simple-003").repeats) == 1
    (flip,) = compare_smoke_runs(baseline, after).flips
    assert flip.case_id == "simple-003" and any("low margin (0.20)" in r for r in flip.uncertain)
    assert report.reasked == ("simple-003",) and sql_calls(script, SIMPLE_003) == 3 + 3
    outcome = run_outcome(settled, baseline, args("--fail-on-regression"), reasked=report)
    assert "simple-003: re-asked 3×: fail, fail, pass → confirmed" in outcome.text
    assert outcome.exit_code == 1
    row = comparison_frame(compare_smoke_runs(baseline, settled)).iloc[0]  # the Smoke page's
    assert row["case"] == "simple-003" and "low margin (0.20)" in row["uncertain"]
    assert row["re-asked"] == "fail, fail, pass → confirmed"


def test_a_quick_checks_confident_regression_is_not_re_asked(
    settings, store, demo_database, tmp_path
) -> None:
    script = PipelineScript()
    baseline, after, _, report = quick_check(
        settings, store, script, demo_database, tmp_path, margin=3.0
    )

    (flip,) = compare_smoke_runs(baseline, after).flips
    assert flip.case_id == "simple-003" and not flip.uncertain
    assert report.reasked == () and sql_calls(script, SIMPLE_003) == 3
