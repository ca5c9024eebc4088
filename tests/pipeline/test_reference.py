"""The paper's worked example as a stored trace."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from workbench.errors import StoreError
from workbench.pipeline.reference import (
    REFERENCE_TRACE_ID,
    is_reference,
    load_reference_trace,
    open_trace,
)
from workbench.pipeline.trace import save_trace, trace_to_json
from workbench.settings import PROJECT_ROOT, Settings
from workbench.store import open_store

# Read off the paper's figure independently of the reference file (see its README).
PAPER = PROJECT_ROOT / "tests" / "fixtures" / "diffing" / "paper"


def paper_text(name: str) -> str:
    return (PAPER / name).read_text(encoding="utf-8").strip()


def test_the_stages_chain_the_paper_texts_from_question_to_sql() -> None:
    trace = load_reference_trace()
    assert trace.question == paper_text("stage0.txt")
    assert [s.order for s in trace.stages] == [1, 2, 3, 4, 5, 6, 7]
    for n, stage in enumerate(trace.stages[:6], start=1):
        assert stage.input == paper_text(f"stage{n - 1}.txt"), stage.stage_id
        assert stage.output == paper_text(f"stage{n}.txt"), stage.stage_id
    assert trace.sql is not None and trace.sql.original == paper_text("stage6.txt")
    assert trace.narrative == paper_text("narrative.txt") == trace.stages[6].output


def test_the_result_is_the_papers_five_rows_and_the_answer_names_each() -> None:
    trace = load_reference_trace()
    assert trace.result is not None
    assert trace.result.columns == ("physician_name", "abnormal_cbc_count")
    assert trace.result.row_count == len(trace.result.rows) == 5
    assert [count for _, count in trace.result.rows] == [12, 8, 6, 4, 3]
    for name, count in trace.result.rows:
        assert f"{name} — {count} abnormal results" in trace.narrative


def test_only_the_sql_stage_thinks_as_in_the_paper() -> None:
    trace = load_reference_trace()
    thinking = [s.stage_id for s in trace.stages if s.gate is not None and s.gate.thinking]
    assert thinking == ["sql"]
    assert trace.stages[5].gate.fired[0].startswith("many filters")
    assert trace.as_of == date(2026, 3, 31)


def test_it_is_labelled_and_carries_no_measurements() -> None:
    trace = load_reference_trace()
    assert is_reference(trace)
    assert all(s.latency_s == 0 and s.min_margin is None for s in trace.stages)


def test_a_live_trace_is_not_the_reference() -> None:
    assert not is_reference(replace(load_reference_trace(), id="abc"))


def test_a_missing_or_broken_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(StoreError, match="nope.json"):
        load_reference_trace(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"question": "q"}')
    with pytest.raises(StoreError, match="broken.json.*not a workbench trace"):
        load_reference_trace(broken)


def test_open_trace_finds_stored_runs_and_the_reference(settings: Settings) -> None:
    engine = open_store(settings)
    stored = replace(load_reference_trace(), id="run-1", question="another question")
    save_trace(engine, stored)
    assert open_trace(engine, "run-1").question == "another question"
    assert open_trace(engine, REFERENCE_TRACE_ID).question == paper_text("stage0.txt")
    with pytest.raises(StoreError, match="no stored trace"):
        open_trace(engine, "missing")


def test_the_file_is_in_the_trace_format_it_round_trips() -> None:
    trace = load_reference_trace()
    path = PROJECT_ROOT / "fixtures" / "reference" / "worked_example.json"
    assert trace_to_json(trace) + "\n" == path.read_text(encoding="utf-8")
