"""What a run will do: the stratified default that fits in a few minutes, and concurrency
only where a self-test allows it."""

from __future__ import annotations

from tests.smoke_script import SUITE
from workbench.cases.suite import stratified_sample
from workbench.smoke.estimate import CaseEstimate, RunEstimate
from workbench.smoke.plan import affordable_limit


def priced(seconds_per_case: float) -> RunEstimate:
    return RunEstimate(
        tuple(CaseEstimate(c.id, {"s": seconds_per_case}, runs=1, overhead_s=0.0) for c in SUITE)
    )


def test_the_default_limit_is_the_largest_sample_that_fits_the_budget() -> None:
    estimate = priced(30.0)
    n = affordable_limit(estimate, SUITE, 300)
    assert n == 10
    picked = stratified_sample(SUITE, n)
    assert estimate.subset(c.id for c in picked).total_s <= 300
    assert affordable_limit(priced(1.0), SUITE, 300) == len(SUITE)
    assert affordable_limit(priced(1000.0), SUITE, 300) == 1  # one case, however slow
