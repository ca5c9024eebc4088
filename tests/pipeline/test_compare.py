"""Comparing two runs of a question stage by stage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from workbench.pipeline.compare import (
    compare_link,
    compare_runs,
    compare_stage,
    default_pair,
    linked_pair,
    trace_link,
)
from workbench.pipeline.reference import load_reference_trace
from workbench.pipeline.trace import ResultTrace, StageTrace, Trace, TraceSummary


def reference_with(stage_index: int, output: str) -> Trace:
    """The paper's trace with one stage answering differently (and the next reading it)."""
    trace = load_reference_trace()
    stages = list(trace.stages)
    stages[stage_index] = replace(stages[stage_index], output=output)
    if stage_index + 1 < len(stages):
        stages[stage_index + 1] = replace(stages[stage_index + 1], input=output)
    return replace(trace, id=f"changed-{stage_index}", stages=tuple(stages))


def test_identical_runs() -> None:
    a, b = load_reference_trace(), replace(load_reference_trace(), id="again")
    comparison = compare_runs(a, b)
    assert comparison.identical and comparison.first_difference is None
    assert {s.verdict for s in comparison.stages} == {"same"}
    assert comparison.same_question


def test_the_first_difference_is_located_to_stage_and_word() -> None:
    a = load_reference_trace()
    changed = a.stages[2].output.replace("Show count", "Show the count")
    b = reference_with(2, changed)
    comparison = compare_runs(a, b)
    first = comparison.first_difference
    assert (first.number, first.stage_id, first.verdict) == (3, "query", "differs")
    assert first.divergence.word_index == 1
    assert first.divergence.b_context.startswith("the count")
    assert '<ins class="wb-ins">the</ins>' in first.b_html
    assert comparison.stages[3].verdict == "same"  # stage 4's own output did not change


def test_a_later_difference_after_a_changed_input_is_a_knock_on() -> None:
    a = load_reference_trace()
    b = reference_with(2, "Show everything")
    stages = list(b.stages)
    stages[3] = replace(stages[3], output="Show everything, please")
    b = replace(b, stages=tuple(stages))
    verdicts = [s.verdict for s in compare_runs(a, b).stages]
    assert verdicts[:4] == ["same", "same", "differs", "knock-on"]


def test_an_edited_prompt_is_noted() -> None:
    a = load_reference_trace()
    stages = list(a.stages)
    stages[4] = replace(stages[4], prompt_hash="new")
    comparison = compare_runs(a, replace(a, id="b", stages=tuple(stages)))
    assert [s.prompt_changed for s in comparison.stages] == [False] * 4 + [True, False, False]


def test_a_failed_stage_on_one_side() -> None:
    a = load_reference_trace()
    failed = replace(a.stages[5], error="does not parse", error_kind="SQLParseError")
    result = compare_stage(a.stages[5], failed)
    assert result.verdict == "only-a" and result.b_output is None
    assert "does not parse" in result.b_html
    assert compare_stage(failed, a.stages[5]).verdict == "only-b"


def test_different_rows_are_not_identical() -> None:
    a = load_reference_trace()
    rows = ResultTrace(a.result.columns, a.result.rows[:4], 4, False, 0.0)
    comparison = compare_runs(a, replace(a, id="b", result=rows))
    assert comparison.first_difference is None and not comparison.rows_same
    assert not comparison.identical


def test_stages_missing_from_one_run_are_compared_too() -> None:
    a = load_reference_trace()
    extra = StageTrace("extra", "Extra", 8, "rewrite", input="x", output="y")
    comparison = compare_runs(a, replace(a, id="b", stages=(*a.stages, extra)))
    assert comparison.stages[-1].stage_id == "extra"
    assert comparison.stages[-1].verdict == "only-b"


def summary(trace_id: str, question: str) -> TraceSummary:
    return TraceSummary(trace_id, question, date(2026, 3, 31), datetime.now(UTC), "ok")


def test_default_pair_prefers_runs_of_the_shown_question() -> None:
    newest_first = [summary("4", "q1"), summary("3", "q2"), summary("2", "q1"), summary("1", "q2")]
    assert default_pair(newest_first, "q2") == ("1", "3")
    assert default_pair(newest_first, "unknown") == ("3", "4")
    assert default_pair(newest_first, None) == ("3", "4")
    assert default_pair(newest_first[:1], "q1") is None


def test_links_into_the_run_page_carry_the_ids_and_read_back() -> None:
    link = compare_link("a1 b", "c&d")
    assert link == "run?a=a1+b&b=c%26d"
    assert trace_link("t-1") == "run?trace=t-1"
    from urllib.parse import parse_qsl, urlsplit

    params = dict(parse_qsl(urlsplit(link).query))
    assert linked_pair(params) == ("a1 b", "c&d")


def test_a_link_without_two_different_runs_asks_for_no_pair() -> None:
    assert linked_pair({}) is None
    assert linked_pair({"a": "x"}) is None
    assert linked_pair({"a": "x", "b": "  "}) is None
    assert linked_pair({"a": "x", "b": "x"}) is None
