"""A real HTTP server that speaks the OpenAI chat-completions API from a script.

Tests queue replies (or install a responder function), point the real client at
``server.base_url`` and afterwards read ``server.requests`` to assert the exact
bodies that went out. It also answers ``/v1/models``, ``/tokenize`` and
``/health`` the way vLLM does.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer to a chat completion."""

    content: str = ""
    reasoning: str | None = None
    reasoning_field: str = "reasoning"
    finish_reason: str = "stop"
    margins: list[float] | None = None
    """Per generated token (whitespace-split words of content): top1 - top2 logprob."""
    status: int = 200
    raw: bytes | None = None
    """Send these bytes as the body instead of a well-formed completion."""
    drop: bool = False
    """Close the connection without answering (a server that died mid-request)."""
    delay_s: float = 0.0
    trickle_s: float = 0.0
    """Send the body one byte at a time, this long apart (a server that trickles)."""
    endless: bool = False
    """After the body, send blanks until the client hangs up (a body that never ends; with
    ``trickle_s`` a chunk every ``trickle_s``, else as fast as the socket takes them)."""
    prompt_tokens: int = 17
    completion_tokens: int | None = None
    """Report this instead of the count of generated words."""
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Responder = Callable[[dict[str, Any]], Reply]


def _tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text) or ([text] if text else [])


class ScriptedServer:
    def __init__(self, models: tuple[str, ...] = ("scripted-model",), lora: tuple[str, ...] = ()):
        self.models = models
        self.lora = lora
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.queue: deque[Reply] = deque()
        self.responder: Responder | None = None
        self.models_payload: dict[str, Any] | None = None
        """Answer /v1/models with this body instead of the model list."""
        self.started: float | None = None
        """When set, ``/metrics`` reports it as the process start time (as vLLM does);
        changing it is how a test restarts the server."""
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------
    def reply(self, content: str = "", **kwargs: Any) -> ScriptedServer:
        self.queue.append(Reply(content=content, **kwargs))
        return self

    def respond_with(self, responder: Responder) -> ScriptedServer:
        self.responder = responder
        return self

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [
            r
            for r, p in zip(self.requests, self.paths, strict=True)
            if p.endswith("/chat/completions")
        ]

    # -- lifecycle -------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self, port: int = 0) -> ScriptedServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers ---------------------------------------------------------
    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.queue:
                return self.queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply(status=500, raw=b'{"error": {"message": "script exhausted"}}')

    def completion_body(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        tokens = _tokens(reply.content)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning is not None:
            message[reply.reasoning_field] = reply.reasoning
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": reply.finish_reason,
        }
        if body.get("logprobs"):
            margins = reply.margins or [5.0] * len(tokens)
            content = []
            for i, tok in enumerate(tokens):
                gap = margins[i] if i < len(margins) else 5.0
                chosen = -0.01
                content.append(
                    {
                        "token": tok,
                        "logprob": chosen,
                        "bytes": list(tok.encode()),
                        "top_logprobs": [
                            {"token": tok, "logprob": chosen, "bytes": list(tok.encode())},
                            {"token": "<alt>", "logprob": chosen - gap, "bytes": list(b"<alt>")},
                        ],
                    }
                )
            choice["logprobs"] = {"content": content}
        completion_tokens = len(tokens) + len(_tokens(reply.reasoning or ""))
        if reply.completion_tokens is not None:
            completion_tokens = reply.completion_tokens
        result = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body.get("model", self.models[0]),
            "choices": [choice],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": reply.prompt_tokens + completion_tokens,
            },
        }
        result.update(reply.extra)
        return result


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(
            self, status: int, payload: bytes, content_type: str = "application/json"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up waiting (a deadline test)
                self.wfile.write(payload)

        def _stream(self, reply: Reply, payload: bytes) -> None:
            """``payload`` trickled and/or followed by blanks forever, as ``reply`` says."""
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            if reply.endless:
                self.send_header("Connection", "close")  # the body ends when the socket does
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            step = 1 if reply.trickle_s else max(len(payload), 1)
            try:
                for start in range(0, len(payload), step):
                    self.wfile.write(payload[start : start + step])
                    time.sleep(reply.trickle_s)
                while reply.endless and server._httpd is not None:
                    self.wfile.write(b" " * (1 if reply.trickle_s else 65536))
                    time.sleep(reply.trickle_s)
            except OSError:  # the client hung up, as it should
                pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models") and server.models_payload is not None:
                self._send(200, json.dumps(server.models_payload).encode())
            elif self.path.rstrip("/").endswith("/models"):
                data = [
                    {"id": m, "object": "model", "owned_by": "scripted", "root": m}
                    for m in server.models
                ]
                data += [
                    {
                        "id": a,
                        "object": "model",
                        "owned_by": "scripted",
                        "root": "/adapters/" + a,
                        "parent": server.models[0],
                    }
                    for a in server.lora
                ]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())
            elif self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, b"")
            elif self.path.rstrip("/") == "/metrics" and server.started is not None:
                metrics = f"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {server.started}\n"
                self._send(200, metrics.encode(), "text/plain")
            else:
                self._send(404, b'{"detail": "Not Found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {"_raw": raw.decode(errors="replace")}
            with server._lock:
                server.requests.append(body)
                server.paths.append(self.path)
            if self.path.rstrip("/").endswith("/tokenize"):
                if "messages" in body:
                    text = "".join(m.get("content", "") for m in body["messages"])
                else:
                    text = body.get("prompt", "")
                tokens = _tokens(text)
                self._send(
                    200,
                    json.dumps(
                        {
                            "count": len(tokens),
                            "max_model_len": 8192,
                            "tokens": list(range(len(tokens))),
                        }
                    ).encode(),
                )
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"detail": "Not Found"}')
                return
            reply = server._next_reply(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.drop:
                self.close_connection = True  # the server closes the socket, no answer sent
                return
            if reply.trickle_s or reply.endless:
                payload = reply.raw
                if payload is None:
                    payload = json.dumps(server.completion_body(body, reply)).encode()
                self._stream(reply, payload)
                return
            if reply.raw is not None:
                self._send(reply.status, reply.raw)
                return
            if reply.status != 200:
                self._send(
                    reply.status,
                    json.dumps({"error": {"message": reply.content or "scripted error"}}).encode(),
                )
                return
            self._send(200, json.dumps(server.completion_body(body, reply)).encode())

    return Handler


def _completion(**changes: Any) -> bytes:
    """A well-formed chat completion body with some fields replaced."""
    body: dict[str, Any] = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "model": "scripted-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "SELECT 1"},
                "finish_reason": "stop",
                "logprobs": {
                    "content": [
                        {"token": "SELECT", "logprob": -0.1, "top_logprobs": []},
                        {"token": " 1", "logprob": -0.2, "top_logprobs": []},
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    choice = body["choices"][0]
    for path, value in changes.items():
        target = {"body": body, "choice": choice, "message": choice["message"]}[path.split("__")[0]]
        target[path.split("__")[1]] = value
    return json.dumps(body).encode()


DEEP_BODY = b'{"choices": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
"""A body no recursive JSON parser can read (it ended runs with a RecursionError)."""

MALFORMED: dict[str, Reply] = {
    "message is a string": Reply(raw=_completion(choice__message="SELECT 1")),
    "content is a list": Reply(raw=_completion(message__content=[{"type": "text", "text": "x"}])),
    "reasoning is a number": Reply(raw=_completion(message__reasoning=42)),
    "usage is not a number": Reply(raw=_completion(body__usage={"prompt_tokens": "many"})),
    "usage is a list": Reply(raw=_completion(body__usage=[1, 2])),
    "logprob entries are strings": Reply(raw=_completion(choice__logprobs={"content": ["a", "b"]})),
    "a logprob is a string": Reply(
        raw=_completion(choice__logprobs={"content": [{"token": "a", "logprob": "-0.1"}]})
    ),
    "top logprobs are strings": Reply(
        raw=_completion(
            choice__logprobs={"content": [{"token": "a", "logprob": -0.1, "top_logprobs": ["a"]}]}
        )
    ),
    "finish_reason is a number": Reply(raw=_completion(choice__finish_reason=1)),
    "model is a list": Reply(raw=_completion(body__model=["m"])),
    "choices is an object": Reply(raw=_completion(body__choices={"0": {}})),
    "choices is empty": Reply(raw=_completion(body__choices=[])),
    "choice without a message": Reply(raw=json.dumps({"choices": [{"index": 0}]}).encode()),
    "body is a list": Reply(raw=b"[1, 2, 3]"),
    "body is null": Reply(raw=b"null"),
    "body is a string": Reply(raw=b'"SELECT 1"'),
    "body is not JSON": Reply(raw=b"<html>502 Bad Gateway</html>"),
    "body is cut off": Reply(raw=_completion()[:40]),
    "body is not UTF-8": Reply(raw=b'{"choices": [{"message": {"content": "\xff\xfe"}}]}'),
    "prompt_tokens is absurd": Reply(raw=_completion(body__usage={"prompt_tokens": 10**30})),
    "completion_tokens is negative": Reply(
        raw=_completion(body__usage={"prompt_tokens": 3, "completion_tokens": -5})
    ),
    "a logprob is NaN": Reply(
        raw=_completion(choice__logprobs={"content": [{"token": "a", "logprob": float("nan")}]})
    ),
    "a logprob is positive": Reply(
        raw=_completion(choice__logprobs={"content": [{"token": "a", "logprob": 3.5}]})
    ),
    "a top logprob is infinite": Reply(
        raw=_completion(
            choice__logprobs={
                "content": [
                    {
                        "token": "a",
                        "logprob": -0.1,
                        "top_logprobs": [{"token": "b", "logprob": float("-inf")}],
                    }
                ]
            }
        )
    ),
    "body nested 200,000 levels deep": Reply(raw=DEEP_BODY),
    "HTTP 500 every time": Reply(content="engine dead", status=500),
    "connection dropped": Reply(drop=True),
}
"""Answers a chat completion must never crash on: each is an LLMResponseError of that call."""
