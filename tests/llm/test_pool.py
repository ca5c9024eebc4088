"""Pinning cases to the servers of a pool: stable, spread, and moving only what must move."""

from __future__ import annotations

from collections import Counter

from tests.scripted_llm import ScriptedLLM
from workbench.llm.pool import ClientPool, endpoints, pin

URLS = ("http://a:1/v1", "http://b:2/v1", "http://c:3/v1")
CASES = [f"messy-{n:03d}" for n in range(120)]


def pool(*urls: str) -> ClientPool:
    return ClientPool([ScriptedLLM(endpoint=url) for url in urls])


def test_a_case_always_meets_the_same_server_and_cases_spread_over_the_pool() -> None:
    first, second = pool(*URLS), pool(*URLS)
    placed = {case: pin(first, case).endpoint for case in CASES}
    assert placed == {case: pin(second, case).endpoint for case in CASES}
    assert all(pin(first, case) is pin(first, case) for case in CASES)
    spread = Counter(placed.values())
    assert set(spread) == set(URLS)
    assert min(spread.values()) >= len(CASES) // len(URLS) // 2


def test_removing_a_server_moves_only_its_cases() -> None:
    before = {case: pin(pool(*URLS), case).endpoint for case in CASES}
    after = {case: pin(pool(*URLS[:2]), case).endpoint for case in CASES}
    moved = [case for case in CASES if before[case] != after[case]]
    assert moved and all(before[case] == URLS[2] for case in moved)


def test_a_single_client_is_its_own_pin() -> None:
    llm = ScriptedLLM(endpoint="http://only/v1")
    assert pin(llm, "simple-001") is llm
    assert endpoints(llm) == ("http://only/v1",)
    assert endpoints(pool(*URLS)) == URLS
