"""Which server answered: its endpoint, its launch flags when known, and when it started.

Two facts hang on the server rather than on a request: whether its answers depend on
the batch (the concurrency self-test) and whether answers it gave earlier can stand in
for answers it would give now (a quick check reuses a baseline's). Both are keyed by
the server's identity. The workbench knows the launch flags of the server it manages;
of any vLLM server it can read when the process started (``process_start_time_seconds``
on ``/metrics``), which is how a restart in the middle of a run is noticed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx2

from workbench.llm.client import root_url

START_METRIC = "process_start_time_seconds"


@dataclass(frozen=True)
class ServerIdentity:
    """One server as the workbench can tell it apart from another.

    Args:
        flags: the launch flags (``ServerManager.flags()``) of a managed server; None for
            a server the workbench does not run.
        started: when the server process started (seconds since the epoch), when it says.
    """

    endpoint: str
    flags: dict[str, Any] | None = None
    started: float | None = None

    @property
    def fingerprint(self) -> str:
        """Equal for servers that compute alike: the same endpoint and flags, or, when the
        flags are unknown, the same process (a restart may have changed them)."""
        what: dict[str, Any] = {"endpoint": self.endpoint}
        if self.flags is not None:
            what["flags"] = self.flags
        else:
            what["started"] = self.started
        text = json.dumps(what, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def server_started(endpoint: str, timeout_s: float = 2.0) -> float | None:
    """When the server at ``endpoint`` started, from its ``/metrics``; None when it does
    not say (not vLLM, not HTTP, not answering). Never raises."""
    if not endpoint.startswith(("http://", "https://")):
        return None
    try:
        response = httpx2.get(f"{root_url(endpoint)}/metrics", timeout=timeout_s)
    except httpx2.HTTPError:
        return None
    if response.status_code != 200:
        return None
    for line in response.text.splitlines():
        name, _, value = line.partition(" ")
        if name == START_METRIC:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def identify(endpoint: str, flags: dict[str, Any] | None = None) -> ServerIdentity:
    """The identity of the server at ``endpoint`` now (its start time is asked only when
    the flags are unknown: known flags identify it alone)."""
    return ServerIdentity(endpoint, flags, server_started(endpoint) if flags is None else None)
