"""Reviewing a run: the filters and search, which stage broke a failing case, a case's
repeats stage by stage."""

from __future__ import annotations

from dataclasses import replace

from tests.smoke_records import record, result
from workbench.smoke.results import RepeatOutcome, StageOutcome
from workbench.smoke.review import (
    break_frame,
    first_break,
    repeat_stages,
    review_cases,
    view_counts,
)

STAGES = (
    StageOutcome("noise", 2, "Noise removal", "count CBC results"),
    StageOutcome("query", 3, "Query normalizer", "Count CBC results"),
    StageOutcome("sql", 6, "SQL generation", "SELECT COUNT(*) FROM results"),
)


def repeat(verdict: str, **changes) -> RepeatOutcome:
    values = dict(trace_id="t", verdict=verdict, reason=f"{verdict}: why", stages=STAGES,
                  sql="SELECT COUNT(*) FROM results")  # fmt: skip
    values.update(changes)
    return RepeatOutcome(**values)


def with_repeats(case_id: str, verdict: str, *repeats: RepeatOutcome):
    return replace(result(case_id, verdict), repeats=repeats)


RUN = record(
    "r2",
    [
        result("simple-001", "pass"),
        result("simple-002", "fail"),
        result("medium-001", "error", category="medium"),
        result("messy-004", "flaky", category="messy"),
        result("edge-002", "pass", category="edge"),
    ],
)
BASELINE = record(
    "r1",
    [result("simple-001", "pass"), result("simple-002", "pass"), result("medium-001", "error")],
)


def ids(results) -> list[str]:
    return [r.case_id for r in results]


def test_each_view_keeps_its_verdicts() -> None:
    assert ids(review_cases(RUN, "all")) == [r.case_id for r in RUN.results]
    assert ids(review_cases(RUN, "failures")) == ["simple-002"]
    assert ids(review_cases(RUN, "errors")) == ["medium-001"]
    assert ids(review_cases(RUN, "flaky")) == ["messy-004"]


def test_changed_since_baseline_is_a_moved_verdict_or_a_case_the_baseline_lacks() -> None:
    assert ids(review_cases(RUN, "changed", baseline=BASELINE)) == [
        "simple-002", "messy-004", "edge-002"
    ]  # fmt: skip
    assert review_cases(RUN, "changed", baseline=None) == ()
    assert view_counts(RUN, BASELINE) == {
        "all": 5, "failures": 1, "errors": 1, "flaky": 1, "changed": 3
    }  # fmt: skip


def test_search_matches_every_word_in_the_id_or_the_question() -> None:
    assert ids(review_cases(RUN, "all", "SIMPLE")) == ["simple-001", "simple-002"]
    assert ids(review_cases(RUN, "all", "question 004")) == ["messy-004"]
    assert ids(review_cases(RUN, "failures", "edge")) == []


def test_an_error_breaks_at_the_stage_that_failed() -> None:
    failed = replace(STAGES[1], output=None, error="the server timed out", error_kind="LLMTimeout")
    skipped = replace(STAGES[2], output=None, error="skipped", skipped=True)
    case = with_repeats("x-001", "error", repeat("error", stages=(STAGES[0], failed, skipped)))
    point = first_break(case)
    assert (point.stage, point.kind, point.detail) == (
        "3 Query normalizer", "error", "the server timed out"
    )  # fmt: skip


def test_a_failure_breaks_at_its_first_unmet_expectation_in_pipeline_order() -> None:
    unmet = ("query output lacks 'CBC'", "noise output contains 'hi'")
    case = with_repeats("x-002", "fail", repeat("fail", expectation_failures=unmet))
    point = first_break(case)
    assert (point.stage, point.kind, point.detail) == (
        "2 Noise removal", "expectation", "noise output contains 'hi'"
    )  # fmt: skip


def test_a_failure_with_every_expectation_met_breaks_at_the_sql_result() -> None:
    case = with_repeats("x-003", "fail", repeat("fail", reason="row 1 differs"))
    point = first_break(case)
    assert (point.stage, point.kind, point.order) == ("SQL result", "wrong rows", 6.5)
    assert first_break(result("simple-001", "pass")) is None
    assert first_break(result("messy-004", "flaky")) is None


def test_the_first_repeat_that_did_not_pass_is_the_one_read() -> None:
    unmet = ("query output lacks 'CBC'",)
    case = with_repeats("x-004", "fail", repeat("pass"), repeat("fail", expectation_failures=unmet))
    assert first_break(case).stage == "3 Query normalizer"


def test_the_break_frame_counts_failing_cases_per_stage_in_pipeline_order() -> None:
    timeout = replace(STAGES[1], output=None, error="timeout")
    run = record(
        "r3",
        [
            with_repeats("a-001", "fail", repeat("fail")),
            with_repeats("a-002", "fail", repeat("fail")),
            with_repeats("a-003", "error", repeat("error", stages=(STAGES[0], timeout))),
            result("a-004", "pass"),
        ],
    )
    frame = break_frame(run)
    assert list(zip(frame["stage"], frame["how"], frame["cases"], strict=True)) == [
        ("3 Query normalizer", "error", 1),
        ("SQL result", "wrong rows", 2),
    ]


def test_repeat_stages_mark_only_the_stages_whose_repeats_differ() -> None:
    flaky = result("messy-004", "flaky")  # the query stage differs: "Show q" vs "Show q x"
    stages = repeat_stages(flaky)
    assert [(s.order, s.title, s.differs) for s in stages] == [
        (2, "Noise removal", False),
        (3, "Query normalizer", True),
    ]
    query = stages[1]
    assert query.outputs == ("Show q", "Show q x")
    assert '<ins class="wb-ins">x</ins>' in query.other_html[0]
    assert stages[0].other_html == ("",)


def test_repeat_stages_escape_the_model_output() -> None:
    hostile = replace(STAGES[1], output="<script>alert(1)</script>")
    case = with_repeats(
        "x-005", "flaky", repeat("pass"), repeat("pass", stages=(STAGES[0], hostile, STAGES[2]))
    )
    query = repeat_stages(case)[1]
    assert "<script>" not in query.other_html[0] and "&lt;script&gt;" in query.other_html[0]
