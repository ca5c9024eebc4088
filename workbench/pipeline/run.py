"""The serial pipeline: a question through the stage prompts, to SQL, rows and an answer.

The pipeline is data. Each prompt file becomes a ``Stage``: its validated prompt plus
the callable for its ``kind`` (``workbench.pipeline.stages``), and ``run_pipeline`` walks
the ordered tuple. Adding, removing or reordering stages is a change of prompt files.

Failures belong to the run, not to the caller: a stage whose call fails, SQL that does
not parse, is refused or does not run, are recorded on that stage's trace and every
later stage is marked skipped. Only a question that cannot be run at all (empty, too
long) raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

from workbench.errors import QuestionError
from workbench.pipeline.cache import StageCache
from workbench.pipeline.environment import RunEnvironment
from workbench.pipeline.replay import Replay
from workbench.pipeline.stages import StageContext, base_trace, build_stages
from workbench.pipeline.trace import StageTrace, Trace, save_trace

MAX_QUESTION_CHARS = 4_000

StageCallback = Callable[[StageTrace], None]


def check_question(question: str) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    stripped = question.strip()
    if not stripped:
        raise QuestionError("the question is empty: type what you want to know")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QuestionError(
            f"the question is not valid text: character {exc.start + 1} is not Unicode "
            "(bytes that were not UTF-8, or half of a surrogate pair); retype it, or pass it "
            "as UTF-8"
        ) from exc
    if len(stripped) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(stripped):,} characters long; the pipeline accepts at most "
            f"{MAX_QUESTION_CHARS:,}: shorten it"
        )
    return stripped


def run_pipeline(
    question: str,
    env: RunEnvironment,
    *,
    as_of: date,
    use_cache: bool = True,
    on_stage: StageCallback | None = None,
    cancel: threading.Event | None = None,
    replay: Replay | None = None,
) -> Trace:
    """Run a question through every stage of ``env``'s prompt set and return the trace.

    Args:
        as_of: the pinned reference date for relative dates (never the wall clock).
        use_cache: read the stage cache; False still writes fresh answers to it (there is
            no cache, and nothing is saved, without a store in ``env``).
        on_stage: called with each stage's trace as soon as it is known.
        cancel: when set, the stages not yet started are skipped as cancelled.
        replay: an earlier run's answers, reused for requests identical to its own
            (never written to the cache again), and stages to leave out.

    Raises:
        QuestionError: the question is empty or too long. Everything else is recorded.
        ConfigError: the target database is needed and cannot be opened (or built).
    """
    question = check_question(question)
    if env.needs_database:
        env = env.with_database()
    cache = StageCache(env.store, read=use_cache) if env.store is not None else None
    ctx = StageContext(question, as_of, env, cache, replay=replay)
    left_out = replay.skip if replay is not None else frozenset()
    started = _now()
    traces: list[StageTrace] = []
    sql = result = narrative = None
    text = question
    blocked: str | None = None
    status = "ok"
    for stage in build_stages(env.prompts.stages):
        if blocked is None and cancel is not None and cancel.is_set():
            blocked, status = "cancelled before this stage started", "cancelled"
        if blocked is not None:
            trace = replace(base_trace(stage.prompt, ""), skipped=True, error=blocked)
        elif stage.prompt.id in left_out and replay is not None:
            trace = replace(base_trace(stage.prompt, ""), skipped=True, error=replay.skip_reason)
        else:
            outcome = stage.run(stage.prompt, text, ctx)
            trace = outcome.trace
            sql = outcome.sql or sql
            result = outcome.result or result
            narrative = outcome.narrative or narrative
            if trace.error is not None:
                blocked = f"skipped: stage {trace.order} ({trace.title}) failed"
                status = "failed"
            else:
                text = trace.output or ""
                ctx = replace(ctx, result=result, outputs={**ctx.outputs, stage.prompt.id: text})
                if outcome.fresh is not None and cache is not None:
                    cache.put(outcome.fresh[0], trace.stage_id, outcome.fresh[1])
        traces.append(trace)
        if on_stage is not None:
            on_stage(trace)
    trace = Trace(
        question=question,
        as_of=as_of,
        started=started,
        finished=_now(),
        prompt_set_hash=env.prompts.hash,
        endpoint=env.llm.endpoint,
        stages=tuple(traces),
        status=status,  # type: ignore[arg-type]
        sql=sql,
        result=result,
        narrative=narrative,
    )
    if env.store is not None:
        save_trace(env.store, trace)
    return trace


def _now() -> datetime:
    return datetime.now(UTC)


def stage_latencies(trace: Trace) -> dict[str, float]:
    """Seconds per stage id (0 for cached or skipped stages)."""
    return {s.stage_id: s.latency_s for s in trace.stages}
