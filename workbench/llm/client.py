"""The real LLM: any OpenAI-compatible server, vLLM first.

Chat completions go through the official ``openai`` client; the two vLLM
endpoints that live at the server root (``/tokenize`` and ``/health``) and the
model list go through a plain HTTP client of the same stack the SDK uses (``httpx2``
for openai 3). One stack means one set of transport exceptions to classify below (a
refused connection looks the same whether the SDK or we saw it), one connection and
certificate setup, and one library to upgrade; the cost is that we follow the SDK when
it moves, which the lock makes a deliberate step. The timeout handed to the SDK is its
own ``openai.Timeout``, the type it documents, so the SDK's choice of transport never
reaches our code through a type we built with another library. The client never retries on its own
(``max_retries=0``): we retry, with backoff, only what a retry can fix: a refused
connection (the server is still starting), a connection dropped mid-request and a 5xx.
A timeout is not retried: a request that took the whole budget once will take it again.
The budget bounds the whole request, body included, and a body too large or too deeply nested
to read is refused before it is parsed (``workbench.llm.transport``): an error of this call,
not retried, since a server answers garbage like that again.
When the retries run out, a server that refuses connections is *unavailable* (a smoke run
stops, resumable); one that keeps dropping them or failing is an error of this call.

Answers are parsed by ``workbench.llm.parsing``; the model list keeps vLLM's LoRA
``parent`` field, which the ``openai`` types drop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import openai

from workbench.errors import LLMError, LLMResponseError, LLMTimeout, LLMUnavailable
from workbench.llm.parsing import (
    ModelListBody,
    TokenizeBody,
    parse_completion,
    validate_body,
)
from workbench.llm.protocol import ChatRequest, Completion, Message
from workbench.llm.transport import GuardedTransport, ResponseRejected
from workbench.settings import Settings
from workbench.urls import redact_url, refuse_credentials

T = TypeVar("T")


@dataclass(frozen=True)
class ServedModel:
    """One entry of ``/v1/models``; LoRA adapters carry the base model as ``parent``."""

    id: str
    root: str | None = None
    parent: str | None = None
    owned_by: str | None = None
    max_model_len: int | None = None

    @property
    def is_adapter(self) -> bool:
        return self.parent is not None


def root_url(base_url: str) -> str:
    """The server root for a ``.../v1`` base URL (vLLM serves /tokenize and /health there)."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a chat completion, vLLM extras included (what goes on the wire)."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": _wire_messages(request),
        "temperature": request.temperature,
        "seed": request.seed,
        "max_tokens": request.max_tokens,
        "chat_template_kwargs": {"enable_thinking": request.thinking},
    }
    if request.stop:
        body["stop"] = list(request.stop)
    if request.logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = 2
    if request.prefill is not None:
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    if request.thinking and request.max_thinking_tokens is not None:
        body["thinking_token_budget"] = request.max_thinking_tokens
    return body


def _wire_messages(request: ChatRequest) -> list[dict[str, str]]:
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    if request.prefill is not None:
        messages.append({"role": "assistant", "content": request.prefill})
    return messages


class OpenAIClient:
    """The LLM protocol over one OpenAI-compatible base URL.

    Args:
        base_url: OpenAI-style URL ending in ``/v1``.
        api_key: any string for local servers.
        connect_timeout_s: the limit on connecting.
        request_timeout_s: the limit on a whole request, connecting to the body's last
            byte (``workbench.llm.transport``), not on each read.
        max_retries: extra attempts after a refused connection or a 5xx.
        backoff_s: first wait between attempts; doubles each time.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "EMPTY",
        connect_timeout_s: float = 5.0,
        request_timeout_s: float = 300.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
    ):
        self.base_url = refuse_credentials(base_url.rstrip("/"))
        self.root_url = root_url(self.base_url)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._timeout = openai.Timeout(request_timeout_s, connect=connect_timeout_s)
        self._openai = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            timeout=self._timeout,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(
                transport=GuardedTransport(), timeout=self._timeout
            ),
        )
        self._http = httpx2.Client(
            transport=GuardedTransport(),
            timeout=httpx2.Timeout(request_timeout_s, connect=connect_timeout_s),
        )
        self.thinking_budget_supported = True

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str | None = None) -> OpenAIClient:
        return cls(
            base_url or settings.base_urls[0],
            api_key=settings.api_key,
            connect_timeout_s=settings.connect_timeout_s,
            request_timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
        )

    @property
    def endpoint(self) -> str:
        """The base URL as runs and self-tests record it (never with credentials)."""
        return redact_url(self.base_url)

    def close(self) -> None:
        self._openai.close()
        self._http.close()

    # -- chat --------------------------------------------------------------
    def complete(self, request: ChatRequest) -> Completion:
        """Run one chat completion; raises an ``LLMError`` subclass on failure.

        A thinking budget is a vLLM extra that only servers with a reasoning parser
        accept; when the server refuses it, the request is sent again without it
        (``max_tokens`` still caps the thinking) and later requests leave it out.
        """
        try:
            return self._complete(request, budget=self.thinking_budget_supported)
        except LLMResponseError as exc:
            if "thinking_token_budget" not in str(exc) or "thinking_token_budget" not in (
                request_body(request)
            ):
                raise
            self.thinking_budget_supported = False
            return self._complete(request, budget=False)

    def _complete(self, request: ChatRequest, *, budget: bool) -> Completion:
        body = request_body(request)
        if not budget:
            body.pop("thinking_token_budget", None)
        extra = {k: v for k, v in body.items() if k not in _OPENAI_ARGS}

        def call() -> httpx2.Response:
            raw = self._openai.chat.completions.with_raw_response.create(
                model=body["model"],
                messages=body["messages"],
                temperature=body["temperature"],
                seed=body["seed"],
                max_tokens=body["max_tokens"],
                stop=body.get("stop", openai.omit),
                logprobs=body.get("logprobs", openai.omit),
                top_logprobs=body.get("top_logprobs", openai.omit),
                extra_body=extra,
            )
            return raw.http_response

        started = time.perf_counter()
        response = self._with_retries(call, "chat completion")
        latency = time.perf_counter() - started
        return parse_completion(_json(response, "chat completion"), request, latency)

    # -- discovery ---------------------------------------------------------
    def list_models(self) -> list[ServedModel]:
        """What the server serves, LoRA adapters included."""
        response = self._with_retries(lambda: self._get(f"{self.base_url}/models"), "model list")
        body = validate_body(ModelListBody, _json(response, "model list"), "model list")
        return [
            ServedModel(
                id=entry.id,
                root=entry.root,
                parent=entry.parent,
                owned_by=entry.owned_by,
                max_model_len=entry.max_model_len,
            )
            for entry in body.data
        ]

    def count_tokens(
        self, what: str | Sequence[Message] | ChatRequest, model: str | None = None
    ) -> int:
        """Exact prompt tokens from the server's ``/tokenize``.

        A ``ChatRequest`` is counted the way ``complete`` would send it (thinking
        switch and prefill included), so the count equals ``usage.prompt_tokens``.
        """
        if isinstance(what, ChatRequest):
            wire = request_body(what)
            body: dict[str, Any] = {
                "model": model or what.model,
                "messages": wire["messages"],
                "chat_template_kwargs": wire["chat_template_kwargs"],
                "add_generation_prompt": wire.get("add_generation_prompt", True),
            }
            if what.prefill is not None:
                body["continue_final_message"] = True
        elif isinstance(what, str):
            body = {"prompt": what}
        else:
            body = {
                "messages": [{"role": m.role, "content": m.content} for m in what],
                "add_generation_prompt": True,
            }
        if "model" not in body and model is not None:
            body["model"] = model
        response = self._with_retries(
            lambda: self._post(f"{self.root_url}/tokenize", body), "tokenize"
        )
        return validate_body(TokenizeBody, _json(response, "tokenize"), "tokenize").count

    def health(self) -> bool:
        """True when ``GET /health`` at the server root answers 200; never raises."""
        try:
            return self._http.get(f"{self.root_url}/health", timeout=2.0).status_code == 200
        except (httpx2.HTTPError, ResponseRejected):
            return False

    # -- plumbing ----------------------------------------------------------
    def _get(self, url: str) -> httpx2.Response:
        return _raise_for_status(self._http.get(url))

    def _post(self, url: str, body: dict[str, Any]) -> httpx2.Response:
        return _raise_for_status(self._http.post(url, json=body))

    def _with_retries(self, call: Callable[[], T], what: str) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except ResponseRejected as exc:
                raise LLMResponseError(
                    f"{what} at {self.base_url} {exc}; see the server's log"
                ) from exc
            except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
                raise LLMTimeout(
                    f"{what} at {self.base_url} took longer than {self._timeout.read:g} s; "
                    "raise WORKBENCH_REQUEST_TIMEOUT_S or lower max_tokens"
                ) from exc
            except (openai.APIConnectionError, httpx2.TransportError) as exc:
                if attempt >= self.max_retries and _refused(exc):
                    raise LLMUnavailable(
                        f"no model server at {self.root_url} — start one with "
                        "`python -m workbench serve` or set WORKBENCH_BASE_URL"
                    ) from exc
                if attempt >= self.max_retries:
                    raise LLMResponseError(
                        f"the connection to {self.base_url} dropped during {what}, "
                        f"{attempt + 1} times in a row ({_cause(exc)}); see the server's log"
                    ) from exc
            except (openai.APIStatusError, _StatusError) as exc:
                status = exc.status_code
                if status < 500 or attempt >= self.max_retries:
                    raise _status_error(what, self.base_url, status, _error_text(exc)) from exc
            time.sleep(self.backoff_s * 2**attempt)
            attempt += 1


_OPENAI_ARGS = frozenset(
    {"model", "messages", "temperature", "seed", "max_tokens", "stop", "logprobs", "top_logprobs"}
)


class _StatusError(Exception):
    def __init__(self, response: httpx2.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.status_code = response.status_code
        self.response = response


def _raise_for_status(response: httpx2.Response) -> httpx2.Response:
    if response.status_code >= 400:
        raise _StatusError(response)
    return response


def _cause(exc: BaseException) -> str:
    """The innermost exception's words (openai's own wrapper says only "Connection error.")."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return f"{type(seen).__name__}: {seen}" if str(seen) else type(seen).__name__


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx2.ConnectError | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _error_text(exc: openai.APIStatusError | _StatusError) -> str:
    try:
        text = exc.response.text
    except Exception:  # a streamed or closed body: the status says enough
        return ""
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(payload, dict):
        err = payload.get("error", payload.get("detail", payload))
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:300]
        return str(err)[:300]
    return text[:300]


def _status_error(what: str, base_url: str, status: int, detail: str) -> LLMError:
    hint = ""
    if status == 404:
        hint = "; check the model name (python -m workbench models) and WORKBENCH_BASE_URL"
    elif status >= 500:
        hint = "; the server failed: see its log (python -m workbench serve, or the Server page)"
    elif status == 400:
        hint = "; the server rejected the request (model context length, unknown parameter?)"
    return LLMResponseError(f"{what} at {base_url} failed with HTTP {status}: {detail}{hint}")


def _json(response: httpx2.Response, what: str) -> Any:
    """The body as JSON, or an LLMResponseError of this call.

    The transport refuses bodies nested deeper than a parser can take; ``RecursionError`` is
    caught too, so that no answer can end a run by exhausting the stack.
    """
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        raise LLMResponseError(
            f"{what} at {response.request.url} returned invalid JSON: {response.text[:200]!r}"
        ) from exc
