"""Re-asking the uncertain flips of a run against its baseline, before the verdict is shown.

A flip is uncertain when either run saw the case flaky or the runs part ways at a
low-margin token (``workbench.smoke.compare.uncertainty``): it may be the model's
coin rather than the edit. Asking the case a few more times settles it: each uncertain
flip's case runs ``times`` more times fresh (the stage cache bypassed and no baseline
answers reused, as a hunt runs), and the flip stands when most re-asks agree with the
new run's verdict (``workbench.smoke.compare.reask_settles``).

The re-asks are stored on the new run's case result (``CaseResult.reasks``), apart
from its repeats: the case's verdict stays what the run saw, and any later comparison
of the run with its baseline settles the flip the same way from what is stored. A budget
in case runs bounds the cost; uncertain flips beyond it stay uncertain, and the report
says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from workbench.cases.suite import SmokeCase
from workbench.errors import DatabaseUnavailable, LLMUnavailable
from workbench.pipeline import RunEnvironment
from workbench.smoke.compare import compare_smoke_runs
from workbench.smoke.plan import RunPlan
from workbench.smoke.repeat import SuiteContext, run_repeat
from workbench.smoke.results import RepeatOutcome, RunRecord, load_run, save_case_result

REASKS = 3
"""Re-asks per uncertain flip: an odd number, so that a majority always exists."""
REASK_BUDGET = 9
"""Case runs all re-asks of one run may spend (three flips at three re-asks): a quick
check stays quick."""


@dataclass(frozen=True)
class ReaskReport:
    """What re-asking did: the flips re-asked, those the budget left unasked, and why it
    stopped early when it did."""

    times: int
    budget: int
    reasked: tuple[str, ...] = ()
    unasked: tuple[str, ...] = ()
    stopped: str = ""

    @property
    def spent(self) -> int:
        return len(self.reasked) * self.times

    def words(self) -> str:
        """One line for the summary, "" when there was nothing uncertain to re-ask."""
        if not self.reasked and not self.unasked and not self.stopped:
            return ""
        text = f"re-asked {len(self.reasked)} uncertain flip(s) {self.times}× each"
        text += f" ({self.spent} of a budget of {self.budget} case runs)"
        if self.unasked:
            text += (
                f"; the budget ran out before {', '.join(self.unasked)} "
                "(still uncertain; raise --reask-budget to settle them)"
            )
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "times": self.times,
            "budget": self.budget,
            "spent": self.spent,
            "reasked": list(self.reasked),
            "unasked_over_budget": list(self.unasked),
            "stopped": self.stopped or None,
        }


def uncertain_flips(baseline: RunRecord, record: RunRecord) -> list[str]:
    """The case ids of the uncertain flips of ``record`` against ``baseline`` that have
    no re-asks yet, in the comparison's order (regressions first)."""
    comparison = compare_smoke_runs(baseline, record)
    return [
        f.case_id
        for f in comparison.flips
        if f.uncertain and (result := record.result(f.case_id)) is not None and not result.reasks
    ]


def reask_flips(
    env: RunEnvironment,
    baseline: RunRecord,
    record: RunRecord,
    cases: Iterable[SmokeCase],
    *,
    times: int = REASKS,
    budget: int = REASK_BUDGET,
    on_note: Callable[[str], None] | None = None,
) -> tuple[RunRecord, ReaskReport]:
    """Re-ask each uncertain flip of ``record`` ``times`` times while the budget lasts,
    storing the re-asks on its case result; returns the run as stored now and the report.
    ``on_note`` hears what is about to be re-asked, when anything is.

    A server or database that goes away stops the re-asking (what was re-asked is kept):
    the run itself is finished, so that is no reason to fail it.
    """
    report = ReaskReport(times=times, budget=budget)
    if times <= 0 or record.status != "done":
        return record, report
    pending = uncertain_flips(baseline, record)
    fits = budget // times
    chosen, unasked = pending[:fits], tuple(pending[fits:])
    if not chosen:
        return record, replace(report, unasked=unasked)
    if on_note is not None:
        on_note(f"re-asking {len(chosen)} uncertain flip(s) {times}× each before the verdict")
    suite = {c.id: c for c in cases}
    ctx = SuiteContext(env.with_database(), threading.Event())
    assert env.store is not None, "a smoke run has a store"
    done: list[str] = []
    stopped = ""
    for case_id in chosen:
        result = record.result(case_id)
        case = suite.get(case_id)
        if result is None or case is None:
            continue
        try:
            outcomes = reask_case(case, times, ctx)
        except (LLMUnavailable, DatabaseUnavailable) as exc:
            stopped = str(exc)
            break
        save_case_result(env.store, record.id, replace(result, reasks=outcomes))
        done.append(case_id)
    unasked += tuple(c for c in chosen if c not in done)
    report = replace(report, reasked=tuple(done), unasked=unasked, stopped=stopped)
    return load_run(env.store, record.id), report


def settle_quick_check(
    env: RunEnvironment,
    plan: RunPlan,
    record: RunRecord,
    on_note: Callable[[str], None] | None = None,
) -> RunRecord:
    """A finished quick check with its uncertain flips re-asked (``REASKS`` times each,
    within ``REASK_BUDGET``) before its verdict is shown: the Smoke page's way, where the
    command line has ``--reask``. ``on_note`` hears what is being re-asked, if anything."""
    if plan.baseline is None:
        return record
    settled, _ = reask_flips(env, plan.baseline, record, plan.cases, on_note=on_note)
    return settled


def reask_case(case: SmokeCase, times: int, ctx: SuiteContext) -> tuple[RepeatOutcome, ...]:
    """``times`` fresh runs of one case, each judged on its own, as a hunt's repeats."""
    outcomes: list[RepeatOutcome] = []
    for _ in range(times):
        ran = run_repeat(case, ctx)
        if ran is None:  # nothing cancels a re-ask; kept for the type
            break
        outcomes.append(ran[0])
    return tuple(outcomes)
