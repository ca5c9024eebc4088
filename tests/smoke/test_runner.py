"""The smoke runner with scripted model answers: each verdict planted, the divergence
located, an error mid-run, a crash and a resume, a server gone, cancel, concurrency."""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from tests.scripted_server import MALFORMED, Reply, ScriptedServer
from tests.smoke_script import CASES, NOISE, QUERY, SQL, SUITE, PipelineScript, asked
from workbench.cases.suite import StageExpectation, select_cases
from workbench.errors import ConfigError, LLMResponseError, LLMUnavailable
from workbench.llm import ServerManager, identify, run_selftest, save_selftest, selftest_requests
from workbench.llm.client import OpenAIClient
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.results import load_run
from workbench.smoke.runner import (
    SmokeOptions,
    SmokeProgress,
    resume_run,
    run_suite,
    select_suite,
)
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES


@pytest.fixture
def store(settings: Settings):
    return open_store(settings)


def run(settings, store, llm, demo_database, **options):
    cases = options.pop("cases", CASES)
    kwargs = {k: options.pop(k) for k in ("on_progress", "cancel") if k in options}
    return run_suite(
        environment(settings, llm, store=store, database=demo_database),
        SmokeOptions(**options),
        cases=cases,
        **kwargs,
    )


def test_a_faithful_pipeline_passes_every_case_and_records_what_it_ran_against(
    settings, store, demo_database
):
    script = PipelineScript()
    record = run(settings, store, script.llm(), demo_database)

    assert [r.verdict for r in record.results] == ["pass", "pass", "pass"]
    assert record.status == "done"
    assert all(len(r.repeats) == 2 for r in record.results)
    # each case asked the SQL stage twice: the stage cache was bypassed
    assert all(script.calls[(SQL, c.question)] == 2 for c in CASES)
    manifest = record.manifest
    assert manifest.repeats == 2 and manifest.concurrency == 1
    assert manifest.endpoint == "scripted://llm"
    assert set(manifest.stage_versions) == {p.id for p in PipelineScript().openings.values()}
    assert manifest.models["main"] == settings.model_for("main") == "smollm2-135m-instruct"
    assert manifest.as_of_dates == ("2026-03-31",)
    assert manifest.server_flags["dtype"] == settings.server_dtype  # the managed server's knobs
    assert load_run(store, record.id) == record


def test_a_wrong_query_fails_with_the_comparators_reason(settings, store, demo_database):
    script = PipelineScript()
    for call in (1, 2):
        script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
    record = run(settings, store, script.llm(), demo_database)

    result = record.result("simple-003")
    assert result.verdict == "fail"
    assert result.divergence is None
    assert result.repeats[0].equivalent is False
    assert "row" in result.reason  # the comparator says which rows differ
    assert record.result("simple-002").verdict == "pass"


def test_an_unmet_stage_expectation_fails_a_case_whose_rows_are_right(
    settings, store, demo_database
):
    held = StageExpectation("noise_removal", contains=("physicians",))
    unmet = StageExpectation("query_normalizer", not_contains=("how many",))
    expecting = replace(SIMPLE_002, expect=(held, unmet))
    holding = replace(SIMPLE_007, expect=(held,) if "physicians" in SIMPLE_007.question else ())
    record = run(settings, store, PipelineScript().llm(), demo_database,
                 cases=(expecting, holding), repeats=1)  # fmt: skip

    result = record.result("simple-002")
    assert result.verdict == "fail"
    assert result.repeats[0].equivalent is True
    assert result.repeats[0].expectation_failures == (f"{QUERY} output contains 'how many'",)
    assert record.result("simple-007").verdict == "pass"


def test_a_divergence_at_stage_3_on_the_second_repeat_is_flaky_and_located_to_the_token(
    settings, store, demo_database
):
    script = PipelineScript()
    question = SIMPLE_007.question
    # The query normalizer answers the same text twice, except for its fourth token,
    # whose margin over the runner-up was small the first time.
    first = "Show count female patients"
    second = "Show count female patient"
    margins = [4.0, 3.0, 2.5, 0.04]
    script.plant(QUERY, question, Reply(content=first, margins=margins), call=1)
    script.plant(QUERY, question, Reply(content=second, margins=[4.0, 3.0, 2.5, 0.05]), call=2)
    script.sql[first] = SIMPLE_007.gold_sql
    script.sql[second] = SIMPLE_007.gold_sql
    with ScriptedServer() as server:
        server.respond_with(script.reply)
        client = OpenAIClient(server.base_url, max_retries=0)
        record = run(settings, store, client, demo_database, cases=(SIMPLE_007,))

    result = record.results[0]
    assert result.verdict == "flaky"
    point = result.divergence
    assert (point.stage_id, point.stage_order) == (QUERY, 3)
    assert (point.repeat_a, point.repeat_b) == (0, 1)
    assert point.unit == "token" and point.position == 3
    assert point.margin == pytest.approx(0.04, abs=1e-6)
    assert point.a_context.strip() == "patients" and point.b_context.strip() == "patient"
    # both repeats found the right rows: flakiness outranks the verdict of each repeat
    assert [r.verdict for r in result.repeats] == ["pass", "pass"]
    assert "stage 3 (Query normalizer)" in result.reason


def test_an_error_in_the_middle_is_recorded_on_that_case_and_the_run_goes_on(
    settings, store, demo_database
):
    script = PipelineScript()
    for call in (1, 2):
        script.plant(SQL, SIMPLE_003.question, LLMResponseError("HTTP 500: boom"), call=call)
    record = run(settings, store, script.llm(), demo_database)

    assert [r.verdict for r in record.results] == ["pass", "error", "pass"]
    assert "stage 6 (SQL generation) failed: HTTP 500: boom" in record.result("simple-003").reason
    assert record.status == "done"


def test_sql_that_does_not_parse_in_both_repeats_is_an_error(settings, store, demo_database):
    script = PipelineScript()
    for call in (1, 2):
        script.plant(SQL, SIMPLE_002.question, "SELEC nonsense FROM", call=call)
    record = run(settings, store, script.llm(), demo_database, cases=(SIMPLE_002,))
    assert record.results[0].verdict == "error"


def test_a_crash_keeps_finished_cases_and_a_resume_runs_only_the_rest(
    settings, store, demo_database
):
    script = PipelineScript()

    def crash():
        raise RuntimeError("the process died")

    script.plant(SQL, SIMPLE_003.question, crash, call=1)
    with pytest.raises(RuntimeError, match="the process died"):
        run(settings, store, script.llm(), demo_database)
    run_id = max(  # the run recorded before it crashed
        (r for r in _runs(store)), key=lambda r: r.created
    ).id
    crashed = load_run(store, run_id)
    assert crashed.status == "interrupted"  # never left "running"
    assert "RuntimeError: the process died" in crashed.note
    assert [r.case_id for r in crashed.results] == ["simple-002"]
    assert crashed.pending == ("simple-003", "simple-007")

    fresh = PipelineScript()
    resumed = resume_run(environment(settings, fresh.llm(), store=store, database=demo_database), run_id, cases=CASES)  # fmt: skip
    assert resumed.status == "done"
    assert [r.verdict for r in resumed.results] == ["pass", "pass", "pass"]
    assert resumed.result("simple-002") == crashed.result("simple-002")  # kept, not redone
    assert {q for _, q in fresh.log} == {SIMPLE_003.question, SIMPLE_007.question}


def _runs(store):
    from workbench.smoke.results import list_runs

    return list_runs(store)


def test_a_server_gone_interrupts_the_run_without_scoring_the_case_in_flight(
    settings, store, demo_database
):
    script = PipelineScript()
    script.plant(NOISE, SIMPLE_003.question, LLMUnavailable("no model server"), call=1)
    record = run(settings, store, script.llm(), demo_database)
    assert record.status == "interrupted"
    assert [r.case_id for r in record.results] == ["simple-002"]

    resumed = resume_run(environment(settings, PipelineScript().llm(), store=store, database=demo_database), record.id, cases=CASES)  # fmt: skip
    assert [r.verdict for r in resumed.results] == ["pass", "pass", "pass"]


def test_a_run_that_dies_of_anything_ends_interrupted_with_the_reason(
    settings, store, demo_database
):
    script = PipelineScript()

    def interrupt():
        raise KeyboardInterrupt

    script.plant(SQL, SIMPLE_007.question, interrupt, call=1)
    with pytest.raises(KeyboardInterrupt):
        run(settings, store, script.llm(), demo_database, concurrency=2)
    (summary,) = _runs(store)
    record = load_run(store, summary.id)
    assert record.status == "interrupted" and "Ctrl-C" in record.note
    assert {r.case_id for r in record.results} >= {"simple-002"}  # what finished is kept


def test_a_run_refused_before_its_first_case_is_not_left_running(settings, store, demo_database):
    # Restarting between repeats needs the managed server; the run is recorded, then refused.
    with pytest.raises(ConfigError, match="managed model server"):
        run(settings, store, PipelineScript().llm(), demo_database, restart_between_repeats=True)
    (summary,) = _runs(store)
    assert summary.status == "interrupted"
    assert "ConfigError" in load_run(store, summary.id).note


def test_a_server_answering_every_malformed_shape_errors_cases_and_loses_nothing(
    settings, store, demo_database
):
    """Every other answer is malformed, one shape after another: each hit is an error of its
    case (or a retry that succeeds), the run ends done, and every planned case has a result."""
    cases = select_cases(SUITE, category="simple")[:20]
    script = PipelineScript(cases)
    shapes = list(MALFORMED)
    served: list[str] = []
    calls = itertools.count(1)
    lock = threading.Lock()

    def answer(body: dict) -> Reply:
        with lock:
            call = next(calls)
            if call % 2:
                return script.reply(body)
            shape = shapes[len(served) % len(shapes)]
            served.append(shape)
        return MALFORMED[shape]

    with ScriptedServer() as server:
        server.respond_with(answer)
        client = OpenAIClient(server.base_url, max_retries=1, backoff_s=0.01)
        record = run(settings, store, client, demo_database, cases=cases, concurrency=2)

    assert set(served) == set(shapes)  # every shape was answered at least once
    assert record.status == "done"
    assert [r.case_id for r in record.results] == [c.id for c in cases]  # 0 results lost
    assert [r for r in _runs(store) if r.status == "running"] == []  # 0 runs left running
    errors = [r for r in record.results if r.verdict == "error"]
    assert errors and all("malformed" in r.reason or "invalid JSON" in r.reason
                          or "HTTP 500" in r.reason or "dropped" in r.reason
                          or "no usable text" in r.reason or "nested" in r.reason
                          for r in errors)  # fmt: skip


def test_cancel_keeps_what_finished_and_reports_progress(settings, store, demo_database):
    cancel = threading.Event()
    seen: list[SmokeProgress] = []

    def progress(p: SmokeProgress) -> None:
        seen.append(p)
        if p.latest is not None:
            cancel.set()

    record = run(settings, store, PipelineScript().llm(), demo_database, on_progress=progress,
                 cancel=cancel)  # fmt: skip
    assert record.status == "cancelled"
    assert len(record.results) == 1 and len(record.pending) == 2
    first = next(p for p in seen if p.latest is not None)
    assert (first.counts.done, first.counts.passed, first.planned) == (1, 1, 3)
    assert first.remaining_s is not None and first.remaining_s >= 0
    assert seen[-1].state == "cancelled"


def test_concurrent_cases_give_the_same_verdicts_and_the_run_records_the_concurrency(
    settings, store, demo_database
):
    passed_selftest(settings, store, "scripted://llm", concurrency=3)
    record = run(settings, store, PipelineScript().llm(), demo_database, concurrency=3)
    assert sorted(r.verdict for r in record.results) == ["pass", "pass", "pass"]
    assert [r.case_id for r in record.results] == [c.id for c in CASES]  # planned order
    assert record.manifest.concurrency == 3 and record.manifest.concurrency_note == ""


def passed_selftest(settings: Settings, store, endpoint: str, concurrency: int = 4) -> None:
    """Run the self-test against a deterministic scripted server of that endpoint, and keep it."""
    llm = ScriptedLLM(endpoint=endpoint)
    llm.responder = lambda request: "Show " + request.messages[-1].content
    flags = ServerManager(settings).flags() if settings.managed_server else None
    identity = identify(endpoint, flags)
    result = run_selftest(llm, identity, selftest_requests("m"), concurrency=concurrency)
    save_selftest(store, result)


def test_a_resume_after_a_prompt_edit_is_refused(settings, store, demo_database, tmp_path: Path):
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    edited = settings.model_copy(update={"prompts_dir": prompts})
    cancel = threading.Event()
    cancel.set()
    record = run(edited, store, PipelineScript().llm(), demo_database, cancel=cancel)
    assert record.status == "cancelled" and not record.results
    path = prompts / "02_noise.md"
    path.write_text(path.read_text() + "\n- Keep numbers.\n")
    with pytest.raises(ConfigError, match="prompt files changed"):
        resume_run(environment(edited, PipelineScript().llm(), store=store, database=demo_database), record.id, cases=CASES)  # fmt: skip


def test_selection_by_tag_category_and_limit(settings):
    chosen = select_suite(SmokeOptions(tags=("aggregate",), category="simple", limit=2),
                          settings=settings)  # fmt: skip
    assert len(chosen) == 2
    assert all(c.category == "simple" and "aggregate" in c.tags for c in chosen)
    with pytest.raises(ConfigError, match="no smoke case matches"):
        select_suite(SmokeOptions(tags=("no-such-tag",)), settings=settings)
    with pytest.raises(ConfigError, match="repeats"):
        SmokeOptions(repeats=0)


def test_a_server_restarted_mid_run_interrupts_it_without_recording_the_case_across(
    settings, store, demo_database
):
    script = PipelineScript()
    with ScriptedServer() as server:
        server.started = 1_700_000_000.0

        def reply(body):
            if SIMPLE_003.question in asked(body):
                server.started = 1_700_000_500.0  # restarted while simple-003 runs
            return script.reply(body)

        server.respond_with(reply)
        client = OpenAIClient(server.base_url, max_retries=0)
        record = run(settings, store, client, demo_database, repeats=1)
        assert record.status == "interrupted"
        assert [r.case_id for r in record.results] == ["simple-002"]

        resumed = resume_run(environment(settings, client, store=store, database=demo_database), record.id, cases=CASES)  # fmt: skip
    assert resumed.status == "done"
    assert [r.case_id for r in resumed.results] == ["simple-002", "simple-003", "simple-007"]


def test_without_a_passing_self_test_cases_go_one_at_a_time_and_the_run_says_why(
    settings, store, demo_database
):
    seen: list[SmokeProgress] = []
    record = run(settings, store, PipelineScript().llm(), demo_database, concurrency=3,
                 on_progress=seen.append)  # fmt: skip
    assert record.manifest.concurrency == 1 and record.manifest.requested_concurrency == 3
    assert "has no self-test for its current settings" in record.manifest.concurrency_note
    assert seen[0].note == record.manifest.concurrency_note

    unchecked = run(settings, store, PipelineScript().llm(), demo_database, concurrency=3,
                    unchecked_concurrency=True)  # fmt: skip
    assert unchecked.manifest.concurrency == 3

    failed = replace(passing_result(settings), differing=(0, 5))
    save_selftest(store, failed)
    record = run(settings, store, PipelineScript().llm(), demo_database, concurrency=3)
    assert record.manifest.concurrency == 1
    assert "failed its self-test (2 of 8 prompts" in record.manifest.concurrency_note
    assert "depend on the batch" in record.manifest.concurrency_note


def passing_result(settings: Settings):
    llm = ScriptedLLM(endpoint="scripted://llm")
    llm.responder = lambda request: "Show " + request.messages[-1].content
    identity = identify("scripted://llm", ServerManager(settings).flags())
    return run_selftest(llm, identity, selftest_requests("m"), concurrency=4)


def test_progress_counts_every_stage_of_every_repeat(settings, store, demo_database):
    seen: list[SmokeProgress] = []
    record = run(settings, store, PipelineScript().llm(), demo_database, on_progress=seen.append)
    planned = len(CASES) * 2 * 7
    assert {p.stages_planned for p in seen} == {planned}
    done = [p.stages_done for p in seen]
    assert done == sorted(done) and done[-1] == planned
    assert len([p for p in seen if p.latest is None and p.state == "running"]) >= planned
    assert seen[-1].state == "done" and seen[-1].fraction == 1.0
    assert record.status == "done"


def test_a_pool_pins_each_case_to_one_server_for_all_its_repeats(settings, store, demo_database):
    script = PipelineScript()
    with ScriptedServer() as a, ScriptedServer() as b:
        seen: dict[str, set[str]] = {}

        def recorder(name):
            def reply(body):
                question = asked(body)
                seen.setdefault(name, set()).add(question)
                return script.reply(body)

            return reply

        a.respond_with(recorder("a"))
        b.respond_with(recorder("b"))
        pooled = settings.model_copy(update={"base_url": f"{a.base_url},{b.base_url}"})
        from workbench.llm import make_llm

        record = run(pooled, store, make_llm(pooled), demo_database, cases=CASES)
    assert record.status == "done"
    by_case = {c.question: {n for n, qs in seen.items() if c.question in qs} for c in CASES}
    assert all(len(servers) == 1 for servers in by_case.values())
    assert record.manifest.concurrency == 2  # one case at a time on each server


def test_closing_the_case_iterator_early_waits_for_the_cases_in_flight_quietly():
    from workbench.smoke.runner import Lanes, _each_case

    started = threading.Event()
    release = threading.Event()

    def work(case):
        if case.id != CASES[0].id:
            started.set()
            release.wait(5)
        return case.id

    lanes = Lanes(total=4, limits={"lane": 4}, lane_of=lambda case: "lane")
    cases = list(CASES[:3])
    iterator = _each_case(cases, work, lanes, threading.Event())
    assert next(iterator)[0] == cases[0]
    started.wait(5)
    threading.Timer(0.2, release.set).start()
    iterator.close()  # a restart or Ctrl-C seen by the consumer: was RuntimeError


def test_a_deeply_nested_answer_is_its_cases_error_and_a_resume_finishes_the_run(
    settings, store, demo_database
):
    """The answer that ended runs (and every resume) with a RecursionError."""
    from tests.scripted_server import DEEP_BODY

    script = PipelineScript()
    cancel = threading.Event()

    def answer(body: dict) -> Reply:
        if SIMPLE_003.question in asked(body):
            return Reply(raw=DEEP_BODY)
        return script.reply(body)

    def first_case_only(progress: SmokeProgress) -> None:
        if progress.latest is not None:
            cancel.set()

    with ScriptedServer() as server:
        server.respond_with(answer)
        client = OpenAIClient(server.base_url, max_retries=1, backoff_s=0.01)
        first = run(settings, store, client, demo_database, repeats=1,
                    on_progress=first_case_only, cancel=cancel)  # fmt: skip
        assert first.status == "cancelled" and "simple-003" in first.pending
        resumed = resume_run(environment(settings, client, store=store, database=demo_database), first.id, cases=CASES)  # fmt: skip
        again = run(settings, store, client, demo_database, repeats=1)
    for record in (resumed, again):
        assert record.status == "done"
        assert [r.verdict for r in record.results] == ["pass", "error", "pass"]
        assert "nested over 64 levels deep" in record.result("simple-003").reason
