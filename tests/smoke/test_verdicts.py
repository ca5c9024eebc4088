"""Case verdicts over repeats, and where two repeats part ways."""

from __future__ import annotations

import pytest

from tests.smoke_script import case
from workbench.cases.suite import StageExpectation
from workbench.smoke.results import RepeatOutcome, StageOutcome
from workbench.smoke.verdicts import (
    case_verdict,
    check_expectations,
    expectation_stage,
    repeat_divergence,
)

IDS = ("dates", "noise", "query", "reference", "cleanup", "sql", "narrative")


def stages(*outputs: str | None, errors: dict[int, str] | None = None, tokens=None, margins=None):
    errors = errors or {}
    built = []
    for i, output in enumerate(outputs):
        kind = errors.get(i)
        built.append(
            StageOutcome(
                stage_id=IDS[i],
                order=i + 1,
                title=IDS[i].title(),
                output=output,
                error=f"{kind} happened" if kind else None,
                error_kind=kind,
                tokens=(tokens or {}).get(i, ()),
                margins=(margins or {}).get(i, ()),
            )
        )
    return tuple(built)


def repeat(verdict="pass", *outputs, **kwargs) -> RepeatOutcome:
    return RepeatOutcome(
        trace_id="t", verdict=verdict, reason=f"{verdict} reason", stages=stages(*outputs, **kwargs)
    )


SAME = ("q", "q clean", "Show q", "Show q ref", "Show q ref", "SELECT 1", "One.")


def test_identical_repeats_share_their_verdict() -> None:
    assert case_verdict([repeat("pass", *SAME), repeat("pass", *SAME)]) == (
        "pass",
        "pass reason",
        None,
    )
    assert case_verdict([repeat("fail", *SAME)] * 3)[0] == "fail"


def test_a_different_narrative_alone_makes_a_case_flaky() -> None:
    other = SAME[:-1] + ("Just one.",)
    verdict, reason, point = case_verdict([repeat("pass", *SAME), repeat("pass", *other)])
    assert verdict == "flaky"
    assert (point.stage_id, point.stage_order, point.unit, point.position) == (
        "narrative", 7, "word", 0,
    )  # fmt: skip
    assert "repeats 1 and 2 differ at stage 7 (Narrative)" in reason


def test_the_first_divergent_stage_wins_and_the_token_gives_the_margin() -> None:
    a = repeat("pass", *SAME, tokens={2: ("Show", " q")}, margins={2: (5.0, 0.2)})
    changed = ("q", "q clean", "Show r", "Show r ref", "Show r ref", "SELECT 2", "Two.")
    b = repeat("fail", *changed, tokens={2: ("Show", " r")}, margins={2: (5.0, 0.3)})
    point = repeat_divergence(a, b)
    assert (point.stage_id, point.unit, point.position) == ("query", "token", 1)
    assert point.margin == 0.2 and point.margin_b == 0.3
    assert (point.a_context, point.b_context) == (" q", " r")


def test_a_third_repeat_that_differs_is_found() -> None:
    other = ("q", "q other", *SAME[2:])
    verdict, _, point = case_verdict([repeat("pass", *SAME)] * 2 + [repeat("pass", *other)])
    assert verdict == "flaky" and point.repeat_b == 2 and point.stage_id == "noise"


def test_a_call_error_is_an_error_not_a_flake() -> None:
    failed = repeat("error", *SAME[:5], None, None, errors={5: "LLMTimeout"})
    verdict, reason, point = case_verdict([repeat("pass", *SAME), failed])
    assert (verdict, reason, point) == ("error", "error reason", None)


def test_a_flip_into_sql_that_does_not_run_is_flaky() -> None:
    broken = repeat("error", *SAME[:5], "SELEC 1", None, errors={5: "SQLParseError"})
    verdict, _, point = case_verdict([repeat("pass", *SAME), broken])
    assert verdict == "flaky" and point.stage_id == "sql"


def test_repeats_that_all_errored_for_different_reasons_are_an_error_with_each_reason() -> None:
    # Both SQL answers fail, differently: the outputs differ, but neither repeat answered.
    first = RepeatOutcome(
        "t1", "error", "the SQL could not be judged: no column x",
        stages(*SAME[:5], "SELECT x", None, errors={5: "SQLExecutionError"}),
    )  # fmt: skip
    second = RepeatOutcome(
        "t2", "error", "the SQL could not be judged: no column y",
        stages(*SAME[:5], "SELECT y", None, errors={5: "SQLExecutionError"}),
    )  # fmt: skip
    third = RepeatOutcome(
        "t3", "error", "stage 3 (Query) failed: malformed answer",
        stages(*SAME[:2], None, errors={2: "LLMResponseError"}),
    )  # fmt: skip
    verdict, reason, point = case_verdict([first, second, third])
    assert (verdict, point) == ("error", None)
    assert reason == (
        "repeat 1: the SQL could not be judged: no column x; "
        "repeat 2: the SQL could not be judged: no column y; "
        "repeat 3: stage 3 (Query) failed: malformed answer"
    )


def test_repeats_that_all_errored_the_same_way_say_it_once() -> None:
    failed = repeat("error", *SAME[:5], "SELEC 1", None, errors={5: "SQLParseError"})
    other = repeat("error", *SAME[:5], "SELEC 2", None, errors={5: "SQLParseError"})
    assert case_verdict([failed, other]) == ("error", "error reason (all 2 repeats)", None)


def test_same_outputs_judged_differently_is_flaky_on_the_verdict() -> None:
    verdict, _, point = case_verdict([repeat("pass", *SAME), repeat("fail", *SAME)])
    assert verdict == "flaky" and point.what == "verdict" and point.stage_id is None


def test_no_repeats_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        case_verdict([])


def test_expectations_name_stages_by_role_or_by_id() -> None:
    assert expectation_stage(StageExpectation("noise_removal"), IDS) == "noise"
    assert expectation_stage(StageExpectation("query"), IDS) == "query"
    assert expectation_stage(StageExpectation("misc_cleanup"), ("dates", "sql")) is None


def test_expectations_are_case_insensitive_and_each_miss_is_named() -> None:
    base = case("simple-002")
    from dataclasses import replace

    expecting = replace(
        base,
        expect=(
            StageExpectation("noise_removal", contains=("Q CLEAN", "absent")),
            StageExpectation("sql_generation", not_contains=("select",)),
            StageExpectation("misc_cleanup", contains=("SHOW Q REF",)),
        ),
    )
    found = check_expectations(expecting, stages(*SAME))
    assert found == ("noise output lacks 'absent'", "sql output contains 'select'")
