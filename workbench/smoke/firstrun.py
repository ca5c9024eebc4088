"""A first smoke run that is small and fast: one case per category, one repeat.

A newcomer who presses a button that runs the whole suite on a CPU model waits an hour
for a table of failures. The first run instead takes the first case of each category,
once, so it finishes in minutes and every category shows up; flakiness needs repeats and
comes with the next run.

The time it will take is estimated from what this store has seen: the stage latencies
of the newest uncached pipeline runs on the same endpoint (a smoke run bypasses the
cache, so cached runs would say too little). With none, it says so instead of guessing.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from workbench.errors import StoreError
from workbench.pipeline import load_trace, recent_traces
from workbench.smoke.cases import CATEGORIES, SmokeCase
from workbench.smoke.runner import SmokeOptions

FIRST_RUN_LABEL = "first run"
SAMPLE_TRACES = 20


def first_run_cases(suite: Iterable[SmokeCase]) -> tuple[SmokeCase, ...]:
    """The first case of each category, in the categories' order."""
    firsts: dict[str, SmokeCase] = {}
    for case in suite:
        firsts.setdefault(case.category, case)
    return tuple(firsts[c] for c in CATEGORIES if c in firsts)


def first_run_options(suite: Iterable[SmokeCase]) -> SmokeOptions:
    """One case per category, one repeat, labelled as the first run."""
    cases = first_run_cases(suite)
    return SmokeOptions(repeats=1, ids=tuple(c.id for c in cases), label=FIRST_RUN_LABEL)


@dataclass(frozen=True)
class RunEstimate:
    """How long a run should take, and what the guess rests on (``seconds`` None: no basis)."""

    seconds: float | None
    basis: str

    @property
    def text(self) -> str:
        if self.seconds is None:
            return f"time unknown ({self.basis})"
        minutes = self.seconds / 60
        shown = f"about {minutes:.0f} min" if minutes >= 1.5 else f"about {self.seconds:.0f} s"
        return f"{shown} ({self.basis})"


def seconds_per_question(store: Engine, endpoint: str) -> tuple[float | None, int]:
    """The median time the model took over a whole question, from stored uncached runs."""
    totals = []
    for summary in recent_traces(store, limit=SAMPLE_TRACES * 3):
        try:
            trace = load_trace(store, summary.id)
        except StoreError:
            continue
        called = [s for s in trace.stages if s.called_model and not s.skipped]
        if trace.endpoint != endpoint or not called or any(s.cached for s in called):
            continue
        totals.append(sum(s.latency_s for s in called))
        if len(totals) == SAMPLE_TRACES:
            break
    return (statistics.median(totals) if totals else None), len(totals)


def estimate_run(store: Engine, endpoint: str, cases: int, repeats: int) -> RunEstimate:
    """The time ``cases`` × ``repeats`` questions should take on ``endpoint``."""
    per_question, sample = seconds_per_question(store, endpoint)
    if per_question is None:
        return RunEstimate(None, f"no uncached run on {endpoint} stored yet")
    questions = cases * repeats
    return RunEstimate(
        per_question * questions,
        f"{questions} questions × {per_question:.0f} s, the median of {sample} stored runs",
    )
