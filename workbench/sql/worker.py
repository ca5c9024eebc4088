"""Queries run in a worker process that the operating system holds to its limits.

A query can ignore DuckDB's interrupt (a huge ``repeat()`` or list is built in one call) and
DuckDB's memory limit (strings and lists it hands to Python), and parsing untrusted SQL is
itself work that no interrupt reaches. So checking, transpiling and running a query all happen
in a separate Python process:

- its address space is capped with ``resource.setrlimit(RLIMIT_AS)`` when it starts, so an
  allocation past ``WORKER_ADDRESS_SPACE_BYTES`` fails inside the worker instead of taking the
  machine's memory;
- the caller waits at most the query's timeout plus ``KILL_GRACE_S``, then kills the process
  (DuckDB itself is interrupted at the timeout, which usually ends the query sooner);
- what comes back is capped in bytes per cell and per result (``workbench.sql.limits``).

Starting a process costs far more than a query, so workers are reused: each serves one query at
a time, goes back to an idle list when it answers, and is killed (never reused) when it does not.
A worker holds no connection between queries; each query opens the database afresh, as before.
The protocol is length-prefixed pickles over the worker's stdin and stdout; only this module's
code runs on either side.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workbench.errors import SQLExecutionError, WorkbenchError
from workbench.sql.limits import DUCKDB_MEMORY_LIMIT, KILL_GRACE_S, WORKER_ADDRESS_SPACE_BYTES

PACKAGE_PARENT = Path(__file__).resolve().parents[2]
"""The directory that holds the ``workbench`` package, so the worker imports this checkout."""
MAX_IDLE_WORKERS = 4
STARTUP_TIMEOUT_S = 60.0
"""How long a new worker may take to import what it needs; not counted in a query's timeout."""
READY = "ready"
_HEADER = struct.Struct(">Q")


@dataclass(frozen=True)
class QueryRequest:
    """One query for a worker: what ``run_query`` was asked."""

    sql: str
    database: str
    timeout_s: float
    row_cap: int
    dialect: str


def run_in_worker(request: QueryRequest) -> Any:
    """Run ``request`` in a worker process and return its ``QueryResult``.

    Raises:
        SQLParseError, SQLRefused, SQLExecutionError: as the query's check or run raised them
            in the worker, or SQLExecutionError when the worker had to be killed or died.
    """
    return _pool().run(request)


def warm_workers(count: int) -> None:
    """Start workers until ``count`` of them (at most ``MAX_IDLE_WORKERS``) are idle or
    starting, without waiting for any: a new worker spends about half a second importing
    what it needs, which then overlaps the caller's own work instead of delaying its first
    queries. A run calls this as it starts, with the number of cases it sends at once."""
    _pool().warm(count)


def out_of_memory_message() -> str:
    """One line naming both limits and what the user can change: the query. Why not DuckDB's
    own advice (``SET threads``, ``SET memory_limit``): the check refuses every SET."""
    gib = WORKER_ADDRESS_SPACE_BYTES / 1024**3
    return (
        f"the query needs more memory than a query may use (DUCKDB_MEMORY_LIMIT, "
        f"{DUCKDB_MEMORY_LIMIT}, for DuckDB's joins, sorts and groups; {gib:g} GiB in all for "
        "the SQL worker; see workbench/sql/limits.py): aggregate or filter it so less is held "
        "at once, or LIMIT it, instead of building huge values"
    )


# -- the calling side ------------------------------------------------------------------------


class _WorkerGone(Exception):
    """The worker did not answer: it was killed at the deadline or died on its own."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
        )
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from workbench.sql.worker import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for a new worker's first word (once); its start-up is not the query's time."""
        if self.ready:
            return
        assert self.process.stdout is not None
        try:
            if _receive_by(self.process.stdout, time.monotonic() + STARTUP_TIMEOUT_S) != READY:
                raise _WorkerGone("the worker said something else than that it is ready")
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise _WorkerGone(str(exc)) from exc
        self.ready = True

    def call(self, request: QueryRequest, deadline: float) -> tuple[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _send(self.process.stdin, request)
            return _receive_by(self.process.stdout, deadline)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise _WorkerGone(str(exc)) from exc

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        self._log.close()

    def death(self) -> str:
        """Why the process ended, in words (its signal, and its last words on stderr)."""
        try:
            code = self.process.wait(timeout=1.0)  # it closed its output: it is ending
        except subprocess.TimeoutExpired:
            return "it did not answer in time"
        if code < 0:
            why = f"it was stopped by signal {signal.Signals(-code).name}"
        else:
            why = f"it exited with status {code}"
        with contextlib.suppress(OSError, ValueError):
            self._log.seek(0)
            last = self._log.read()[-300:].decode(errors="replace").strip()
            if last:
                why += f" ({last.splitlines()[-1]})"
        return why


class _Pool:
    """Idle workers, reused one query at a time; a worker that failed to answer is killed."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, request: QueryRequest) -> Any:
        worker = self._take()
        try:
            worker.wait_ready()
        except _WorkerGone:
            why = worker.death()  # before the kill, which closes its stderr
            worker.kill()
            raise SQLExecutionError(
                f"the SQL worker did not start: {why}; check that this Python "
                "can import workbench (python -c 'import workbench.sql')"
            ) from None
        except BaseException:
            worker.kill()
            raise
        deadline = time.monotonic() + request.timeout_s + KILL_GRACE_S
        try:
            kind, payload = worker.call(request, deadline)
        except _WorkerGone:
            timed_out = time.monotonic() >= deadline
            why = "" if timed_out else worker.death()  # before the kill closes its stderr
            worker.kill()
            if timed_out:
                raise SQLExecutionError(
                    f"the query timed out after {request.timeout_s:g} s (its worker was stopped); "
                    "simplify it or raise WORKBENCH_SQL_TIMEOUT_S"
                ) from None
            raise SQLExecutionError(
                f"the SQL worker stopped while running the query: {why}; "
                f"most often {out_of_memory_message()}"
            ) from None
        except BaseException:
            worker.kill()
            raise
        self._give_back(worker)
        if kind == "error":
            raise payload
        return payload

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker
                worker.kill()
        return _Worker()

    def warm(self, count: int) -> None:
        with self._lock:
            ended = [w for w in self._idle if w.process.poll() is not None]
            self._idle = [w for w in self._idle if w not in ended]
            for _ in range(min(count, MAX_IDLE_WORKERS) - len(self._idle)):
                self._idle.append(_Worker())
        for worker in ended:
            worker.kill()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_WORKERS:
                self._idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = _Pool()
            atexit.register(_POOL.close)
        return _POOL


def close_workers() -> None:
    """Stop the idle workers (they also stop on their own when this process ends)."""
    if _POOL is not None:
        _POOL.close()


# -- the wire --------------------------------------------------------------------------------


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive_by(stream: IO[bytes], deadline: float) -> Any:
    """Read one message, giving up (``_WorkerGone``) at ``deadline``."""
    fd = stream.fileno()
    header = _read_exactly(fd, _HEADER.size, deadline)
    (length,) = _HEADER.unpack(header)
    return pickle.loads(_read_exactly(fd, length, deadline))


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _WorkerGone("no answer before the deadline")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed its output")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# -- the worker side -------------------------------------------------------------------------


def serve() -> None:
    """The worker's main loop: limit the address space, then answer requests until EOF."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE_BYTES, WORKER_ADDRESS_SPACE_BYTES))
    # The protocol owns stdout; anything else that prints goes to stderr.
    output = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from workbench.sql.execute import execute_query  # the worker's side only

    _send(output, READY)
    while True:
        try:
            request: QueryRequest = pickle.loads(_read_message(0))
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", execute_query(request))
        except WorkbenchError as exc:
            reply = ("error", exc)
        except MemoryError:
            reply = ("error", SQLExecutionError(out_of_memory_message()))
        except Exception as exc:  # anything else is still this query's failure, not the worker's
            reply = ("error", SQLExecutionError(f"the query failed: {type(exc).__name__}: {exc}"))
        try:
            _send(output, reply)
        except MemoryError:
            _send(output, ("error", SQLExecutionError(out_of_memory_message())))


def _read_message(fd: int) -> bytes:
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, None))
    return _read_exactly(fd, length, None)
