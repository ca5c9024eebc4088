"""The first run: one case per category, once."""

from __future__ import annotations

from workbench.cases import CATEGORIES, load_cases, smoke_dir
from workbench.settings import Settings
from workbench.smoke.firstrun import first_run_cases, first_run_options


def test_the_first_run_takes_the_first_case_of_each_category_once() -> None:
    suite = load_cases(smoke_dir(Settings().fixtures_dir))
    cases = first_run_cases(suite)
    assert [c.category for c in cases] == list(CATEGORIES)
    for case in cases:
        assert case == next(c for c in suite if c.category == case.category)
    options = first_run_options(suite)
    assert options.ids == tuple(c.id for c in cases)
    assert (options.repeats, options.label) == (1, "first run")
