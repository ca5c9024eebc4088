"""Traces: JSON round trip and the store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from workbench.errors import StoreError
from workbench.llm.protocol import Message
from workbench.pipeline.trace import (
    DateSpanTrace,
    ResultTrace,
    SQLTrace,
    StageParameters,
    StageTrace,
    Trace,
    jsonable,
    load_trace,
    recent_traces,
    save_trace,
    trace_from_json,
    trace_summaries,
    trace_to_json,
)
from workbench.prompts.gates import GateDecision
from workbench.settings import Settings
from workbench.store import open_store


def make_trace(question: str = "Hi, how many CBC results this quarter?", **changes) -> Trace:
    stages = (
        StageTrace(
            stage_id="dates",
            title="Date normalization",
            order=1,
            kind="dates",
            input=question,
            output="Hi, how many CBC results from 2026-01-01 through 2026-03-31?",
            date_spans=(
                DateSpanTrace(
                    "this quarter",
                    "2026-01-01",
                    "2026-03-31",
                    "from 2026-01-01 through 2026-03-31",
                    "python",
                ),
            ),  # fmt: skip
            unresolved_dates=("lately",),
        ),
        StageTrace(
            stage_id="sql",
            title="SQL generation",
            order=6,
            kind="sql",
            input="Show count CBC results from 2026-01-01 through 2026-03-31",
            output="SELECT COUNT(*) AS n FROM results",
            messages=(Message("system", "Write SQL. ü"), Message("user", "Show count")),
            prompt_hash="ab" * 32,
            model="qwen3-32b",
            mode="gated",
            gate=GateDecision("gate2", True, "sql_think", ("many filters: 5 > 4",)),
            parameters=StageParameters(
                model="qwen3-32b",
                temperature=0.0,
                seed=7,
                max_tokens=2560,
                stop=(),
                prefill=None,
                thinking=True,
                max_thinking_tokens=2048,
                logprobs=True,
            ),  # fmt: skip
            called_model=True,
            prompt_tokens=120,
            completion_tokens=40,
            latency_s=1.5,
            finish_reason="stop",
            reasoning="count the CBC results",
            min_margin=0.125,
            min_margin_index=3,
            cached=True,
        ),
        StageTrace(
            "narrative",
            "Narrative answer",
            7,
            "narrative",
            input="",
            skipped=True,
            error="skipped: stage 6 failed",
        ),  # fmt: skip
    )
    values = dict(
        question=question,
        as_of=date(2026, 3, 31),
        started=datetime(2026, 3, 31, 9, 0, 0, 123456, tzinfo=UTC),
        finished=datetime(2026, 3, 31, 9, 0, 4, tzinfo=UTC),
        prompt_set_hash="cd" * 32,
        endpoint="http://127.0.0.1:8000/v1",
        stages=stages,
        status="failed",
        sql=SQLTrace("SELECT COUNT(*) AS n FROM results", "SELECT COUNT(*) AS n FROM results"),
        result=ResultTrace(("n",), ((12,), (None,), ("2026-01-01",)), 3, False, 4.5),
        narrative=None,
    )
    values.update(changes)
    return Trace(**values)


def test_json_round_trip_is_exact() -> None:
    trace = make_trace()
    text = trace_to_json(trace)
    again = trace_from_json(text)
    assert again == trace
    assert trace_to_json(again) == text
    assert again.stages[1].gate.fired == ("many filters: 5 > 4",)
    assert again.stages[1].messages[0] == Message("system", "Write SQL. ü")


def test_json_is_plain_and_readable() -> None:
    data = json.loads(trace_to_json(make_trace()))
    assert data["as_of"] == "2026-03-31"
    assert data["stages"][1]["parameters"]["seed"] == 7
    assert data["stages"][0]["date_spans"][0]["resolved_by"] == "python"
    assert data["result"]["rows"] == [[12], [None], ["2026-01-01"]]


def test_a_stage_field_from_a_newer_workbench_is_left_out_not_an_error() -> None:
    trace = make_trace()
    data = json.loads(trace_to_json(trace))
    data["stages"][1]["a_field_from_later"] = {"anything": 1}
    assert trace_from_json(json.dumps(data)) == trace


def test_failed_stage_and_elapsed() -> None:
    trace = make_trace()
    assert trace.failed_stage is None  # the skipped stage does not count as the failure
    failing = make_trace(
        stages=(StageTrace("sql", "SQL", 6, "sql", input="x", error="does not parse"),)
    )
    assert failing.failed_stage.stage_id == "sql"
    assert trace.elapsed_s == pytest.approx(3.876544)


def test_garbage_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a workbench trace"):
        trace_from_json('{"question": "x"}')


def test_jsonable_values() -> None:
    from datetime import timedelta
    from decimal import Decimal

    assert jsonable(Decimal("2.50")) == 2.5
    assert jsonable(date(2026, 1, 2)) == "2026-01-02"
    assert jsonable(timedelta(hours=26)) == "1 day, 2:00:00"
    assert jsonable(None) is None


def test_store_saves_loads_and_lists_newest_first(settings: Settings) -> None:
    engine = open_store(settings)
    older = make_trace("older", started=datetime(2026, 3, 30, 8, 0, tzinfo=UTC))
    newer = make_trace("newer", started=datetime(2026, 3, 31, 8, 0, tzinfo=UTC))
    save_trace(engine, older)
    save_trace(engine, newer)
    assert load_trace(engine, older.id) == older
    assert [s.question for s in recent_traces(engine, limit=5)] == ["newer", "older"]
    assert [s.question for s in recent_traces(engine, limit=1)] == ["newer"]
    summary = recent_traces(engine)[0]
    assert (summary.id, summary.status, summary.as_of) == (newer.id, "failed", date(2026, 3, 31))


def test_loading_an_unknown_id_says_so(settings: Settings) -> None:
    with pytest.raises(StoreError, match="no stored trace with id 'nope'"):
        load_trace(open_store(settings), "nope")


def test_summaries_of_chosen_runs_keep_the_asked_order_and_skip_unknown_ids(
    settings: Settings,
) -> None:
    engine = open_store(settings)
    first, second = make_trace("first"), make_trace("second")
    save_trace(engine, first)
    save_trace(engine, second)
    found = trace_summaries(engine, [second.id, "nope", first.id, second.id])
    assert [s.question for s in found] == ["second", "first"]
    assert trace_summaries(engine, []) == []
