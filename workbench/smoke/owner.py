"""Which process is running a smoke run, and whether it still exists.

A run is marked *interrupted* by the process running it whenever it stops short (Ctrl-C,
``kill``, a crash it can catch). A process that is killed outright (``kill -9``, the
out-of-memory killer, a machine restart) cannot say so; its run would read *running*
forever. So a run records its owner (host, process id and the process's start time, which
tells a reused process id apart) and a reader on the same host that finds the owner gone
marks the run interrupted. On another host nothing can be told, and the run is left alone.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str
    """The process's start time in clock ticks since boot (Linux), empty elsewhere."""

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner ``str(owner)`` wrote; None for an empty or foreign text."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def gone(self) -> bool:
        """True when this is the host and the process is no longer there."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # someone else's process: it exists
            pass
        return bool(self.started) and _start_ticks(self.pid) not in (self.started, "")

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


def this_process() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()))


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""
