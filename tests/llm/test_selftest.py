"""The concurrency self-test and the server identity it is stored under."""

from __future__ import annotations

import threading
import time

import pytest

from tests.scripted_llm import ScriptedLLM
from tests.scripted_server import Reply, ScriptedServer
from workbench.errors import ConfigError
from workbench.llm.client import OpenAIClient
from workbench.llm.identity import ServerIdentity, identify, server_started
from workbench.llm.protocol import ChatRequest
from workbench.llm.selftest import (
    QUESTIONS,
    latest_selftest,
    run_selftest,
    save_selftest,
    selftest_requests,
)
from workbench.settings import Settings
from workbench.store import open_store

IDENTITY = ServerIdentity("scripted://llm", flags={"dtype": "float32"})


class BatchSensitive(ScriptedLLM):
    """Answers every prompt the same way alone; the prompts whose question mentions a
    number come out otherwise while another request is in flight (as bf16 batches do)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.responder = self.answer

    def answer(self, request: ChatRequest) -> str:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            crowded = self.in_flight > 1
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        question = request.messages[-1].content
        flipped = crowded and any(ch.isdigit() for ch in question)
        return ("List " if flipped else "Show ") + question


def test_a_server_that_ignores_the_batch_passes() -> None:
    llm = ScriptedLLM()
    llm.responder = lambda request: "Show " + request.messages[-1].content
    result = run_selftest(llm, IDENTITY, selftest_requests("m"), concurrency=4)
    assert result.passed and result.differing == () and result.warm_differing == ()
    assert len(llm.requests) == 3 * len(QUESTIONS)  # cold, warm, concurrent
    assert result.prompts == len(QUESTIONS) and result.concurrency == 4
    assert result.fingerprint == IDENTITY.fingerprint and result.flags == {"dtype": "float32"}
    assert "passed" in result.summary()


def test_a_server_whose_answers_depend_on_the_batch_fails_naming_the_prompts() -> None:
    llm = BatchSensitive()
    result = run_selftest(llm, IDENTITY, selftest_requests("m"), concurrency=4)
    numbered = tuple(i for i, q in enumerate(QUESTIONS) if any(ch.isdigit() for ch in q))
    assert not result.passed
    assert set(result.differing) <= set(numbered) and result.differing
    assert result.warm_differing == ()
    assert llm.most_in_flight > 1  # the concurrent pass really overlapped (not timed: a
    # loaded machine once measured a speedup of less than 1.5 here)
    assert f"{len(result.differing)} of {len(QUESTIONS)} prompts" in result.summary()


def test_the_requests_are_greedy_and_ask_for_logprobs() -> None:
    requests = selftest_requests("m", seed=3)
    assert {(r.temperature, r.seed, r.logprobs, r.model) for r in requests} == {(0.0, 3, True, "m")}


def test_nothing_to_compare_is_refused() -> None:
    with pytest.raises(ConfigError, match="concurrency of 2"):
        run_selftest(ScriptedLLM(), IDENTITY, selftest_requests("m"), concurrency=1)


def test_a_result_is_found_again_for_a_server_that_computes_alike(settings: Settings) -> None:
    engine = open_store(settings)
    llm = ScriptedLLM()
    llm.responder = lambda request: "ok"
    assert latest_selftest(engine, IDENTITY) is None
    result = run_selftest(llm, IDENTITY, selftest_requests("m"), concurrency=2)
    save_selftest(engine, result)
    restarted = ServerIdentity(IDENTITY.endpoint, flags=IDENTITY.flags, started=123.0)
    assert latest_selftest(engine, restarted) == result  # same flags: same numerics
    other = ServerIdentity(IDENTITY.endpoint, flags={"dtype": "bfloat16"})
    assert latest_selftest(engine, other) is None


def test_without_flags_the_identity_is_the_process() -> None:
    with ScriptedServer() as server:
        assert server_started(server.base_url) is None  # no /metrics: unknown
        server.started = 1700000000.5
        first = identify(server.base_url)
        assert first.started == 1700000000.5
        server.started = 1700000999.0
        second = identify(server.base_url)
    assert first.fingerprint != second.fingerprint
    managed = [identify("http://127.0.0.1:9/v1", {"dtype": "x"}) for _ in range(2)]
    assert managed[0].started is None  # nothing answers there
    assert managed[0].fingerprint == managed[1].fingerprint
    assert server_started("scripted://llm") is None


def test_the_self_test_over_http_compares_the_tokens_the_server_returned() -> None:
    with ScriptedServer() as server:
        server.respond_with(lambda body: Reply(content="Show " + body["messages"][-1]["content"]))
        client = OpenAIClient(server.base_url, max_retries=0)
        result = run_selftest(client, identify(client.endpoint), selftest_requests("m"))
    assert result.passed
    assert all(b.get("logprobs") for b in server.chat_requests)
