"""Passing cases as ChatML JSONL: one example per stage call, fixed cases chosen."""

from __future__ import annotations

import json

from tests.environment import environment
from tests.smoke_script import CASES, QUERY, SQL, PipelineScript, asked
from workbench.pipeline.trace import load_trace
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.smoke.training import export_training, fixed_since
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES


def test_fixed_cases_export_each_stage_call_as_system_user_assistant(
    settings, demo_database, tmp_path
):
    store = open_store(settings)
    options = SmokeOptions(repeats=1)
    broken = PipelineScript()
    broken.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql)
    baseline = run_suite(environment(settings, broken.llm(), store=store, database=demo_database), options, cases=CASES)  # fmt: skip
    now = run_suite(environment(settings, PipelineScript().llm(), store=store, database=demo_database), options, cases=CASES)  # fmt: skip
    assert fixed_since(baseline, now) == ("simple-003",)

    out = tmp_path / "train.jsonl"
    report = export_training(store, now, out, case_ids=fixed_since(baseline, now))
    examples = [json.loads(line) for line in out.read_text().splitlines()]
    trace = load_trace(store, now.result("simple-003").trace_ids[0])
    called = [s for s in trace.stages if s.called_model]
    assert report.cases == 1 and report.examples == len(examples) == len(called)
    assert any(len(e["messages"]) > 3 for e in examples)  # a stage with worked examples
    for example, stage in zip(examples, called, strict=True):
        *sent, answer = example["messages"]
        # as sent: the system prompt, any worked examples as turns, the input last
        assert sent == [{"role": m.role, "content": m.content} for m in stage.messages]
        assert sent[0]["role"] == "system" and sent[-1]["role"] == "user"
        assert answer["role"] == "assistant"
    sql = next(e for e, s in zip(examples, called, strict=True) if s.stage_id == SQL)
    sql_stage = next(s for s in called if s.stage_id == SQL)
    answer = sql["messages"][-1]["content"]
    if sql_stage.parameters.prefill:  # the shape the stage is called in: prefill .. stop
        assert answer == "```sql\n" + sql_stage.output.strip("\n") + "\n```"
    else:
        assert answer == sql_stage.output
    assert "FROM labs WHERE region = 'West'" in answer


def test_cases_that_did_not_pass_are_left_out_and_named(settings, demo_database, tmp_path):
    store = open_store(settings)
    script = PipelineScript()
    script.plant(SQL, SIMPLE_002.question, SIMPLE_003.gold_sql)
    record = run_suite(environment(settings, script.llm(), store=store, database=demo_database), SmokeOptions(repeats=1), cases=CASES[:2])  # fmt: skip
    report = export_training(store, record, tmp_path / "t.jsonl", stages=(QUERY,))
    assert report.skipped == ("simple-002: fail",)
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert asked(json.loads(lines[0])) == SIMPLE_003.question
