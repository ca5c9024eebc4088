"""The first run: one case per category, once, with a time estimate from stored runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from workbench.pipeline import StageTrace, Trace, save_trace
from workbench.settings import Settings
from workbench.smoke import load_cases, smoke_dir
from workbench.smoke.cases import CATEGORIES
from workbench.smoke.firstrun import estimate_run, first_run_cases, first_run_options
from workbench.store import open_store

ENDPOINT = "http://127.0.0.1:8000/v1"


def test_the_first_run_takes_the_first_case_of_each_category_once() -> None:
    suite = load_cases(smoke_dir(Settings().fixtures_dir))
    cases = first_run_cases(suite)
    assert [c.category for c in cases] == list(CATEGORIES)
    for case in cases:
        assert case == next(c for c in suite if c.category == case.category)
    options = first_run_options(suite)
    assert options.ids == tuple(c.id for c in cases)
    assert (options.repeats, options.label) == (1, "first run")


def trace(n: int, latencies: tuple[float, ...], *, cached: bool = False, endpoint: str = ENDPOINT):
    started = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n)
    stages = tuple(
        StageTrace(f"s{i}", f"Stage {i}", i, "rewrite", "in", output="out", called_model=True,
                   latency_s=latency, cached=cached)
        for i, latency in enumerate(latencies, start=1)
    )  # fmt: skip
    return Trace("q", date(2026, 3, 31), started, started, "p", endpoint, stages, id=f"t{n}")


def test_the_estimate_is_the_median_uncached_run_on_this_endpoint(settings: Settings) -> None:
    store = open_store(settings)
    for n, latencies in enumerate([(1.0, 2.0), (3.0, 4.0), (10.0, 10.0)]):
        save_trace(store, trace(n, latencies))
    save_trace(store, trace(5, (0.0, 0.0), cached=True))  # a cached run says nothing
    save_trace(store, trace(6, (99.0,), endpoint="http://elsewhere/v1"))
    estimate = estimate_run(store, ENDPOINT, cases=5, repeats=2)
    assert estimate.seconds == 7.0 * 10
    assert estimate.basis == "10 questions × 7 s, the median of 3 stored runs"
    assert estimate.text.startswith("about 70 s (")


def test_without_a_stored_run_the_estimate_says_it_has_no_basis(settings: Settings) -> None:
    estimate = estimate_run(open_store(settings), ENDPOINT, cases=5, repeats=1)
    assert estimate.seconds is None
    assert estimate.text == f"time unknown (no uncached run on {ENDPOINT} stored yet)"


def test_minutes_are_shown_from_a_minute_and_a_half(settings: Settings) -> None:
    store = open_store(settings)
    save_trace(store, replace(trace(1, (30.0, 30.0))))
    assert estimate_run(store, ENDPOINT, cases=5, repeats=1).text.startswith("about 5 min")
