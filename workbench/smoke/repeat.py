"""One smoke case: its repeats through the pipeline, each judged, then the case's verdict.

Each repeat goes through a ``RecordingLLM`` that keeps the completions, because the
trace keeps each stage's text but not its tokens and margins, and those are what
locate a divergence to the token. The gold query runs once per case, run and database: a
repeat that agrees with it on the run's database is also judged on the variant databases
(``workbench.sql.variants``), so an answer right by coincidence fails.

A database that goes away is not the case's fault: the case is recorded as an error
marked ``resumable`` (the runner then stops, and a resumed run runs it again), and a
failed gold query is never remembered when the database could not be reached.

Every repeat of a case goes to the same server of a pool (``pin``). A quick check runs
its one repeat with the baseline's answers (``workbench.smoke.baseline``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from workbench.cases.suite import SmokeCase
from workbench.errors import DatabaseUnavailable, LLMUnavailable, WorkbenchError
from workbench.llm import LLM, ChatRequest, Completion, pin
from workbench.pipeline import Replay, RunEnvironment, StageTrace, Trace, run_pipeline
from workbench.smoke.baseline import CaseReplay, case_replay
from workbench.smoke.results import CaseResult, RepeatOutcome, RunRecord, StageOutcome
from workbench.smoke.verdicts import case_verdict, check_expectations
from workbench.sql import (
    Database,
    GoldCache,
    GoldResult,
    Variant,
    Verdict,
    judge_on_variants,
    judge_result,
    variants_for,
)


class RecordingLLM:
    """Passes calls through and keeps each completion, to recover its tokens and margins."""

    def __init__(self, llm: LLM):
        self.llm = llm
        self.calls: list[tuple[ChatRequest, Completion]] = []

    @property
    def endpoint(self) -> str:
        return self.llm.endpoint

    def complete(self, request: ChatRequest) -> Completion:
        completion = self.llm.complete(request)
        self.calls.append((request, completion))
        return completion

    def close(self) -> None:
        """Nothing to release: the wrapped LLM belongs to the run and outlives a repeat."""

    def completion_for(self, stage: StageTrace, replay: Replay | None = None) -> Completion | None:
        """The completion of the call whose messages this stage sent (or that it reused)."""
        if stage.reused_from is not None and replay is not None and stage.request_key:
            return replay.answer(stage.request_key)
        return next((c for r, c in reversed(self.calls) if r.messages == stage.messages), None)


def stage_outcome(stage: StageTrace, completion: Completion | None) -> StageOutcome:
    return StageOutcome(
        stage_id=stage.stage_id,
        order=stage.order,
        title=stage.title,
        output=stage.output,
        error=stage.error,
        error_kind=stage.error_kind,
        skipped=stage.skipped,
        tokens=completion.tokens if completion else (),
        margins=completion.margins if completion else (),
        min_margin=stage.min_margin,
        reused=stage.reused_from is not None,
        called_model=stage.called_model or stage.reused_from is not None,
    )


StageListener = Callable[[SmokeCase, StageTrace], None]


@dataclass
class SuiteContext:
    """What every case of a run shares: the environment (its database open), the cancel
    event, each case's gold result (run once per run and database), and the variant
    databases verdicts are also checked on (by default the demo database's own, when the
    run's database is the demo database; built on first use), the baseline of a quick
    check, and who hears of each stage as it finishes."""

    env: RunEnvironment
    cancel: threading.Event
    baseline: RunRecord | None = None
    on_stage: StageListener | None = None
    variants: tuple[Variant, ...] | None = None
    golds: GoldCache = field(default_factory=GoldCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Engine:
        assert self.env.store is not None, "a smoke run has a store"
        return self.env.store

    @property
    def database(self) -> Database:
        assert self.env.database is not None, "a smoke run opens its database before its cases"
        return self.env.database

    def judging_variants(self) -> tuple[Variant, ...]:
        with self._lock:
            if self.variants is None:
                self.variants = variants_for(self.env.settings, self.database)
            return self.variants

    def gold(self, case: SmokeCase) -> GoldResult:
        """The gold result of a case on the run's database; raises when the gold fails."""
        return self.golds.get(case.gold_sql, self.database)


def judge_repeat(
    case: SmokeCase,
    trace: Trace,
    recorder: RecordingLLM,
    ctx: SuiteContext,
    replay: Replay | None = None,
) -> RepeatOutcome:
    """One repeat on its own: error, or pass/fail by the comparator and the expectations."""
    stages = tuple(stage_outcome(s, recorder.completion_for(s, replay)) for s in trace.stages)
    base = RepeatOutcome(
        trace_id=trace.id,
        verdict="error",
        reason="",
        stages=stages,
        sql=trace.sql.original if trace.sql else None,
        elapsed_s=trace.elapsed_s,
    )
    failed = trace.failed_stage
    if failed is not None:
        return replace(base, reason=f"stage {failed.order} ({failed.title}) failed: {failed.error}")
    if trace.sql is None:
        return replace(base, verdict="fail", reason="the pipeline produced no SQL")
    try:
        gold = ctx.gold(case)
        predicted = ctx.database.run(trace.sql.original)
        verdict = judge_on_variants(
            case.gold_sql,
            trace.sql.original,
            judge_result(gold, predicted, ctx.database),
            ctx.judging_variants(),
            golds=ctx.golds,
        )
    except DatabaseUnavailable:
        raise
    except WorkbenchError as exc:
        return replace(base, reason=f"the SQL could not be judged: {exc}")
    if verdict.undetermined and case.empty_expected:
        # The empty answer is the case's point (an honest "nothing"); its wrong_sql, proved by
        # smoke check to return rows somewhere, is what makes the case discriminate.
        verdict = Verdict(True, "no rows on every database, as the case expects")
    elif verdict.undetermined:
        return replace(base, reason=verdict.reason)  # neither pass nor fail: not judged
    unmet = check_expectations(case, stages)
    passed = verdict.equivalent and not unmet
    reasons = ([] if verdict.equivalent else [verdict.reason]) + list(unmet)
    return replace(
        base,
        verdict="pass" if passed else "fail",
        reason="; ".join(reasons) or "equivalent to the gold",
        equivalent=verdict.equivalent,
        expectation_failures=unmet,
    )


def run_repeat(
    case: SmokeCase, ctx: SuiteContext, replay: Replay | None = None
) -> tuple[RepeatOutcome, Trace] | None:
    """One run of a case through the pipeline, on its pinned server (None when cancelled
    part way). The stage cache is not read; ``replay`` answers what it may.

    Raises:
        LLMUnavailable: the model server is gone; the run must stop, not score this case.
        DatabaseUnavailable: the database is gone (the SQL stage or the judging could not
            reach it).
    """
    recorder = RecordingLLM(pin(ctx.env.llm, case.id))
    listener = ctx.on_stage
    trace = run_pipeline(
        case.question,
        replace(ctx.env, llm=recorder),
        as_of=case.as_of,
        use_cache=False,
        cancel=ctx.cancel,
        on_stage=(lambda stage: listener(case, stage)) if listener is not None else None,
        replay=replay,
    )
    if trace.status == "cancelled":
        return None
    down = next((s for s in trace.stages if s.error_kind == "LLMUnavailable"), None)
    if down is not None:
        raise LLMUnavailable(down.error or "the model server is gone")
    lost = next((s for s in trace.stages if s.error_kind == "DatabaseUnavailable"), None)
    if lost is not None:
        raise DatabaseUnavailable(lost.error or "the database is gone")
    return judge_repeat(case, trace, recorder, ctx, replay), trace


def case_result(
    case: SmokeCase,
    repeats: list[RepeatOutcome],
    elapsed_s: float,
    notes: tuple[str, ...] = (),
) -> CaseResult:
    verdict, reason, divergence = case_verdict(repeats)
    return CaseResult(
        case_id=case.id,
        question=case.question,
        category=case.category,
        tags=case.tags,
        verdict=verdict,
        reason=reason,
        repeats=tuple(repeats),
        divergence=divergence,
        elapsed_s=elapsed_s,
        finished=datetime.now(UTC),
        notes=notes,
    )


def database_lost(case: SmokeCase, error: DatabaseUnavailable, elapsed_s: float) -> CaseResult:
    """The error result of a case the database went away under (run again on resume)."""
    reason = f"the database went away: {error}; resume the run once it is back"
    outcome = RepeatOutcome(trace_id="", verdict="error", reason=reason, stages=())
    return replace(case_result(case, [outcome], elapsed_s), resumable=True)


def run_case(case: SmokeCase, repeats: int, ctx: SuiteContext) -> CaseResult | None:
    """A case's repeats back to back, judged (None when cancelled part way); a quick
    check's one repeat with its baseline's answers."""
    started = time.monotonic()
    try:
        return _run_case(case, repeats, ctx, started)
    except DatabaseUnavailable as exc:
        return database_lost(case, exc, time.monotonic() - started)


def _run_case(
    case: SmokeCase, repeats: int, ctx: SuiteContext, started: float
) -> CaseResult | None:
    try:
        ctx.gold(case)
    except DatabaseUnavailable:
        raise
    except WorkbenchError as exc:
        outcome = RepeatOutcome(
            trace_id="", verdict="error", reason=f"the gold query fails: {exc}", stages=()
        )
        return case_result(case, [outcome], time.monotonic() - started)
    reuse: CaseReplay | None = None
    if ctx.baseline is not None:
        reuse = case_replay(ctx.store, ctx.baseline, case, ctx.env.prompts)
    outcomes = []
    notes: tuple[str, ...] = ()
    for _ in range(repeats):
        ran = run_repeat(case, ctx, reuse.replay if reuse is not None else None)
        if ran is None:
            return None
        outcome, trace = ran
        outcomes.append(outcome)
        if reuse is not None:
            notes = reuse.notes_for(trace)
    return case_result(case, outcomes, time.monotonic() - started, notes)
