"""A first smoke run that is small and fast: one case per category, one repeat.

A newcomer who presses a button that runs the whole suite on a CPU model waits an hour
for a table of failures. The first run instead takes the first case of each category,
once, so it finishes in minutes and every category shows up; flakiness needs repeats and
comes with the next run. Its time is estimated like any run's (``plan_run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.cases.suite import CATEGORIES, SmokeCase
from workbench.smoke.plan import SmokeOptions

FIRST_RUN_LABEL = "first run"


def first_run_cases(
    suite: Iterable[SmokeCase], categories: Sequence[str] = CATEGORIES
) -> tuple[SmokeCase, ...]:
    """The first case of each category, in the order of ``categories`` (the suite's, from
    its tag list), then any other category in the order it first appears."""
    firsts: dict[str, SmokeCase] = {}
    for case in suite:
        firsts.setdefault(case.category, case)
    order = [c for c in categories if c in firsts] + [c for c in firsts if c not in categories]
    return tuple(firsts[c] for c in order)


def first_run_options(
    suite: Iterable[SmokeCase], categories: Sequence[str] = CATEGORIES
) -> SmokeOptions:
    """One case per category, one repeat, hunting flakes, labelled as the first run."""
    cases = first_run_cases(suite, categories)
    return SmokeOptions(repeats=1, ids=tuple(c.id for c in cases), label=FIRST_RUN_LABEL)
