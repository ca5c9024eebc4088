"""The HTTP transport under every model call: a total deadline and a ceiling on the answer.

httpx2's timeouts bound each *read*, not the request: a server that sends one byte every few
seconds, or a body that never ends, holds a call (and the run) for as long as it likes. And a
body is handed to ``json`` whole: one 200,000 levels deep ends the process's recursion, and
one of gigabytes its memory. Both are faults of one answer, so this transport makes each an
error of that call, before any JSON parser sees the bytes:

- **deadline**: a request's ``read`` timeout (``request_timeout_s``, or a call's own, like
  ``health``'s 2 s) bounds the whole request, from connecting to the last byte of the body.
  Every connect, write and read on the socket is given at most the time left, and one that
  starts after the deadline fails at once, as an ``httpx2`` timeout: the SDK and our client
  classify it as they always did (``LLMTimeout``, not retried).
- **size**: a body longer than ``MAX_BODY_BYTES`` is refused as it arrives.
- **nesting**: a body nesting ``[``/``{`` deeper than ``MAX_JSON_DEPTH`` (outside JSON strings)
  is refused as it arrives.

A refused body raises ``ResponseRejected``, which is deliberately not an ``httpx2`` error: the
``openai`` SDK would wrap one as a connection error and our client would retry it, and a
server that answers garbage deterministically answers it again. The client turns it into an
``LLMResponseError`` of that call.

The deadline needs the socket operations themselves, so the transport wraps the network backend
of httpx2's connection pool (the pool's ``_network_backend``: httpx2 offers no public way to
pass one; the lock makes an upgrade that moves it a deliberate step, and the tests would fail).
The deadline is kept per thread: a sync request runs, body included, in its caller's thread.
Requests that httpx2 sends through a proxy from the environment (``HTTP_PROXY``) use the proxy's
own transport and get only the per-read timeout.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore2
import httpx2

MAX_BODY_BYTES = 16 * 1024**2
"""The largest answer read. A chat completion with top-2 logprobs of 8,000 tokens is about
3 MB; the model list, /metrics and /tokenize are far smaller."""
MAX_JSON_DEPTH = 64
"""The deepest ``[``/``{`` nesting read. A chat completion nests 6 levels; Python's JSON parser
and pydantic recurse once per level and fail near 1,000."""

_STRUCTURAL = re.compile(rb'["\\\[\]{}]')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")

_local = threading.local()


class ResponseRejected(Exception):
    """The answer's body is too large or too deeply nested to read (not retried)."""


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's transport with a total deadline per request and a ceiling on each body."""

    def __init__(
        self, *, max_body_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
    ) -> None:
        super().__init__()
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        pool = self._pool
        pool._network_backend = _DeadlineBackend(pool._network_backend)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        budget = request.extensions.get("timeout", {}).get("read")
        deadline = None if budget is None else time.monotonic() + budget
        with _deadline(deadline):
            response = super().handle_request(request)
        body = _GuardedBody(response.stream, deadline, self.max_body_bytes, self.max_depth)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=body,
            extensions=response.extensions,
            request=request,
        )


class _GuardedBody(httpx2.SyncByteStream):
    """The body as it arrives: under the request's deadline, counted and depth-checked."""

    def __init__(
        self, inner: httpx2.SyncByteStream, deadline: float | None, max_bytes: int, max_depth: int
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._depth = DepthScanner(max_depth)
        self._seen = 0

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            with _deadline(self._deadline):
                chunk = next(chunks, None)
            if chunk is None:
                return
            self._seen += len(chunk)
            if self._seen > self._max_bytes:
                raise ResponseRejected(
                    f"answered with a body over {self._max_bytes:,} bytes (the most read)"
                )
            self._depth.feed(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DepthScanner:
    """The nesting depth of JSON bytes fed in pieces, without parsing them.

    Only quotes, backslashes, brackets and braces matter; a bracket inside a string does not
    count. Invalid JSON is not this scanner's business (the parser refuses it later); its only
    job is to stop a body before a recursive parser meets it.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes) -> None:
        skip = 0 if self._escaped else -1
        self._escaped = False
        for match in _STRUCTURAL.finditer(chunk):
            at = match.start()
            if at == skip:
                continue
            byte = chunk[at]
            if self._in_string:
                if byte == _BACKSLASH:
                    skip = at + 1
                    self._escaped = skip == len(chunk)
                elif byte == _QUOTE:
                    self._in_string = False
            elif byte == _QUOTE:
                self._in_string = True
            elif byte in _OPEN:
                self.depth += 1
                if self.depth > self.max_depth:
                    raise ResponseRejected(
                        f"answered with a body nested over {self.max_depth} levels deep "
                        "(not a chat completion; is something else listening there?)"
                    )
            elif byte in _CLOSE:
                self.depth = max(self.depth - 1, 0)


@contextmanager
def _deadline(deadline: float | None) -> Iterator[None]:
    """Socket operations in this block (this thread) end by ``deadline`` (monotonic)."""
    before = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = before


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` lowered to the time left before this thread's deadline."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A socket whose every operation takes at most the time left before the deadline."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: object,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        left = _time_left(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    """Connections whose sockets keep the deadline of the request in this thread."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore2.NetworkStream:
        left = _time_left(timeout, httpcore2.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)  # type: ignore[arg-type]
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore2.NetworkStream:
        left = _time_left(timeout, httpcore2.ConnectTimeout)
        stream = self._inner.connect_unix_socket(path, left, socket_options)  # type: ignore[arg-type]
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
