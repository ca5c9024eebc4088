"""The Smoke page (AppTest): a run in one click against the scripted server, results as
they finish, a second run compared with the first, the plots and the experiment table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.shown import fragments, notices, text_of
from tests.scripted_server import Reply
from tests.smoke_script import CASES, SQL, PipelineScript, write_suite
from workbench.settings import PROJECT_ROOT, Settings

SIMPLE_002, SIMPLE_003, _ = CASES


@pytest.fixture
def script(tmp_path: Path, settings: Settings, installed_demo: Path, monkeypatch, scripted_server):
    """Two cases of the suite, the demo database in place, the pipeline scripted."""
    write_suite(tmp_path / "fixtures", (SIMPLE_002, SIMPLE_003))
    monkeypatch.setenv("WORKBENCH_FIXTURES_DIR", str(tmp_path / "fixtures"))
    monkeypatch.setenv("WORKBENCH_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
    pipeline = PipelineScript()
    scripted_server.respond_with(pipeline.reply)
    return pipeline


def open_page() -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "smoke.py"), default_timeout=60)
    page.run()
    assert not page.exception, page.exception
    return page


def edit_the_sql_prompt(tmp_path: Path, monkeypatch) -> None:
    """The page from now on reads a copy of the prompts with one rule added to stage 6."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    sql = prompts / "06_sql.md"
    sql.write_text(sql.read_text(encoding="utf-8") + "\n- Keep it short.\n", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(prompts))


def run_suite(page: AppTest) -> AppTest:
    submit = next(b for b in page.button if b.label == "Run the smoke suite")
    submit.click().run()
    assert not page.exception, page.exception
    page.session_state["smoke_job"].wait(120)
    page.run()
    assert not page.exception, page.exception
    return page


def test_the_empty_page_offers_a_run(script) -> None:
    page = open_page()
    assert any("No smoke runs yet" in i.value for i in page.info)
    assert any(b.label == "Run the smoke suite" for b in page.button)
    assert page.selectbox(key="smoke_category").options[0] == "all"


def test_one_click_runs_the_suite_then_a_second_run_is_compared(script) -> None:
    page = run_suite(open_page())
    table = page.dataframe[0].value
    assert list(table["case"]) == ["simple-002", "simple-003"]
    assert list(table["verdict"]) == ["✅ pass", "✅ pass"]

    for call in (3, 4):
        script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
    page.radio(key="smoke_mode").set_value("hunt").run()
    page = run_suite(page)
    page.run()
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["new failure"] == "1" and metrics["unchanged"] == "1"
    said = " ".join(text_of(f) for f in fragments(page))
    assert "1 regression, 0 fixes — not distinguishable from noise" in said
    compared = next(d.value for d in page.dataframe if "change" in d.value.columns)
    assert list(compared["case"]) == ["simple-003"]
    before, after = compared["trace before"][0], compared["trace after"][0]
    assert compared["compare"][0] == f"run?a={before}&b={after}"  # opens the Run page's compare
    charts = [c.proto.id for c in page.get("plotly_chart")]
    assert len(charts) == 5 and "smoke_breaks" in charts[0]  # a run with a failure: which stage


def test_a_selection_that_cannot_run_is_said_before_the_button(script, monkeypatch) -> None:
    page = open_page()
    page.multiselect(key="smoke_tags").set_value(["window"]).run()  # no case carries it
    assert any("no smoke case matches" in w for w in notices(page, "warning"))
    assert next(b for b in page.button if b.label == "Run the smoke suite").disabled
    assert "smoke_job" not in page.session_state


def test_the_estimate_is_shown_and_a_first_run_hunts_flakes(script) -> None:
    page = open_page()
    assert page.radio(key="smoke_mode").value == "hunt"  # nothing to check an edit against
    estimate = next(i for i in notices(page, "info") if i.startswith("Hunt flakes: about"))
    assert "2 cases × 2 repeats" in estimate and "28 stages" in estimate
    assert any(c.value.startswith("All 2 cases: about") for c in page.caption)


def test_check_an_edit_against_the_first_run_lists_the_regression(
    script, tmp_path, monkeypatch
) -> None:
    page = run_suite(open_page())
    page.run()
    assert page.radio(key="smoke_mode").value == "quick"  # a baseline now exists
    estimate = next(i for i in notices(page, "info") if i.startswith("Check an edit: about"))
    assert "0 of 14 stages to compute" in estimate  # nothing changed since the baseline

    script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=3)
    edit_the_sql_prompt(tmp_path, monkeypatch)
    page.run()
    estimate = next(i for i in notices(page, "info") if i.startswith("Check an edit"))
    assert "2 of 14 stages to compute" in estimate
    page = run_suite(page)
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["new failure"] == "1" and metrics["fixed"] == "0"
    assert any("Against its baseline" in text_of(f) for f in fragments(page))
    assert any("exact sign test, p = 1.00" in text_of(f) for f in fragments(page))
    table = next(d.value for d in page.dataframe if "reused" in d.value.columns)
    assert list(table["reused"]) == ["stages 2–5", "stages 2–5"]


def run_suite_start_only(page: AppTest) -> AppTest:
    submit = next(b for b in page.button if b.label == "Run the smoke suite")
    submit.click().run()
    assert not page.exception, page.exception
    return page


def test_cancel_keeps_the_cases_that_finished(script, scripted_server) -> None:
    import time

    def slow(body):
        time.sleep(0.2)
        return script.reply(body)

    scripted_server.respond_with(slow)
    page = open_page()
    page.number_input(key="smoke_concurrency").set_value(1).run()  # one case after the other
    page = run_suite_start_only(page)
    job = page.session_state["smoke_job"]
    deadline = time.monotonic() + 60
    while job.snapshot().progress is None or job.snapshot().progress.counts.done < 1:
        assert time.monotonic() < deadline, "the first case did not finish"
        time.sleep(0.1)
    page.run()
    page.button(key="smoke_cancel").click().run()
    assert not page.exception, page.exception
    record = job.wait(60).result
    assert record.status == "cancelled"
    assert [r.case_id for r in record.results] == ["simple-002"]
    page.run()
    assert any("1 unfinished runs" in e.label for e in page.expander)


# -- a reviewer's view ------------------------------------------------------------------


def test_a_first_visit_offers_a_small_first_run_with_its_estimate(script) -> None:
    page = open_page()
    offer = next(text_of(f) for f in fragments(page) if "No smoke runs yet." in f)
    assert "the first case of each category (1 cases), once each: about" in offer
    assert "for 1 cases (7 of 7 stages to compute, one at a time; from a calibration" in offer
    page.button(key="smoke_first_run").click().run()
    assert not page.exception, page.exception
    record = page.session_state["smoke_job"].wait(120).result
    assert (record.label, record.manifest.repeats, record.case_ids) == (
        "first run",
        1,
        ("simple-002",),
    )
    page.run()
    assert not any("No smoke runs yet." in f for f in fragments(page))
    assert not any(b.key == "smoke_first_run" for b in page.button)


def test_the_results_filter_search_and_open_a_case_with_its_repeats(script) -> None:
    page = run_suite(open_page())  # both pass
    script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=3)  # repeat 1 only
    page.radio(key="smoke_mode").set_value("hunt").run()
    page = run_suite(page)
    show = page.selectbox(key="smoke_show")
    show.set_value(page.selectbox(key="smoke_after").value).run()  # the newest run
    views = page.radio(key="smoke_view")
    assert views.options == [
        "All (2)", "Failures (0)", "Errors (0)", "Flaky (1)", "Changed since baseline (1)"
    ]  # fmt: skip

    def shown() -> list[str]:
        table = next(d for d in page.dataframe if d.key and d.key.startswith("smoke_cases:"))
        return list(table.value["case"])

    assert shown() == ["simple-002", "simple-003"]
    views.set_value("flaky").run()
    assert shown() == ["simple-003"]
    page.radio(key="smoke_view").set_value("all").run()
    page.text_input(key="smoke_search").set_value("002").run()
    assert shown() == ["simple-002"]
    page.text_input(key="smoke_search").set_value("").run()
    page.radio(key="smoke_view").set_value("changed").run()
    assert shown() == ["simple-003"]

    # A selected row opens the case here: its stages, the repeats that differ marked.
    table = next(d for d in page.dataframe if d.key and d.key.startswith("smoke_cases:"))
    page.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    page.run()
    assert not page.exception, page.exception
    text = " ".join(text_of(f) for f in fragments(page))
    assert "simple-003 · 🔀 flaky · 2 repeats" in text
    assert "repeats differ" in text
    diffs = " ".join(fragments(page))
    assert '<del class="wb-del">' in diffs or '<ins class="wb-ins">' in diffs


def test_failing_cases_are_charted_by_the_stage_that_broke_them(script) -> None:
    for call in (1, 2):
        script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
    page = run_suite(open_page())
    page.run()
    assert page.radio(key="smoke_view").options[1] == "Failures (1)"
    chart = next(c for c in page.get("plotly_chart") if "smoke_breaks" in c.proto.id)
    assert "Where failing cases first went wrong" in chart.proto.spec
    assert "SQL result" in chart.proto.spec


def test_a_quick_checks_uncertain_flip_is_re_asked_before_the_verdict(
    script, tmp_path, monkeypatch
) -> None:
    page = run_suite(open_page())  # the baseline: calls 1-2 of each case's SQL stage
    wrong = SIMPLE_003.wrong_sql or ""
    unsure = Reply(content=wrong, margins=[0.2] * len(wrong.split()))  # a coin toss
    script.plant(SQL, SIMPLE_003.question, unsure, call=3)
    for call in (4, 5):  # the re-asks: fail, fail, pass
        script.plant(SQL, SIMPLE_003.question, wrong, call=call)
    edit_the_sql_prompt(tmp_path, monkeypatch)
    page.run()
    assert page.radio(key="smoke_mode").value == "quick"
    page = run_suite(page)

    assert script.calls[(SQL, SIMPLE_003.question)] == 6
    compared = next(d.value for d in page.dataframe if "re-asked" in d.value.columns)
    assert list(compared["case"]) == ["simple-003"]
    assert "low margin (0.20)" in compared["uncertain"][0]
    assert compared["re-asked"][0] == "fail, fail, pass → confirmed"


def test_an_experiment_runs_from_its_button_and_shows_each_settings_rates(script) -> None:
    page = open_page()
    page.text_input(key="smoke_models").set_value("scripted-model").run()
    page.number_input(key="smoke_exp_limit").set_value(1).run()
    button = next(b for b in page.button if b.label == "Run the experiment")
    assert not button.disabled
    button.click().run()
    assert not page.exception, page.exception
    page.session_state["smoke_job"].wait(120)
    page.run()
    assert not page.exception, page.exception
    rates = next(d.value for d in page.dataframe if "setting" in d.value.columns
                 and "pass rate" in " ".join(map(str, d.value.columns)))  # fmt: skip
    assert list(rates["setting"]) == ["scripted-model"]
