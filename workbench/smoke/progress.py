"""A run's progress as people read it: stages done of planned, verdicts so far, time left.

Counting cases alone says little when a case takes minutes; the bar counts stages.
The time left starts as the run's estimate (``workbench.smoke.estimate``) and leans on
what the run has measured as it goes: each finished stage is worth the seconds the
estimate gave it, and the ratio of wall time to estimated seconds done so far scales
what is left (a busy machine or a slower server shows up within a few stages).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from workbench.pipeline import StageTrace
from workbench.smoke.estimate import RunEstimate
from workbench.smoke.results import CaseResult, RunCounts, count_verdicts

ProgressState = Literal["running", "cancelling", "done", "cancelled", "interrupted"]
TRUST_AFTER = 0.25
"""Share of the estimated work after which the measured pace alone sets the time left."""


@dataclass(frozen=True)
class SmokeProgress:
    """Live counts for a progress bar: stages and cases done of planned, and the time left."""

    run_id: str
    planned: int
    counts: RunCounts
    elapsed_s: float
    remaining_s: float | None
    state: ProgressState
    latest: CaseResult | None = None
    note: str = ""
    stages_done: int = 0
    stages_planned: int = 0

    @property
    def fraction(self) -> float:
        if self.stages_planned:
            return min(1.0, self.stages_done / self.stages_planned)
        return self.counts.done / self.planned if self.planned else 1.0


ProgressCallback = Callable[[SmokeProgress], None]


class Tracker:
    """Counts stages and verdicts as they come (from several threads), and reports."""

    def __init__(
        self,
        run_id: str,
        planned: int,
        results: list[CaseResult],
        estimate: RunEstimate,
        callback: ProgressCallback | None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.run_id = run_id
        self.planned = planned
        self.results = results
        self.estimate = estimate
        self.callback = callback
        self.clock = clock
        self.started = clock()
        self.lock = threading.Lock()
        self.stages_planned = estimate.stages
        self.expected_s = estimate.sequential_s
        self.stages_by_case: dict[str, int] = {}
        self.done_by_case: dict[str, float] = {}

    def stage_done(self, case_id: str, stage: StageTrace) -> None:
        """One stage of one repeat of ``case_id`` is known (run, reused or skipped)."""
        case = self.estimate.case(case_id)
        weight = 0.0
        if case is not None:
            per_stage = case.overhead_s / max(len(case.stage_seconds), 1)
            weight = case.stage_seconds.get(stage.stage_id, 0.0) + per_stage
        with self.lock:
            self.stages_by_case[case_id] = self.stages_by_case.get(case_id, 0) + 1
            self.done_by_case[case_id] = self.done_by_case.get(case_id, 0.0) + weight
        self.report("running")

    def add(self, result: CaseResult) -> None:
        """A case is finished: every stage it planned counts as done, whatever ran."""
        case = self.estimate.case(result.case_id)
        with self.lock:
            self.results.append(result)
            if case is not None:
                self.stages_by_case[result.case_id] = case.stages
                self.done_by_case[result.case_id] = case.seconds
        self.report("running", latest=result)

    def report(
        self, state: ProgressState, *, latest: CaseResult | None = None, note: str = ""
    ) -> None:
        if self.callback is None:
            return
        with self.lock:
            elapsed = self.clock() - self.started
            stages_done = sum(self.stages_by_case.values())
            done_s = sum(self.done_by_case.values())
            counts = count_verdicts(self.results, planned=self.planned)
        finished = state in ("done", "cancelled")
        self.callback(
            SmokeProgress(
                run_id=self.run_id,
                planned=self.planned,
                counts=counts,
                elapsed_s=elapsed,
                remaining_s=0.0 if finished else self.remaining(elapsed, done_s),
                state=state,
                latest=latest,
                note=note,
                stages_done=stages_done,
                stages_planned=self.stages_planned,
            )
        )

    def remaining(self, elapsed: float, done_s: float) -> float:
        """Seconds left: the estimate's at first, the measured pace's once it means something."""
        left_s = max(0.0, self.expected_s - done_s)
        prior = left_s / self.estimate.speedup
        if done_s <= 0 or self.expected_s <= 0:
            return prior
        measured = left_s * elapsed / done_s
        trust = min(1.0, done_s / (TRUST_AFTER * self.expected_s))
        return (1 - trust) * prior + trust * measured
