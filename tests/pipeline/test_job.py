"""Background runs: progress as stages finish, cancelling, and failures of the whole run."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest

from tests.pipeline.test_run import LINGUISTIC, prompts_dir
from tests.scripted_llm import ScriptedLLM
from workbench.errors import PromptError, QuestionError
from workbench.llm.protocol import ChatRequest
from workbench.pipeline.job import start_run_job
from workbench.pipeline.trace import load_trace, recent_traces
from workbench.settings import Settings
from workbench.store import open_store

AS_OF = date(2026, 3, 31)


@pytest.fixture
def linguistic(tmp_path: Path, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, prompts_dir=prompts_dir(tmp_path, *LINGUISTIC))


class Gate:
    """A scripted LLM whose n-th call waits until the test lets it go."""

    def __init__(self, hold_call: int):
        self.hold_call = hold_call
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, request: ChatRequest) -> str:
        self.calls += 1
        if self.calls == self.hold_call:
            self.reached.set()
            assert self.release.wait(10), "the test never released the call"
        return f"answer {self.calls}"


def held_llm(hold_call: int) -> tuple[ScriptedLLM, Gate]:
    llm, gate = ScriptedLLM(), Gate(hold_call)
    llm.responder = gate
    return llm, gate


def test_a_snapshot_shows_the_finished_stages_and_the_one_running(linguistic: Settings) -> None:
    llm, gate = held_llm(hold_call=3)
    job = start_run_job("count results", as_of=AS_OF, settings=linguistic, llm=llm)
    assert gate.reached.wait(10)
    snapshot = job.snapshot()
    assert snapshot.running and snapshot.state == "running"
    assert [s.output for s in snapshot.stages] == ["answer 1", "answer 2"]
    assert [p.stage_id for p in snapshot.planned] == [
        "noise_removal",
        "query_normalizer",
        "reference_normalizer",
        "misc_cleanup",
    ]
    assert snapshot.current is not None and snapshot.current.stage_id == "reference_normalizer"
    assert snapshot.trace is None
    gate.release.set()
    final = job.wait(10)
    assert not final.running and final.current is None
    assert final.trace is not None and final.trace.status == "ok"
    assert final.stages == final.trace.stages
    assert final.trace.stages[-1].output == "answer 4"


def test_cancel_keeps_the_finished_stages_and_stores_the_partial_trace(
    linguistic: Settings,
) -> None:
    engine = open_store(linguistic)
    llm, gate = held_llm(hold_call=2)
    job = start_run_job("count results", as_of=AS_OF, settings=linguistic, llm=llm, store=engine)
    assert gate.reached.wait(10)
    job.cancel()
    assert job.snapshot().state == "cancelling"
    gate.release.set()  # the stage in flight finishes
    final = job.wait(10)
    assert final.error is None and final.trace is not None
    assert final.trace.status == "cancelled"
    assert [s.output for s in final.trace.stages[:2]] == ["answer 1", "answer 2"]
    assert [s.skipped for s in final.trace.stages] == [False, False, True, True]
    assert gate.calls == 2
    stored = load_trace(engine, final.trace.id)
    assert stored.status == "cancelled" and stored.stages[1].output == "answer 2"
    assert [s.id for s in recent_traces(engine)] == [final.trace.id]


def test_a_bad_question_is_refused_before_any_thread_starts(linguistic: Settings) -> None:
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="empty"):
        start_run_job("   ", as_of=AS_OF, settings=linguistic, llm=llm)
    assert llm.requests == []


def test_a_broken_prompt_file_is_refused_with_its_name(linguistic: Settings) -> None:
    (linguistic.prompts_dir / "09_broken.md").write_text("---\nid: Broken!\n---\nbody\n")
    with pytest.raises(PromptError, match="09_broken.md"):
        start_run_job("count results", as_of=AS_OF, settings=linguistic, llm=ScriptedLLM())


def test_a_crash_inside_the_run_is_recorded_not_lost(linguistic: Settings) -> None:
    llm = ScriptedLLM()

    def explode(request: ChatRequest) -> str:
        raise RuntimeError("boom")

    llm.responder = explode
    final = start_run_job("count results", as_of=AS_OF, settings=linguistic, llm=llm).wait(10)
    assert not final.running
    assert final.trace is None
    assert final.error is not None and "RuntimeError: boom" in final.error


def test_a_failed_stage_is_a_finished_run_not_a_job_error(linguistic: Settings) -> None:
    from workbench.errors import LLMUnavailable

    llm = ScriptedLLM("clean", LLMUnavailable("connection refused"))
    final = start_run_job("count results", as_of=AS_OF, settings=linguistic, llm=llm).wait(10)
    assert final.error is None
    assert final.trace is not None and final.trace.status == "failed"
    assert final.trace.failed_stage.stage_id == "query_normalizer"
