"""Several servers behind one LLM: a smoke run spread over a pool of base URLs.

A smoke case is pinned to one server for all its repeats (``pin``), so that a flake is
one server's flake and not two servers disagreeing; the cases are spread over the pool
by rendezvous hashing of the case id, so a case meets the same server in every run
(its stored answers stay comparable) and growing or shrinking the pool moves only the
cases of the servers that came or went.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Sequence

from workbench.llm.client import OpenAIClient
from workbench.llm.protocol import LLM, ChatRequest, Completion
from workbench.settings import Settings


class ClientPool:
    """Round-robin over several clients: spreads a smoke run over several servers."""

    def __init__(self, clients: Sequence[LLM]):
        if not clients:
            raise ValueError("a ClientPool needs at least one client")
        self.clients = tuple(clients)
        self._next = itertools.cycle(self.clients)
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return ",".join(c.endpoint for c in self.clients)

    def pick(self) -> LLM:
        """The next client in turn (thread-safe)."""
        with self._lock:
            return next(self._next)

    def pinned(self, key: str) -> LLM:
        """The client ``key`` (a case id) always goes to, whatever else runs."""
        return max(self.clients, key=lambda client: _weight(key, client.endpoint))

    def complete(self, request: ChatRequest) -> Completion:
        return self.pick().complete(request)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _weight(key: str, endpoint: str) -> bytes:
    return hashlib.sha256(f"{key}\n{endpoint}".encode()).digest()


def pin(llm: LLM, key: str) -> LLM:
    """The one server of ``llm`` that ``key`` goes to (``llm`` itself unless it is a pool)."""
    return llm.pinned(key) if isinstance(llm, ClientPool) else llm


def endpoints(llm: LLM) -> tuple[str, ...]:
    """Each server ``llm`` sends to: the pool's members, or its one endpoint."""
    if isinstance(llm, ClientPool):
        return tuple(client.endpoint for client in llm.clients)
    return (llm.endpoint,)


def make_llm(settings: Settings) -> LLM:
    """The LLM for these settings: one client, or a pool when several base URLs are set."""
    clients = [OpenAIClient.from_settings(settings, url) for url in settings.base_urls]
    return clients[0] if len(clients) == 1 else ClientPool(clients)
