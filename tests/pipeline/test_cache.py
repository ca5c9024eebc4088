"""The stage cache: keys cover every parameter; reads can be bypassed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workbench.llm.protocol import ChatRequest, Completion, Message
from workbench.pipeline.cache import StageCache, request_key
from workbench.settings import Settings
from workbench.store import open_store

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


def test_clear_one_stage(settings: Settings) -> None:
    cache = StageCache(open_store(settings))
    cache.put("k1", "sql", COMPLETION)
    cache.put("k2", "noise", COMPLETION)
    cache.clear("sql")
    assert (cache.get("k1"), cache.get("k2")) == (None, COMPLETION)
    cache.clear()
    assert len(cache) == 0
