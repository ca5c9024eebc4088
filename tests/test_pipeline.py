"""The pipeline engine, driven by scripted model answers: the exact requests, each gate
path, each failure, cancellation and the stage cache."""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest

from tests.scripted_llm import ScriptedLLM
from workbench.errors import LLMTimeout, LLMUnavailable, QuestionError
from workbench.llm import ChatRequest, Completion, Message
from workbench.pipeline import (
    MAX_QUESTION_CHARS,
    clean_rewrite,
    repeated_phrase,
    run_pipeline,
)
from workbench.prompts import load_prompts, split_front_matter
from workbench.settings import PROJECT_ROOT, Settings
from workbench.store import open_store
from workbench.trace import StageTrace

AS_OF = date(2026, 3, 31)
SHIPPED = PROJECT_ROOT / "prompts"
LINGUISTIC = ("02_noise.md", "03_query.md", "04_reference.md", "05_cleanup.md")

# The worked example after date normalization, and what each later stage makes of it.
DATED = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back from 2026-01-01 through 2026-03-31 across all departments, sorted "
    "highest to lowest, and only show physicians involved with 3 or more COVID 19 related "
    "abnormal results, and ignore the normal results. Thank you."
)
NOISELESS = (
    "breakdown by physician of how many abnormal CBC results came back from 2026-01-01 through "
    "2026-03-31 across all departments, sorted highest to lowest, and only show physicians "
    "involved with 3 or more COVID 19 related abnormal results, and ignore the normal results"
)
NORMALIZED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31 across all "
    "departments, sorted highest to lowest, only physicians involved with 3 or more COVID 19 "
    "related abnormal results, and ignore the normal results"
)
REFERENCED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31 across all "
    "departments, sorted highest to lowest, having COVID-19 abnormal results count >= 3, and "
    "ignore the normal results"
)
CLEANED = (
    "Show count abnormal CBC results by physician from 2026-01-01 through 2026-03-31, sorted "
    "highest to lowest, having COVID-19 abnormal results count >= 3"
)


def prompts_dir(tmp_path: Path, *names: str) -> Path:
    """A prompts directory holding some of the shipped stage files and the gates."""
    directory = tmp_path / "prompts"
    directory.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SHIPPED / name, directory / name)
    shutil.copy(SHIPPED / "gates.yaml", directory / "gates.yaml")
    return directory


@pytest.fixture
def linguistic(tmp_path: Path, data_dir: Path) -> Settings:
    """Settings whose pipeline is the four linguistic stages, with distinct model names."""
    return Settings(
        data_dir=data_dir,
        prompts_dir=prompts_dir(tmp_path, *LINGUISTIC),
        model_main="m-main",
        model_think="m-think",
        model_sql_think="m-sql",
        seed=7,
    )


def system_text(name: str) -> str:
    text = (SHIPPED / name).read_text(encoding="utf-8")
    return split_front_matter(text).body.strip()


def test_the_exact_requests_of_the_no_think_path(linguistic: Settings) -> None:
    llm = ScriptedLLM("show CBC results", "Show CBC results", "Show CBC results", "Show CBC")
    trace = run_pipeline("hi, CBC results please", as_of=AS_OF, llm=llm, settings=linguistic)
    assert trace.status == "ok"
    assert llm.requests[0] == ChatRequest(
        model="m-main",
        messages=(
            Message("system", system_text("02_noise.md")),
            Message("user", "hi, CBC results please"),
        ),
        max_tokens=256,
        stop=(),
        thinking=False,
        prefill=None,
        seed=7,
        temperature=0.0,
        logprobs=True,
        max_thinking_tokens=None,
    )
    # Each stage reads the previous stage's output.
    assert [r.messages[1].content for r in llm.requests] == [
        "hi, CBC results please",
        "show CBC results",
        "Show CBC results",
        "Show CBC results",
    ]
    cleanup = trace.stages[3]
    assert cleanup.gate is not None
    assert (cleanup.gate.gate, cleanup.gate.thinking, cleanup.gate.fired) == ("gate1", False, ())
    assert (cleanup.parameters.thinking, cleanup.model) == (False, "m-main")
    assert trace.stages[-1].output == "Show CBC"


def test_gate1_switches_the_cleanup_stage_to_the_thinking_model(linguistic: Settings) -> None:
    llm = ScriptedLLM(
        NOISELESS,
        NORMALIZED,
        REFERENCED,
        Completion(
            text=CLEANED,
            model="m-think",
            finish_reason="stop",
            reasoning="Drop 'across all departments'. Drop the tautology.",
            min_margin=0.02,
            min_margin_index=14,
        ),
    )
    trace = run_pipeline(DATED, as_of=AS_OF, llm=llm, settings=linguistic)
    request = llm.requests[3]
    assert request.messages[1].content == REFERENCED
    assert (request.model, request.thinking) == ("m-think", True)
    assert request.max_thinking_tokens == 1024
    assert request.max_tokens == 256 + 1024  # the answer keeps its room after the thinking
    assert (request.prefill, request.stop, request.temperature, request.seed) == (None, (), 0, 7)
    cleanup = trace.stages[3]
    assert cleanup.gate.thinking
    assert cleanup.gate.role == "think"
    assert cleanup.gate.fired[0].startswith("many filters:")
    assert any(f.startswith("known-problematic wording:") for f in cleanup.gate.fired) is False
    assert cleanup.reasoning == "Drop 'across all departments'. Drop the tautology."
    assert (cleanup.min_margin, cleanup.min_margin_index) == (0.02, 14)
    assert cleanup.output == CLEANED
    assert [s.gate is None for s in trace.stages] == [True, True, True, False]


def test_gate1_fires_on_problematic_wording_alone(linguistic: Settings) -> None:
    llm = ScriptedLLM("a", "b", "Show results by physicians involved with COVID-19", "done")
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic)
    assert llm.requests[3].thinking
    assert trace.stages[3].gate.fired == ("known-problematic wording: 'involved with'",)


def test_a_failing_call_is_recorded_and_later_stages_are_skipped(linguistic: Settings) -> None:
    seen: list[StageTrace] = []
    llm = ScriptedLLM(
        "clean", LLMUnavailable("no model server at http://x — start one"), "never sent"
    )
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, on_stage=seen.append)
    assert trace.status == "failed"
    assert len(llm.requests) == 2
    failed = trace.stages[1]
    assert (failed.error_kind, failed.error) == (
        "LLMUnavailable",
        "no model server at http://x — start one",
    )
    assert failed.messages[1].content == "clean"  # what was sent is kept
    assert trace.failed_stage is failed
    assert [s.skipped for s in trace.stages] == [False, False, True, True]
    assert trace.stages[2].error == "skipped: stage 3 (Query normalizer) failed"
    assert seen == list(trace.stages)


def test_an_empty_answer_is_a_stage_error(linguistic: Settings) -> None:
    trace = run_pipeline("q", as_of=AS_OF, llm=ScriptedLLM("  \n "), settings=linguistic)
    assert trace.stages[0].error_kind == "EmptyOutput"
    assert trace.status == "failed"


def test_a_runaway_thinking_is_recorded_as_such(linguistic: Settings) -> None:
    runaway = Completion(
        text="", model="m-think", finish_reason="length", reasoning="hmm " * 50, runaway=True
    )
    llm = ScriptedLLM("a", "b", "Show results by physicians involved with X", runaway)
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic)
    cleanup = trace.stages[3]
    assert cleanup.runaway == "the thinking hit the token cap"
    assert cleanup.error_kind == "EmptyOutput"
    assert "token cap" in cleanup.error


def test_looping_thinking_is_flagged_even_when_an_answer_comes(linguistic: Settings) -> None:
    loop = "so the count is abnormal results by physician and then " * 4
    llm = ScriptedLLM(
        "a", "b", "Show x involved with y",
        Completion(text="Show x", model="m-think", finish_reason="stop", reasoning=loop),
    )  # fmt: skip
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic)
    assert trace.stages[3].runaway.startswith("the thinking loops: 'so the count is")
    assert trace.stages[3].error is None
    assert trace.stages[3].output == "Show x"


def test_repeated_phrase() -> None:
    assert repeated_phrase("a b c d e f g h " * 3) == "a b c d e f g h"
    assert repeated_phrase("a b c d e f g h " * 2) is None
    assert repeated_phrase("one two three", n=2, repeats=2) is None


@pytest.mark.parametrize(
    ("answer", "clean"),
    [
        ("Show CBC results", "Show CBC results"),
        ("  Output: Show CBC results\n\nI removed the greeting.", "Show CBC results"),
        ('"Show CBC results"', "Show CBC results"),
        ("\u201cShow CBC results\u201d", "Show CBC results"),
        ("\n\nAnswer:   \u201cShow x\u201d  ", "Show x"),
        ('Show "CBC" results', 'Show "CBC" results'),
    ],
)
def test_clean_rewrite(answer: str, clean: str) -> None:
    assert clean_rewrite(answer) == clean


def test_cancel_skips_the_stages_not_yet_started(linguistic: Settings) -> None:
    cancel = threading.Event()

    def after(stage: StageTrace) -> None:
        if stage.order == 3:
            cancel.set()

    llm = ScriptedLLM("a", "b", "c", "d")
    trace = run_pipeline(
        "q", as_of=AS_OF, llm=llm, settings=linguistic, cancel=cancel, on_stage=after
    )
    assert trace.status == "cancelled"
    assert len(llm.requests) == 2
    assert [s.skipped for s in trace.stages] == [False, False, True, True]
    assert trace.stages[2].error == "cancelled before this stage started"


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_an_empty_question_is_refused(linguistic: Settings, question: str) -> None:
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="empty"):
        run_pipeline(question, as_of=AS_OF, llm=llm, settings=linguistic)
    assert llm.requests == []


def test_a_huge_question_is_refused(linguistic: Settings) -> None:
    llm = ScriptedLLM()
    with pytest.raises(QuestionError, match="at most 4,000"):
        run_pipeline("x" * (MAX_QUESTION_CHARS + 1), as_of=AS_OF, llm=llm, settings=linguistic)
    run_pipeline("x" * MAX_QUESTION_CHARS, as_of=AS_OF, llm=llm.reply("a", "b", "c", "d"),
                 settings=linguistic)  # fmt: skip


def test_stages_are_files_removing_one_removes_the_stage(tmp_path: Path, data_dir: Path) -> None:
    directory = prompts_dir(tmp_path, "02_noise.md", "04_reference.md")
    settings = Settings(data_dir=data_dir, prompts_dir=directory)
    trace = run_pipeline("q", as_of=AS_OF, llm=ScriptedLLM("a", "b"), settings=settings)
    assert [(s.order, s.stage_id) for s in trace.stages] == [(2, "noise"), (4, "reference")]


def test_the_trace_is_saved_in_the_store(linguistic: Settings) -> None:
    from workbench.trace import load_trace

    engine = open_store(linguistic)
    trace = run_pipeline(
        "q", as_of=AS_OF, llm=ScriptedLLM("a", "b", "c", "d"), settings=linguistic, store=engine
    )
    assert load_trace(engine, trace.id) == trace


# -- the stage cache --------------------------------------------------------------------


def edit(settings: Settings, name: str, old: str, new: str) -> None:
    path = settings.prompts_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def echo_with(tag: str):
    """A responder whose answer depends on the stage's input and on its prompt."""

    def answer(request: ChatRequest) -> str:
        prompt = hashlib.sha256(request.messages[0].content.encode()).hexdigest()[:6]
        return f"{request.messages[1].content} {tag}{prompt}"

    return answer


def test_a_rerun_is_answered_from_the_cache(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM()
    llm.responder = echo_with("+")
    first = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert len(llm.requests) == 4
    second = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert len(llm.requests) == 4
    assert [s.cached for s in second.stages] == [True] * 4
    assert [s.output for s in second.stages] == [s.output for s in first.stages]
    assert [s.latency_s for s in second.stages] == [0.0] * 4


def test_editing_stage_k_recomputes_only_k_and_later(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM()
    llm.responder = echo_with("+")
    run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    edit(linguistic, "04_reference.md", "- multiple, several -> 2 or more", "- a few -> 3 or more")
    llm.requests.clear()
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert [s.cached for s in trace.stages] == [True, True, False, False]
    assert [r.messages[0].content for r in llm.requests][0] == system_text_of(linguistic, 4)


def system_text_of(settings: Settings, order: int) -> str:
    prompt = next(p for p in load_prompts(settings.prompts_dir) if p.order == order)
    return prompt.body.strip()


def test_the_next_stage_stays_cached_when_the_edited_stage_says_the_same(
    linguistic: Settings,
) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", "b", "c", "d")
    run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    edit(linguistic, "03_query.md", "Start with the verb", "Begin with the verb")
    llm.reply("b")  # the edited stage answers as before
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert [s.cached for s in trace.stages] == [True, False, True, True]
    assert len(llm.requests) == 5


def test_errors_are_never_cached(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", LLMTimeout("took too long"))
    failed = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert failed.stages[1].error_kind == "LLMTimeout"
    llm.reply("b", "c", "d")
    trace = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert trace.status == "ok"
    assert [s.cached for s in trace.stages] == [True, False, False, False]


def test_no_cache_bypasses_reads_but_refreshes_the_cache(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    llm = ScriptedLLM("a", "b", "c", "d")
    run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    llm.reply("a", "b2", "c2", "d2")
    fresh = run_pipeline(
        "q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine, use_cache=False
    )
    assert [s.cached for s in fresh.stages] == [False] * 4
    assert len(llm.requests) == 8
    again = run_pipeline("q", as_of=AS_OF, llm=llm, settings=linguistic, store=engine)
    assert [s.output for s in again.stages] == ["a", "b2", "c2", "d2"]
    assert len(llm.requests) == 8


def test_another_endpoint_does_not_share_answers(linguistic: Settings) -> None:
    engine = open_store(linguistic)
    run_pipeline(
        "q", as_of=AS_OF, llm=ScriptedLLM("a", "b", "c", "d"), settings=linguistic, store=engine
    )
    other = ScriptedLLM("a", "b", "c", "d", endpoint="http://other/v1")
    trace = run_pipeline("q", as_of=AS_OF, llm=other, settings=linguistic, store=engine)
    assert len(other.requests) == 4
    assert not any(s.cached for s in trace.stages)
