"""The transport's deadline and ceilings, through the real client against a scripted server."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.scripted_server import DEEP_BODY, Reply, ScriptedServer
from workbench.errors import LLMResponseError, LLMTimeout
from workbench.llm.client import OpenAIClient
from workbench.llm.protocol import ChatRequest, Message
from workbench.llm.transport import (
    MAX_BODY_BYTES,
    DepthScanner,
    GuardedTransport,
    ResponseRejected,
)

REQUEST = ChatRequest(model="scripted-model", messages=(Message("user", "how many?"),))


def client_of(server: ScriptedServer, timeout_s: float = 5.0) -> OpenAIClient:
    return OpenAIClient(server.base_url, request_timeout_s=timeout_s, backoff_s=0.01)


def test_a_trickling_body_ends_at_the_deadline_not_at_each_reads_timeout(
    scripted_server: ScriptedServer,
) -> None:
    # ~400 bytes, one every 0.2 s: each read is well inside 1 s, the whole would take 80 s.
    scripted_server.reply("SELECT 1", trickle_s=0.2)
    llm = client_of(scripted_server, timeout_s=1.0)
    with pytest.raises(LLMTimeout, match="longer than 1 s.*WORKBENCH_REQUEST_TIMEOUT_S"):
        llm.complete(REQUEST)
    assert len(scripted_server.chat_requests) == 1  # a deadline is not retried


def test_a_body_that_never_ends_ends_at_the_deadline(scripted_server: ScriptedServer) -> None:
    scripted_server.reply("SELECT 1", trickle_s=0.05, endless=True)
    with pytest.raises(LLMTimeout):
        client_of(scripted_server, timeout_s=1.0).complete(REQUEST)


def test_a_huge_body_is_refused_once_past_the_cap_and_not_retried(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.reply("SELECT 1", endless=True).reply("SELECT 1")
    with pytest.raises(LLMResponseError, match=f"over {MAX_BODY_BYTES:,} bytes"):
        client_of(scripted_server, timeout_s=30.0).complete(REQUEST)
    assert len(scripted_server.chat_requests) == 1


def test_a_deeply_nested_body_is_this_calls_error_not_a_recursion_error(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.respond_with(lambda body: Reply(raw=DEEP_BODY))
    with pytest.raises(LLMResponseError, match="nested over 64 levels deep"):
        client_of(scripted_server).complete(REQUEST)
    # A deterministic garbage answer is not retried (the SDK would call it a connection error).
    assert len(scripted_server.chat_requests) == 1


def test_the_deadline_covers_the_wait_for_the_first_byte(scripted_server: ScriptedServer) -> None:
    scripted_server.reply("late", delay_s=3.0)
    with pytest.raises(LLMTimeout):
        client_of(scripted_server, timeout_s=0.5).complete(REQUEST)


def test_an_answer_within_the_limits_is_read_as_before(scripted_server: ScriptedServer) -> None:
    scripted_server.reply('SELECT [1] AS "{x"', trickle_s=0.001)
    assert client_of(scripted_server).complete(REQUEST).text == 'SELECT [1] AS "{x"'


def test_a_plain_httpx2_client_gets_the_same_guard(scripted_server: ScriptedServer) -> None:
    scripted_server.models_payload = {"data": [{"id": "m"}]}
    small = httpx2.Client(transport=GuardedTransport(max_body_bytes=10), timeout=5.0)
    with small as http, pytest.raises(ResponseRejected, match="over 10 bytes"):
        http.get(f"{scripted_server.base_url}/models")
    with httpx2.Client(transport=GuardedTransport(), timeout=5.0) as http:
        assert http.get(f"{scripted_server.base_url}/models").json()["data"][0]["id"] == "m"


def feed(scanner: DepthScanner, text: str, piece: int) -> None:
    data = text.encode()
    for start in range(0, len(data), piece):
        scanner.feed(data[start : start + piece])


@pytest.mark.parametrize("piece", [1, 2, 3, 1000])
def test_brackets_inside_strings_and_escaped_quotes_do_not_count(piece: int) -> None:
    text = json.dumps({"a": ["[[[[", '\\"[{', {"b": "}}]]"}], "c": '"\\'})
    scanner = DepthScanner(max_depth=3)
    feed(scanner, text, piece)
    assert scanner.depth == 0


@pytest.mark.parametrize("piece", [1, 7, 1000])
def test_depth_past_the_cap_is_refused_in_any_pieces(piece: int) -> None:
    scanner = DepthScanner(max_depth=4)
    with pytest.raises(ResponseRejected, match="nested over 4 levels"):
        feed(scanner, '{"x": "[[[[[[", "y": [[[[[1]]]]]}', piece)
