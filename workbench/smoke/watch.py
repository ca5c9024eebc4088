"""Noticing a model server that restarted in the middle of a run.

A restart can change answers (a fresh prefix cache, other settings if someone changed
them): repeats of one case on both sides of it would look flaky, and a quick check
would mix the baseline's answers with a different server's. The watch reads each
server's process start time (``/metrics``) before the run and after every case; when
it moved, the case is not recorded and the run stops as interrupted, to be resumed.
A server that does not report its start time cannot be watched.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.errors import ServerRestarted
from workbench.llm import server_started


class ServerWatch:
    """The start times of a run's servers, checked between cases."""

    def __init__(self, endpoints: Sequence[str]):
        self.endpoints = tuple(endpoints)
        self.started: dict[str, float | None] = {}
        self.reset()

    def reset(self) -> None:
        """Take the servers as they are now (after a restart the run asked for)."""
        self.started = {url: server_started(url) for url in self.endpoints}

    def check(self) -> None:
        """Raise ServerRestarted when a server's process is not the one the run began with."""
        for url, before in self.started.items():
            if before is None:
                continue
            now = server_started(url)
            if now is not None and now != before:
                raise ServerRestarted(
                    f"the model server at {url} restarted during the run (its process started "
                    f"at {before:.0f}, now at {now:.0f}); the case that straddled the restart "
                    "was not recorded"
                )
