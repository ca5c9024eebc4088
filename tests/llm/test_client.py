"""The client against a real HTTP server that speaks the OpenAI API from a script."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.scripted_server import MALFORMED, Reply, ScriptedServer
from workbench.errors import LLMResponseError, LLMTimeout, LLMUnavailable
from workbench.llm.client import OpenAIClient, ServedModel, root_url
from workbench.llm.parsing import split_thinking
from workbench.llm.pool import ClientPool, make_llm
from workbench.llm.protocol import LLM, ChatRequest, Message
from workbench.llm.transport import GuardedTransport
from workbench.settings import Settings

QUESTION = (Message("system", "Rewrite the question."), Message("user", "abnormal CBC this qtr"))


def ask(**kwargs: object) -> ChatRequest:
    fields: dict[str, object] = {"model": "scripted-model", "messages": QUESTION}
    fields.update(kwargs)
    return ChatRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def client(scripted_server: ScriptedServer) -> Iterator[OpenAIClient]:
    llm = OpenAIClient(scripted_server.base_url, request_timeout_s=5.0, backoff_s=0.01)
    yield llm
    llm.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- request bodies ----------------------------------------------------------------
def test_plain_request_body(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    scripted_server.reply("abnormal CBC results in Q1 2026")
    client.complete(ask(max_tokens=64, seed=7))
    assert scripted_server.chat_requests == [
        {
            "model": "scripted-model",
            "messages": [
                {"role": "system", "content": "Rewrite the question."},
                {"role": "user", "content": "abnormal CBC this qtr"},
            ],
            "temperature": 0.0,
            "seed": 7,
            "max_tokens": 64,
            "logprobs": True,
            "top_logprobs": 2,
            "chat_template_kwargs": {"enable_thinking": False},
        }
    ]


def test_thinking_stop_and_budget_in_body(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("SELECT 1")
    client.complete(ask(thinking=True, stop=("```", ";"), max_thinking_tokens=300))
    body = scripted_server.chat_requests[0]
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["stop"] == ["```", ";"]
    assert body["thinking_token_budget"] == 300


def test_a_refused_thinking_budget_is_dropped_and_remembered(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    def vllm_without_reasoning_parser(body: dict) -> Reply:
        if "thinking_token_budget" in body:
            return Reply(
                "thinking_token_budget is set but reasoning_config is not configured.", status=400
            )
        return Reply("SELECT 1")

    scripted_server.respond_with(vllm_without_reasoning_parser)
    assert client.complete(ask(thinking=True, max_thinking_tokens=50)).text == "SELECT 1"
    assert client.complete(ask(thinking=True, max_thinking_tokens=50)).text == "SELECT 1"
    sent = ["thinking_token_budget" in body for body in scripted_server.chat_requests]
    assert sent == [True, False, False]
    assert client.thinking_budget_supported is False


def test_budget_is_not_sent_without_thinking(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("x")
    client.complete(ask(max_thinking_tokens=300, logprobs=False))
    body = scripted_server.chat_requests[0]
    assert "thinking_token_budget" not in body
    assert "logprobs" not in body and "top_logprobs" not in body
    assert "stop" not in body


def test_prefill_is_a_final_assistant_message_and_joined_back(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply(" abnormal CBC results\n```")
    completion = client.complete(ask(prefill="```text\n"))
    body = scripted_server.chat_requests[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "```text\n"}
    assert body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False
    assert completion.text == "```text\n abnormal CBC results\n```"


# -- answers -----------------------------------------------------------------------
def test_usage_finish_reason_and_model(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("one two three", prompt_tokens=42, finish_reason="length")
    completion = client.complete(ask())
    assert completion.text == "one two three"
    assert completion.prompt_tokens == 42
    assert completion.completion_tokens == 3
    assert completion.finish_reason == "length"
    assert completion.model == "scripted-model"
    assert completion.latency_s > 0
    assert completion.runaway is False


def test_margins_find_the_smallest_gap(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("SELECT count ( * )", margins=[9.0, 0.25, 3.0, 0.5])
    completion = client.complete(ask())
    assert completion.tokens == ("SELECT", " count", " (", " *", " )")
    assert completion.margins[:4] == pytest.approx((9.0, 0.25, 3.0, 0.5))
    assert completion.min_margin == pytest.approx(0.25)
    assert completion.min_margin_index == 1


def test_no_margins_without_logprobs(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    scripted_server.reply("SELECT 1")
    completion = client.complete(ask(logprobs=False))
    assert completion.margins == ()
    assert completion.min_margin is None and completion.min_margin_index is None


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_from_a_message_field(
    client: OpenAIClient, scripted_server: ScriptedServer, field: str
) -> None:
    scripted_server.reply("SELECT 1", reasoning="count the rows", reasoning_field=field)
    completion = client.complete(ask(thinking=True))
    assert completion.reasoning == "count the rows"
    assert completion.text == "SELECT 1"


def test_reasoning_from_a_think_block(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("<think>\nneed a join\n</think>\n\nSELECT 1", margins=[1, 1, 1, 1, 0.1])
    completion = client.complete(ask(thinking=True))
    assert completion.reasoning == "need a join"
    assert completion.text == "SELECT 1"
    assert "".join(completion.tokens).strip() == "SELECT 1"
    assert "think" not in "".join(completion.tokens)


def test_length_inside_a_think_block_is_a_runaway(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("<think>\nmaybe a join, or maybe", finish_reason="length")
    completion = client.complete(ask(thinking=True))
    assert completion.runaway is True
    assert completion.text == ""
    assert completion.reasoning == "maybe a join, or maybe"


def test_length_inside_reasoning_field_is_a_runaway(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("", reasoning="on and on", finish_reason="length")
    assert client.complete(ask(thinking=True)).runaway is True


def test_length_after_the_thinking_is_not_a_runaway(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("SELECT a, b", reasoning="short", finish_reason="length")
    assert client.complete(ask(thinking=True)).runaway is False


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("plain", ("plain", None, False)),
        ("<think></think>\n\nanswer", ("answer", None, False)),
        ("<think>a</think>b", ("b", "a", False)),
        ("reasoning only closed</think>\nanswer", ("answer", "reasoning only closed", False)),
        ("<think>never closed", ("", "never closed", True)),
        ("mentions <think> midway", ("mentions <think> midway", None, False)),
    ],
)
def test_split_thinking(content: str, expected: tuple[str, str | None, bool]) -> None:
    text, reasoning, unclosed = split_thinking(content)
    assert (text, reasoning or None, unclosed) == expected


# -- discovery, tokens, health ----------------------------------------------------
def test_list_models_includes_lora_adapters() -> None:
    with ScriptedServer(models=("qwen3-32b",), lora=("sql-lora",)) as server:
        llm = OpenAIClient(server.base_url)
        models = llm.list_models()
    assert models == [
        ServedModel(id="qwen3-32b", root="qwen3-32b", owned_by="scripted"),
        ServedModel(
            id="sql-lora", root="/adapters/sql-lora", parent="qwen3-32b", owned_by="scripted"
        ),
    ]
    assert [m.is_adapter for m in models] == [False, True]


def test_count_tokens_posts_to_the_server_root(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    assert client.count_tokens("one two three", "scripted-model") == 3
    assert scripted_server.paths[-1] == "/tokenize"
    assert scripted_server.requests[-1] == {"prompt": "one two three", "model": "scripted-model"}


def test_count_tokens_of_messages(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    client.count_tokens(QUESTION, "m")
    assert scripted_server.requests[-1] == {
        "messages": [
            {"role": "system", "content": "Rewrite the question."},
            {"role": "user", "content": "abnormal CBC this qtr"},
        ],
        "add_generation_prompt": True,
        "model": "m",
    }


def test_count_tokens_of_a_request_matches_what_complete_sends(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    request = ask(thinking=True, prefill="SELECT")
    client.count_tokens(request)
    sent = scripted_server.requests[-1]
    assert sent == {
        "model": "scripted-model",
        "messages": [
            {"role": "system", "content": "Rewrite the question."},
            {"role": "user", "content": "abnormal CBC this qtr"},
            {"role": "assistant", "content": "SELECT"},
        ],
        "chat_template_kwargs": {"enable_thinking": True},
        "add_generation_prompt": False,
        "continue_final_message": True,
    }


def test_health(client: OpenAIClient) -> None:
    assert client.health() is True
    assert OpenAIClient(f"http://127.0.0.1:{free_port()}/v1").health() is False


def test_root_url() -> None:
    assert root_url("http://h:8000/v1") == "http://h:8000"
    assert root_url("http://h:8000/v1/") == "http://h:8000"
    assert root_url("http://h:8000/proxy") == "http://h:8000/proxy"


# -- error paths -------------------------------------------------------------------
def test_refused_connection_says_how_to_start_a_server() -> None:
    port = free_port()
    llm = OpenAIClient(f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01)
    with pytest.raises(LLMUnavailable) as info:
        llm.complete(ask())
    message = str(info.value)
    assert f"no model server at http://127.0.0.1:{port}" in message
    assert "python -m workbench serve" in message and "WORKBENCH_BASE_URL" in message


def test_refused_connection_is_retried_until_the_server_is_up() -> None:
    server = ScriptedServer()
    port = free_port()
    attempts: list[int] = []

    class LateClient(OpenAIClient):
        def _with_retries(self, call, what):  # type: ignore[no-untyped-def]
            def counted():  # type: ignore[no-untyped-def]
                attempts.append(1)
                if len(attempts) == 2:  # the server comes up between attempts
                    server.start(port)
                    server.reply("ready")
                return call()

            return super()._with_retries(counted, what)

    llm = LateClient(f"http://127.0.0.1:{port}/v1", max_retries=3, backoff_s=0.01)
    try:
        assert llm.complete(ask()).text == "ready"
    finally:
        server.stop()
    assert len(attempts) == 2


def test_timeout_is_not_retried(scripted_server: ScriptedServer) -> None:
    scripted_server.reply("late", delay_s=2.0).reply("second")
    llm = OpenAIClient(scripted_server.base_url, request_timeout_s=0.3, backoff_s=0.01)
    with pytest.raises(LLMTimeout, match="WORKBENCH_REQUEST_TIMEOUT_S"):
        llm.complete(ask())
    assert len(scripted_server.chat_requests) == 1


def test_500_then_success_is_retried(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    scripted_server.reply("engine hiccup", status=500).reply("fine")
    completion = client.complete(ask())
    assert completion.text == "fine"
    assert len(scripted_server.chat_requests) == 2
    assert scripted_server.chat_requests[0] == scripted_server.chat_requests[1]


def test_500_forever_gives_up_after_the_retries(scripted_server: ScriptedServer) -> None:
    for _ in range(5):
        scripted_server.reply("engine dead", status=503)
    llm = OpenAIClient(scripted_server.base_url, max_retries=2, backoff_s=0.01)
    with pytest.raises(LLMResponseError, match=r"HTTP 503: engine dead"):
        llm.complete(ask())
    assert len(scripted_server.chat_requests) == 3


def test_4xx_is_not_retried(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    scripted_server.reply("The model `nope` does not exist.", status=404).reply("unused")
    with pytest.raises(LLMResponseError, match="does not exist.*check the model name"):
        client.complete(ask(model="nope"))
    assert len(scripted_server.chat_requests) == 1


def test_invalid_json(client: OpenAIClient, scripted_server: ScriptedServer) -> None:
    scripted_server.reply(raw=b"<html>proxy error</html>", status=200)
    with pytest.raises(LLMResponseError, match="invalid JSON.*proxy error"):
        client.complete(ask())


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        ({"id": "x", "object": "chat.completion"}, "choices"),
        ({"choices": [{"index": 0, "finish_reason": "stop"}]}, "message"),
        ({"choices": []}, "no choices"),
    ],
)
def test_missing_fields(
    client: OpenAIClient, scripted_server: ScriptedServer, payload: dict, missing: str
) -> None:
    scripted_server.reply(raw=json.dumps(payload).encode())
    with pytest.raises(LLMResponseError, match=missing):
        client.complete(ask())


@pytest.mark.parametrize("shape", MALFORMED)
def test_every_malformed_answer_is_a_response_error_naming_what_is_wrong(
    scripted_server: ScriptedServer, shape: str
) -> None:
    scripted_server.respond_with(lambda body: MALFORMED[shape])
    llm = OpenAIClient(scripted_server.base_url, max_retries=1, backoff_s=0.01)
    with pytest.raises(LLMResponseError) as caught:
        llm.complete(ask())
    message = str(caught.value)
    assert any(
        word in message for word in ("malformed", "invalid JSON", "HTTP 500", "dropped", "nested")
    )


def test_a_dropped_connection_is_retried_like_a_5xx(
    client: OpenAIClient, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply(drop=True).reply("fine")
    assert client.complete(ask()).text == "fine"
    assert len(scripted_server.chat_requests) == 2


def test_a_server_gone_for_good_after_a_drop_is_unavailable() -> None:
    server = ScriptedServer().start()

    def die(body: dict) -> Reply:
        threading.Thread(target=server.stop).start()  # the server goes away mid-request
        time.sleep(0.3)
        return Reply(drop=True)

    server.respond_with(die)
    llm = OpenAIClient(server.base_url, max_retries=2, backoff_s=0.05)
    with pytest.raises(LLMUnavailable, match="no model server"):
        llm.complete(ask())


def test_a_malformed_model_list_is_a_response_error(
    scripted_server: ScriptedServer,
) -> None:
    llm = OpenAIClient(scripted_server.base_url, max_retries=0)
    scripted_server.models_payload = {"data": [{"id": 7}]}
    with pytest.raises(LLMResponseError, match=r"'data\[0\]\.id'"):
        llm.list_models()
    scripted_server.models_payload = {"data": "everything"}
    with pytest.raises(LLMResponseError, match="'data'"):
        llm.list_models()


def test_model_list_with_missing_data(scripted_server: ScriptedServer) -> None:
    def broken(body: dict) -> Reply:
        raise AssertionError("not a chat call")

    scripted_server.respond_with(broken)
    scripted_server.models_payload = {"object": "list"}
    with pytest.raises(LLMResponseError, match="'data'"):
        OpenAIClient(scripted_server.base_url).list_models()


# -- the pool and the factory -----------------------------------------------------
def test_pool_goes_round_robin() -> None:
    with ScriptedServer() as first, ScriptedServer() as second:
        first.respond_with(lambda body: Reply("from first"))
        second.respond_with(lambda body: Reply("from second"))
        pool = ClientPool([OpenAIClient(first.base_url), OpenAIClient(second.base_url)])
        texts = [pool.complete(ask()).text for _ in range(4)]
        assert texts == ["from first", "from second", "from first", "from second"]
        assert pool.endpoint == f"{first.base_url},{second.base_url}"


def test_make_llm(settings: Settings) -> None:
    single = make_llm(settings)
    assert isinstance(single, OpenAIClient) and isinstance(single, LLM)
    assert single.endpoint == "http://127.0.0.1:8000/v1"
    pooled = make_llm(settings.model_copy(update={"base_url": "http://a:1/v1, http://b:2/v1"}))
    assert isinstance(pooled, ClientPool)
    assert pooled.endpoint == "http://a:1/v1,http://b:2/v1"


@pytest.mark.parametrize(
    ("shape", "named"),
    [
        ("prompt_tokens is absurd", r"'usage\.prompt_tokens' input should be less than or equal"),
        ("completion_tokens is negative", r"'usage\.completion_tokens' input should be greater"),
        ("a logprob is NaN", r"logprob' input should be a finite number"),
        ("a logprob is positive", r"logprob' input should be less than or equal"),
        ("a top logprob is infinite", r"top_logprobs\[0\]\.logprob' input should be a finite"),
    ],
)
def test_absurd_numbers_are_the_calls_error_not_stored(
    client: OpenAIClient, scripted_server: ScriptedServer, shape: str, named: str
) -> None:
    scripted_server.reply(raw=MALFORMED[shape].raw)
    with pytest.raises(LLMResponseError, match=named):
        client.complete(ask())


def test_a_deep_model_list_is_an_error_and_health_never_raises(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.models_payload = {"data": [{"id": "m", "x": [[[[[[[[[[[[[]]]]]]]]]]]]]}]}
    llm = OpenAIClient(scripted_server.base_url, max_retries=0)
    assert [m.id for m in llm.list_models()] == ["m"]  # 15 levels are fine
    llm._http = httpx2.Client(transport=GuardedTransport(max_depth=8), timeout=5.0)
    with pytest.raises(LLMResponseError, match="model list at .* nested over 8 levels"):
        llm.list_models()
    assert llm.health() is True
