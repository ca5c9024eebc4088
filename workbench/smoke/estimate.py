"""What a smoke run will cost, before it starts: cases × stages × seconds per stage.

The seconds come from what this endpoint and model took before, as the store's traces
recorded it: first the same case's latest fresh call of the same stage (output length
and thinking depend on the question), then the stage's mean over recent runs. With no
history on this endpoint and model, a short calibration (one prefill-only call with a
long prompt, one short prompt that decodes a few dozen tokens) measures the server's
speed, and each stage is priced by its rendered prompt and a typical answer length.

A quick check prices only what it will call: the first stage whose prompt changed (or that follows a stage a pipeline variant left out)
since the baseline (the ones before it are answered from the baseline when the
baseline's repeats agreed on them), then the stages after it, each weighed by how often
an edited stage here went on giving the baseline's answer in past quick checks (then
they are reused too; an even chance before any); the narrative is left out. Concurrency
divides by the speed-up the self-test measured. The estimate also weighs each stage
for the progress bar, so that the time left counts stages, not cases.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.cases.suite import SmokeCase
from workbench.dates import find_unresolved_hints, resolve_relative_dates
from workbench.errors import LLMError, WorkbenchError
from workbench.pipeline import RunEnvironment, StageContext
from workbench.pipeline.stages import build_request
from workbench.prompts import StagePrompt
from workbench.smoke.baseline import quick_skip
from workbench.smoke.calibration import (
    CHARS_PER_TOKEN,
    TYPICAL_ANSWER_TOKENS,
    Calibration,
    ServerSpeed,
)
from workbench.smoke.results import RunRecord
from workbench.store import SmokeRunRow, TraceRow, store_workspace

HISTORY_TRACES = 200
"""Recent traces the per-stage means are taken over."""
CASE_TRACES = 4
"""Traces per case searched for that case's own latencies (a quick check's reused
stages measured nothing, so the latest trace may not say)."""
INDEX_TRACES = 5_000
"""Recent traces searched for each case's own."""
PACE_RUNS = 20
"""Recent runs whose pace before they started is the reference for the pace now."""
SLOWER_BOUNDS = (0.25, 4.0)
"""How far the server's present pace may scale its history."""
UNCHANGED_PRIOR = 0.5
"""Before any quick check ran here: the chance that an edited stage still gives the
baseline's answer, so that the stages after it are reused."""
JUDGE_S = 0.05
"""Judging a repeat besides the pipeline: the gold and the predicted SQL on DuckDB."""

Source = Literal["this case", "this stage", "calibration", "reused", "none"]


@dataclass(frozen=True)
class LatencyHistory:
    """Seconds per stage on one endpoint and model, as the store recorded them.

    Args:
        by_case: (question, as_of) -> stage id -> the mean fresh seconds of the case's
            newest traces (one call's time swings with the machine's load).
        by_stage: stage id -> mean fresh seconds over recent runs.
        overhead_s: mean seconds of a pipeline run besides its model calls.
        calls: how many stage calls ``by_stage`` rests on.
        unchanged_share: in past quick checks, how often the first stage asked again
            gave the baseline's answer (so the next stage was reused); None: no such check.
        pace_s: the server's pace before the recent runs (their median), to compare
            with its pace now.
    """

    by_case: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    by_stage: dict[str, float] = field(default_factory=dict)
    overhead_s: float | None = None
    calls: int = 0
    unchanged_share: float | None = None
    pace_s: float | None = None


@dataclass(frozen=True)
class CaseEstimate:
    """One case: seconds per stage for one repeat (0 for reused or left-out stages)."""

    case_id: str
    stage_seconds: dict[str, float]
    runs: int
    overhead_s: float
    sources: tuple[Source, ...] = ()
    maybe: int = 0
    """Of the stages to compute, how many a quick check may still reuse (after the edit)."""

    @property
    def stages(self) -> int:
        return len(self.stage_seconds) * self.runs

    @property
    def calls(self) -> int:
        """Stage occurrences expected to call the model (or run in Python), over the repeats."""
        return sum(s != "reused" and s != "none" for s in self.sources) * self.runs

    @property
    def seconds(self) -> float:
        return (sum(self.stage_seconds.values()) + self.overhead_s) * self.runs


@dataclass(frozen=True)
class RunEstimate:
    """A run's expected wall time, and the weight of each stage for the progress bar."""

    cases: tuple[CaseEstimate, ...]
    concurrency: int = 1
    speedup: float = 1.0
    basis: str = ""
    """Where the seconds come from, for people."""
    timed: bool = True
    """False when nothing was measured on this server yet (every stage priced at 1 s)."""

    @property
    def sequential_s(self) -> float:
        return sum(c.seconds for c in self.cases)

    @property
    def total_s(self) -> float:
        return self.sequential_s / self.speedup

    @property
    def stages(self) -> int:
        return sum(c.stages for c in self.cases)

    @property
    def calls(self) -> int:
        return sum(c.calls for c in self.cases)

    @property
    def maybe(self) -> int:
        return sum(c.maybe * c.runs for c in self.cases)

    def case(self, case_id: str) -> CaseEstimate | None:
        return next((c for c in self.cases if c.case_id == case_id), None)

    def subset(self, case_ids: Iterable[str]) -> RunEstimate:
        """The estimate of running only ``case_ids`` the same way."""
        wanted = set(case_ids)
        cases = tuple(c for c in self.cases if c.case_id in wanted)
        return RunEstimate(cases, self.concurrency, self.speedup, self.basis, self.timed)

    def describe(self) -> str:
        """``about 4 min for 6 cases × 2 repeats (72 stages, 1 at a time; …)``."""
        runs = self.cases[0].runs if self.cases else 1
        repeats = f" × {runs} repeats" if runs > 1 else ""
        at_once = f"{self.concurrency} at a time" if self.concurrency > 1 else "one at a time"
        calls = f"{self.calls - self.maybe}–{self.calls}" if self.maybe else f"{self.calls}"
        return (
            f"about {format_duration(self.total_s)} for {len(self.cases)} cases{repeats} "
            f"({calls} of {self.stages} stages to compute, {at_once}; {self.basis})"
        )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# -- history ------------------------------------------------------------------------------


def load_history(
    store: Engine, endpoints: Sequence[str], models: Iterable[str], cases: Iterable[SmokeCase]
) -> LatencyHistory:
    """Fresh stage latencies of ``endpoints`` and ``models`` from the store's traces.

    Only the newest traces are read: ``HISTORY_TRACES`` for the means, and the newest
    ``CASE_TRACES`` of each case among the ``INDEX_TRACES`` newest (found by question and
    date before any trace body is read).
    """
    wanted_endpoints, wanted_models = set(endpoints), set(models)
    keys = {(c.question, c.as_of.isoformat()) for c in cases}
    workspace = store_workspace(store)
    with Session(store) as session:
        index = session.exec(
            select(TraceRow.id, TraceRow.question, TraceRow.as_of)
            .where(col(TraceRow.workspace) == workspace)
            .order_by(col(TraceRow.created).desc())
            .limit(INDEX_TRACES)
        ).all()
        picked: dict[str, tuple[str, str]] = {}
        seen: dict[tuple[str, str], int] = {}
        for trace_id, question, as_of in index:
            key = (question, as_of.isoformat())
            if key in keys and seen.get(key, 0) < CASE_TRACES:
                seen[key] = seen.get(key, 0) + 1
                picked[trace_id] = key
        mine = session.exec(
            select(TraceRow.id, TraceRow.trace_json).where(col(TraceRow.id).in_(list(picked)))
        ).all()
        recent = session.exec(
            select(TraceRow.trace_json)
            .where(col(TraceRow.workspace) == workspace)
            .order_by(col(TraceRow.created).desc())
            .limit(HISTORY_TRACES)
        ).all()
        manifests = session.exec(
            select(SmokeRunRow.manifest)
            .where(col(SmokeRunRow.workspace) == workspace)
            .order_by(col(SmokeRunRow.created).desc())
            .limit(PACE_RUNS)
        ).all()
    order = {trace_id: i for i, (trace_id, *_) in enumerate(index)}
    measured: dict[tuple[str, str], dict[str, list[float]]] = {}
    for trace_id, text in sorted(mine, key=lambda row: order[row[0]]):  # newest first
        for stage_id, seconds in _fresh(text, wanted_endpoints, wanted_models).items():
            measured.setdefault(picked[trace_id], {}).setdefault(stage_id, []).append(seconds)
    by_case = {
        key: {stage: sum(v) / len(v) for stage, v in stages.items()}
        for key, stages in measured.items()
    }
    sums: dict[str, list[float]] = {}
    overheads: list[float] = []
    carried: list[bool] = []
    for text in recent:
        fresh = _fresh(text, wanted_endpoints, wanted_models, overheads, carried)
        for stage_id, seconds in fresh.items():
            sums.setdefault(stage_id, []).append(seconds)
    return LatencyHistory(
        by_case,
        {s: sum(v) / len(v) for s, v in sums.items()},
        sum(overheads) / len(overheads) if overheads else None,
        sum(len(v) for v in sums.values()),
        sum(carried) / len(carried) if carried else None,
        _median_pace(manifests, wanted_endpoints),
    )


def _median_pace(manifests: Sequence[str], endpoints: set[str]) -> float | None:
    """The median of the runs' paces, each measurement once (runs minutes apart share one)."""
    paces: dict[str, float] = {}
    for index, text in enumerate(manifests):
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if data.get("pace_s") and set(data.get("endpoint", "").split(",")) <= endpoints:
            paces.setdefault(data.get("pace_at") or str(index), float(data["pace_s"]))
    return statistics.median(paces.values()) if paces else None


def _fresh(
    text: str,
    endpoints: set[str],
    models: set[str],
    overheads: list[float] | None = None,
    carried: list[bool] | None = None,
) -> dict[str, float]:
    """Stage id -> seconds of the stages a trace computed itself on these endpoints/models;
    a whole run's overhead goes to ``overheads``, a quick check's carry-through to ``carried``."""
    try:
        data = json.loads(text)
        if data["endpoint"] not in endpoints:
            return {}
        if carried is not None:
            _carry(data["stages"], carried)
        fresh: dict[str, float] = {}
        whole = True
        for stage in data["stages"]:
            computed = not (stage.get("cached") or stage.get("reused_from") or stage["skipped"])
            if not computed or (stage.get("called_model") and stage.get("model") not in models):
                whole = False
                continue
            if stage.get("error") and not stage.get("latency_s"):
                whole = False  # a failed call measured nothing
                continue
            fresh[stage["stage_id"]] = float(stage.get("latency_s") or 0.0)
        if overheads is not None and whole and fresh:
            elapsed = (
                datetime.fromisoformat(data["finished"]) - datetime.fromisoformat(data["started"])
            ).total_seconds()
            overheads.append(max(0.0, elapsed - sum(fresh.values())))
        return fresh
    except (KeyError, TypeError, ValueError):
        return {}  # a damaged trace tells nothing about latency


def _carry(stages: list[dict], carried: list[bool]) -> None:
    """In a quick check's trace: was the stage after the first one asked again reused?"""
    calls = [s for s in stages if s.get("called_model") and not s["skipped"]]
    if not any(s.get("reused_from") for s in calls):
        return  # not a quick check
    asked = next((i for i, s in enumerate(calls) if not s.get("reused_from")), None)
    if asked is not None and asked + 1 < len(calls) and not calls[asked].get("error"):
        carried.append(bool(calls[asked + 1].get("reused_from")))


# -- the estimate --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunShape:
    """How the cases run: repeats, the quick check's baseline, concurrency and its speed-up."""

    repeats: int = 1
    baseline: RunRecord | None = None
    concurrency: int = 1
    speedup: float = 1.0


def estimate_run(
    env: RunEnvironment,
    cases: Sequence[SmokeCase],
    shape: RunShape,
    history: LatencyHistory,
    speed: ServerSpeed | None = None,
) -> RunEstimate:
    """The expected wall time of running ``cases`` as ``shape`` says, on ``env``; the
    history scaled to the server's pace now when both paces are known."""
    speed = speed or ServerSpeed()
    calibration = speed.calibration
    slower = 1.0
    if speed.pace_s and history.pace_s:
        low, high = SLOWER_BOUNDS
        slower = min(max(speed.pace_s / history.pace_s, low), high)
    stages = tuple(sorted(env.prompts.stages, key=lambda p: p.order))
    changed = _first_changed(stages, shape.baseline)
    unchanged = history.unchanged_share if history.unchanged_share is not None else UNCHANGED_PRIOR
    estimates = []
    for case in cases:
        skip = quick_skip(env.prompts, case) if shape.baseline is not None else frozenset()
        reusable = _reusable(case, shape.baseline)
        seconds: dict[str, float] = {}
        sources: list[Source] = []
        maybe = 0
        for prompt in stages:
            if prompt.id in skip:
                seconds[prompt.id], source = 0.0, "none"
            elif prompt.order < changed and prompt.id in reusable:
                seconds[prompt.id], source = 0.0, "reused"
            else:
                seconds[prompt.id], source = _stage_seconds(env, case, prompt, history, calibration)
                if source in ("this case", "this stage"):
                    seconds[prompt.id] *= slower
                if prompt.order > changed and prompt.id in reusable:
                    seconds[prompt.id] *= 1 - unchanged  # reused where the edit changed nothing
                    maybe += 1
            sources.append(source)
        overhead = (history.overhead_s if history.overhead_s is not None else 0.1) + JUDGE_S
        estimates.append(
            CaseEstimate(case.id, seconds, shape.repeats, overhead, tuple(sources), maybe)
        )
    now = f", the server {_how_fast(slower)} now" if slower != 1.0 else ""
    basis = (
        f"from {history.calls} timed stage calls on this endpoint and model{now}"
        if history.calls
        else "from a calibration call"
        if calibration is not None
        else "no timings on this endpoint and model yet"
    )
    timed = bool(history.calls) or calibration is not None
    return RunEstimate(tuple(estimates), shape.concurrency, max(shape.speedup, 1.0), basis, timed)


def _how_fast(slower: float) -> str:
    if slower >= 1:
        return f"{slower:.1f}x slower than then"
    return f"{1 / slower:.1f}x faster than then"


def _first_changed(stages: Sequence[StagePrompt], baseline: RunRecord | None) -> int:
    """The order of the first stage whose prompt differs from the baseline's (a large
    number when none does; 0 without a baseline: every stage is computed)."""
    if baseline is None:
        return 0
    versions = baseline.manifest.stage_versions
    before = list(versions)  # the baseline's stages, in its order
    for index, prompt in enumerate(stages):
        moved = index >= len(before) or before[index] != prompt.id  # a stage left out before
        if moved or versions.get(prompt.id, "")[:12] != prompt.content_hash[:12]:
            return prompt.order
    return 10**6


def _reusable(case: SmokeCase, baseline: RunRecord | None) -> set[str]:
    """Stages the baseline answered alike in every repeat of this case."""
    result = baseline.result(case.id) if baseline is not None else None
    if result is None or not result.repeats:
        return set()
    first = result.repeats[0]
    return {
        s.stage_id
        for s in first.stages
        if s.error is None
        and not s.skipped
        and all(
            (o := r.stage(s.stage_id)) is not None and o.output == s.output
            for r in result.repeats[1:]
        )  # fmt: skip
    }


def _stage_seconds(
    env: RunEnvironment,
    case: SmokeCase,
    prompt: StagePrompt,
    history: LatencyHistory,
    calibration: Calibration | None,
) -> tuple[float, Source]:
    mine = history.by_case.get((case.question, case.as_of.isoformat()), {})
    if prompt.id in mine:
        return mine[prompt.id], "this case"
    if prompt.id in history.by_stage:
        return history.by_stage[prompt.id], "this stage"
    if calibration is None:
        return 1.0, "none"
    if prompt.kind == "dates":
        remaining = resolve_relative_dates(case.question, case.as_of).text
        if not find_unresolved_hints(remaining, case.as_of):
            return 0.0, "calibration"
    answer = TYPICAL_ANSWER_TOKENS[prompt.kind]
    return calibration.seconds(_prompt_tokens(env, case, prompt), answer), "calibration"


def _prompt_tokens(env: RunEnvironment, case: SmokeCase, prompt: StagePrompt) -> float:
    try:
        ctx = StageContext(case.question, case.as_of, env.with_database())
        request = build_request(prompt, case.question, ctx, None)
    except (WorkbenchError, LLMError):
        return (len(prompt.body) + len(case.question)) / CHARS_PER_TOKEN
    return sum(len(m.content) for m in request.messages) / CHARS_PER_TOKEN
