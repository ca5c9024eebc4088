"""A replay: an earlier run's answers reused for identical requests, stages left out."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from workbench.pipeline.cache import StageCache
from workbench.pipeline.replay import Replay
from workbench.pipeline.run import run_pipeline
from workbench.pipeline.trace import Trace, load_trace
from workbench.settings import PROJECT_ROOT, Settings
from workbench.store import open_store

AS_OF = date(2026, 3, 31)
STAGES = ("02_noise.md", "03_query.md", "04_reference.md", "05_cleanup.md")


@pytest.fixture
def linguistic(tmp_path: Path, data_dir: Path) -> Settings:
    directory = tmp_path / "prompts"
    directory.mkdir()
    for name in (*STAGES, "gates.yaml"):
        shutil.copy(PROJECT_ROOT / "prompts" / name, directory / name)
    return Settings(data_dir=data_dir, prompts_dir=directory)


def answers_of(trace: Trace, engine) -> dict:
    cache = StageCache(engine)
    return {s.request_key: cache.entry(s.request_key) for s in trace.stages if s.request_key}


def test_identical_requests_are_answered_from_the_replay_and_marked(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    first = run_pipeline(
        "q", environment(linguistic, ScriptedLLM("a", "b", "c", "d"), store=engine), as_of=AS_OF
    )
    replay = Replay(answers_of(first, engine), origin="smoke run R1")
    path = linguistic.prompts_dir / "04_reference.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n- Keep units.\n", encoding="utf-8")
    StageCache(engine).clear()  # only the replay may answer

    llm = ScriptedLLM("c2", "d2")
    trace = run_pipeline(
        "q", environment(linguistic, llm, store=engine), as_of=AS_OF, use_cache=False,
        replay=replay,
    )  # fmt: skip

    assert [s.output for s in trace.stages] == ["a", "b", "c2", "d2"]
    assert [s.reused_from for s in trace.stages] == ["smoke run R1", "smoke run R1", None, None]
    assert [s.cached for s in trace.stages] == [False] * 4
    assert [s.latency_s for s in trace.stages[:2]] == [0.0, 0.0]
    assert [r.messages[-1].content for r in llm.requests] == ["b", "c2"]
    # reused answers are not written again; the two fresh ones are
    assert len(StageCache(engine)) == 2
    assert load_trace(engine, trace.id).stages[0].reused_from == "smoke run R1"
    assert trace.stages[0].request_key == first.stages[0].request_key
    assert trace.stages[0].answer_digest == first.stages[0].answer_digest


def test_a_stage_whose_input_changed_is_called_even_when_its_prompt_did_not(
    linguistic: Settings,
) -> None:
    engine = open_store(linguistic)
    first = run_pipeline(
        "q", environment(linguistic, ScriptedLLM("a", "b", "c", "d"), store=engine), as_of=AS_OF
    )
    replay = Replay(answers_of(first, engine), origin="smoke run R1")
    path = linguistic.prompts_dir / "03_query.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n- Keep units.\n", encoding="utf-8")

    same = ScriptedLLM("b")  # the edited stage answers as before: the rest is the same request
    trace = run_pipeline("q", environment(linguistic, same), as_of=AS_OF, replay=replay)
    assert [s.reused_from is not None for s in trace.stages] == [True, False, True, True]

    other = ScriptedLLM("b2", "c2", "d2")  # it answers otherwise: every later input differs
    trace = run_pipeline("q", environment(linguistic, other), as_of=AS_OF, replay=replay)
    assert [s.reused_from is not None for s in trace.stages] == [True, False, False, False]
    assert [s.output for s in trace.stages] == ["a", "b2", "c2", "d2"]


def test_a_stage_left_out_is_skipped_without_failing_the_run(linguistic: Settings) -> None:
    llm = ScriptedLLM("a", "b", "c")
    replay = Replay(skip=frozenset({"misc_cleanup"}), skip_reason="a quick check leaves this out")
    trace = run_pipeline("q", environment(linguistic, llm), as_of=AS_OF, replay=replay)
    assert trace.status == "ok" and trace.failed_stage is None
    last = trace.stages[-1]
    assert (last.stage_id, last.skipped, last.error) == (
        "misc_cleanup", True, "a quick check leaves this out",
    )  # fmt: skip
    assert len(llm.requests) == 3
