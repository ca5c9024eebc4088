"""Progress: stages counted, the time left from the estimate at first, then from the pace."""

from __future__ import annotations

import pytest

from workbench.pipeline import StageTrace
from workbench.smoke.estimate import CaseEstimate, RunEstimate
from workbench.smoke.progress import SmokeProgress, Tracker

STAGES = {"a": 2.0, "b": 6.0}  # seconds per repeat, by stage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stage(stage_id: str) -> StageTrace:
    return StageTrace(stage_id=stage_id, title=stage_id, order=1, kind="rewrite", input="")


def tracker(speedup: float = 1.0):
    estimate = RunEstimate(
        tuple(CaseEstimate(c, dict(STAGES), runs=2, overhead_s=0.0) for c in ("c1", "c2")),
        concurrency=2 if speedup > 1 else 1,
        speedup=speedup,
    )
    seen: list[SmokeProgress] = []
    clock = Clock()
    return Tracker("run", 2, [], estimate, seen.append, clock=clock), seen, clock


def test_before_anything_ran_the_time_left_is_the_estimate() -> None:
    track, seen, _ = tracker(speedup=2.0)
    track.report("running")
    assert seen[-1].remaining_s == pytest.approx(2 * 2 * 8.0 / 2)
    assert (seen[-1].stages_done, seen[-1].stages_planned) == (0, 8)


def test_a_slower_pace_than_estimated_stretches_the_time_left() -> None:
    track, seen, clock = tracker()
    clock.now += 4.0  # stage a took twice its estimate
    track.stage_done("c1", stage("a"))
    clock.now += 12.0  # and so did b
    track.stage_done("c1", stage("b"))
    last = seen[-1]
    assert (last.stages_done, last.fraction) == (2, 0.25)
    assert last.remaining_s == pytest.approx(2 * 24.0)  # 24 estimated seconds left, at half pace


def test_a_finished_case_counts_all_its_stages_whatever_ran() -> None:
    from workbench.smoke.results import CaseResult

    track, seen, _ = tracker()
    result = CaseResult("c1", "q", "simple", ("simple",), "error", "gold fails", ())
    track.add(result)
    assert (seen[-1].stages_done, seen[-1].counts.done, seen[-1].latest) == (4, 1, result)
    track.report("done")
    assert seen[-1].remaining_s == 0.0
