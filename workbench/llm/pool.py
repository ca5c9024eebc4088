"""Several servers behind one LLM: a smoke run spread over a pool of base URLs."""

from __future__ import annotations

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

    def complete(self, request: ChatRequest) -> Completion:
        return self.pick().complete(request)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def make_llm(settings: Settings) -> LLM:
    """The LLM for these settings: one client, or a pool when several base URLs are set."""
    clients = [OpenAIClient.from_settings(settings, url) for url in settings.base_urls]
    return clients[0] if len(clients) == 1 else ClientPool(clients)
