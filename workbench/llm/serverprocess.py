"""The record of a managed model server, and its process group.

Why a record on disk: the process that starts the server is not always the one that
shows it or stops it. The app starts one from the Run page and must find it again after
a restart; ``serve --status`` and ``serve --stop`` run in another terminal. So whoever
starts a server writes ``data_dir/server/vllm-<port>.json``: its process group, port,
model, when it started, who started it and which process owns it (stops it when that
process ends). A record whose process is gone, or whose pid now names another process
(told apart by the process's start time in ``/proc``), is stale: it is removed and
reported, never acted on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

Starter = Literal["app", "serve", "command", "unknown"]
"""Who started a server: the web app, ``python -m workbench serve``, another command
(for the length of that command), or an older workbench that kept only a pid file."""

RECORD_GLOB = "vllm-*.json"


@dataclass(frozen=True)
class ServerRecord:
    """A managed server as its starter recorded it.

    Args:
        pid: the server's process, also its process group (it runs in its own session).
        owner_pid: the process that stops the server when it ends (the app that started
            or adopted it, ``serve``, a command); 0 when unknown.
        process_start: the server process's start time in clock ticks since boot
            (``/proc/<pid>/stat``), so a pid reused by another process is not mistaken
            for the server.
        healthy_at: when ``/health`` first answered (seconds since the epoch).
        stopping: set just before the server is signalled, so its starter can tell a
            requested stop from a crash.
    """

    pid: int
    port: int
    base_url: str
    model: str
    served_names: tuple[str, ...]
    profile: str
    started: float
    started_by: Starter
    owner_pid: int
    log_path: str
    process_start: int | None = None
    healthy_at: float | None = None
    stopping: bool = False

    def alive(self) -> bool:
        """True while the recorded process runs (and is the one recorded)."""
        if not _alive(self.pid):
            return False
        return self.process_start is None or process_start(self.pid) == self.process_start

    def owner_alive(self) -> bool:
        return self.owner_pid > 0 and _alive(self.owner_pid)

    def with_changes(self, **changes: object) -> ServerRecord:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "served_names": list(self.served_names)}


def record_path(run_dir: Path, port: int) -> Path:
    return run_dir / f"vllm-{port}.json"


def legacy_pid_path(run_dir: Path, port: int) -> Path:
    """Where workbenches before the record kept only the server's pid."""
    return run_dir / f"vllm-{port}.pid"


def write_record(run_dir: Path, record: ServerRecord) -> None:
    """Write atomically: a reader never sees half a record."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(run_dir, record.port)
    partial = path.with_suffix(f".json.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record.to_json(), indent=2))
    partial.replace(path)


def read_record(run_dir: Path, port: int, base_url: str) -> ServerRecord | None:
    """The record for ``port``, alive or not (None when there is none or it is unreadable);
    a pid file of an older workbench is read as a record that knows only the pid."""
    path = record_path(run_dir, port)
    try:
        data = json.loads(path.read_text())
        data["served_names"] = tuple(data.get("served_names", ()))
        return ServerRecord(**data)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)  # unreadable: nothing can be done with it
        return None
    legacy = legacy_pid_path(run_dir, port)
    try:
        pid = int(legacy.read_text().strip())
        started = legacy.stat().st_mtime
    except (OSError, ValueError):
        return None
    return ServerRecord(
        pid=pid,
        port=port,
        base_url=base_url,
        model="unknown (recorded by an older workbench)",
        served_names=(),
        profile="unknown",
        started=started,
        started_by="unknown",
        owner_pid=0,
        log_path=str(run_dir / f"vllm-{port}.log"),
    )


def remove_record(run_dir: Path, port: int) -> None:
    record_path(run_dir, port).unlink(missing_ok=True)
    legacy_pid_path(run_dir, port).unlink(missing_ok=True)


def recorded_ports(run_dir: Path) -> list[int]:
    """The ports that have a record (or an older pid file) in ``run_dir``."""
    ports = set()
    for pattern in (RECORD_GLOB, "vllm-*.pid"):
        for path in run_dir.glob(pattern):
            with contextlib.suppress(ValueError):
                ports.add(int(path.stem.removeprefix("vllm-")))
    return sorted(ports)


def terminate_group(
    pgid: int, grace_s: float, child: subprocess.Popen[bytes] | None = None
) -> Literal["terminated", "killed"]:
    """SIGTERM to the process group, SIGKILL if it lingers past ``grace_s``; which it took."""
    signal_group(pgid, signal.SIGTERM)
    if wait_gone(pgid, grace_s, child):
        return "terminated"
    signal_group(pgid, signal.SIGKILL)
    wait_gone(pgid, 10.0, child)
    return "killed"


def wait_gone(pgid: int, timeout_s: float, child: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait until no process of the group runs (reaping ``child`` if it is the leader)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child is not None and child.pid == pgid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.2)
        if not group_alive(pgid):
            return True
        time.sleep(0.2)
    return not group_alive(pgid)


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) != "Z"


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[-1].split()[0]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(
        _state(int(p.name)) not in ("Z", "?")
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and pgid_of(int(p.name)) == pgid
    )


def pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
