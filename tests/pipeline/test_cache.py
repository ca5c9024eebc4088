"""The stage cache: keys cover every parameter; reads can be bypassed; a damaged entry is a
miss; the digest names an answer."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlmodel import Session

from workbench.errors import StoreError
from workbench.llm.protocol import ChatRequest, Completion, Message
from workbench.pipeline.cache import StageCache, answer_digest, request_key
from workbench.settings import Settings
from workbench.store import StageCacheRow, open_store

REQUEST = ChatRequest(
    model="qwen3-32b",
    messages=(Message("system", "Rewrite."), Message("user", "hi, CBC results")),
    max_tokens=256,
    stop=("```",),
    prefill="```sql\n",
    seed=0,
)
COMPLETION = Completion(
    text="```sql\nSELECT 1",
    model="qwen3-32b",
    finish_reason="stop",
    prompt_tokens=30,
    completion_tokens=4,
    latency_s=0.4,
    reasoning="think",
    tokens=("SELECT", " 1"),
    margins=(4.0, 0.5),
    min_margin=0.5,
    min_margin_index=1,
)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "qwen3-14b"},
        {"messages": (Message("system", "Rewrite!"), Message("user", "hi, CBC results"))},
        {"messages": (Message("system", "Rewrite."), Message("user", "hi, CBC result"))},
        {"max_tokens": 257},
        {"stop": ()},
        {"thinking": True},
        {"prefill": None},
        {"seed": 1},
        {"temperature": 0.1},
        {"logprobs": False},
        {"max_thinking_tokens": 1024},
    ],
)
def test_every_parameter_is_part_of_the_key(change: dict) -> None:
    assert request_key("http://a/v1", REQUEST) != request_key(
        "http://a/v1", replace(REQUEST, **change)
    )


def test_the_endpoint_is_part_of_the_key() -> None:
    assert request_key("http://a/v1", REQUEST) != request_key("http://b/v1", REQUEST)
    assert request_key("http://a/v1", REQUEST) == request_key("http://a/v1", replace(REQUEST))


def test_put_then_get_returns_the_same_completion(settings: Settings) -> None:
    cache = StageCache(open_store(settings))
    key = request_key("http://a/v1", REQUEST)
    assert cache.get(key) is None
    cache.put(key, "sql", COMPLETION)
    assert cache.get(key) == COMPLETION
    assert len(cache) == 1


def test_without_reads_nothing_is_returned_but_answers_are_still_written(
    settings: Settings,
) -> None:
    engine = open_store(settings)
    key = request_key("http://a/v1", REQUEST)
    bypass = StageCache(engine, read=False)
    bypass.put(key, "sql", COMPLETION)
    assert bypass.get(key) is None
    assert StageCache(engine).get(key) == COMPLETION


def test_a_newer_answer_replaces_the_older(settings: Settings) -> None:
    cache = StageCache(open_store(settings))
    key = request_key("http://a/v1", REQUEST)
    cache.put(key, "sql", COMPLETION)
    cache.put(key, "sql", replace(COMPLETION, text="```sql\nSELECT 2"))
    assert cache.get(key).text == "```sql\nSELECT 2"
    assert len(cache) == 1


def test_the_same_answer_put_at_once_from_several_threads_is_stored_once(
    settings: Settings,
) -> None:
    # Two cases that normalize to the same question send the SQL stage the same request
    # at the same time: both find no row, and the second insert must not fail the run.
    cache = StageCache(open_store(settings))
    errors: list[BaseException] = []
    for n in range(20):
        key = request_key("http://a/v1", replace(REQUEST, seed=n))
        start = threading.Barrier(6)

        def put(key: str = key, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                cache.put(key, "sql", COMPLETION)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(cache) == 20


def test_clear_one_stage(settings: Settings) -> None:
    cache = StageCache(open_store(settings))
    cache.put("k1", "sql", COMPLETION)
    cache.put("k2", "noise", COMPLETION)
    cache.clear("sql")
    assert (cache.get("k1"), cache.get("k2")) == (None, COMPLETION)
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        '{"text": "x"}',
        '["a list"]',
        '{"text": 3, "model": "m", "finish_reason": "stop"}',
    ],
)
def test_a_damaged_entry_is_a_miss_for_a_run_and_an_error_that_says_so_when_asked(
    settings: Settings, damage: str
) -> None:
    engine = open_store(settings)
    cache = StageCache(engine)
    key = request_key("http://a/v1", REQUEST)
    cache.put(key, "sql", COMPLETION)
    with Session(engine) as session:
        row = session.get(StageCacheRow, key)
        row.completion = damage
        session.add(row)
        session.commit()
    assert cache.get(key) is None
    with pytest.raises(StoreError, match=f"stage cache entry {key[:12]} is damaged"):
        cache.entry(key)
    cache.put(key, "sql", COMPLETION)  # the fresh answer replaces it
    assert cache.entry(key) == COMPLETION


def test_the_answer_digest_names_what_came_back_not_how_fast() -> None:
    same = replace(COMPLETION, latency_s=9.0, margins=(1.0, 1.0), prompt_tokens=99)
    assert answer_digest(same) == answer_digest(COMPLETION)
    for change in ({"text": "```sql\nSELECT 2"}, {"reasoning": None},
                   {"finish_reason": "length"}, {"runaway": True}):  # fmt: skip
        assert answer_digest(replace(COMPLETION, **change)) != answer_digest(COMPLETION)
