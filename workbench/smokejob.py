"""A smoke run (or an experiment of several) in a background thread, for the Smoke page.

The page re-runs its script on every interaction; the job keeps the latest progress
under a lock and the page polls ``snapshot()``. Results are in the store as soon as
each case finishes, so a closed browser loses nothing: the run can be resumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.errors import WorkbenchError
from workbench.smokerun import ProgressCallback, SmokeProgress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSnapshot:
    progress: SmokeProgress | None
    done: bool
    cancel_requested: bool
    elapsed_s: float
    result: Any = None
    error: str | None = None


class SmokeJob:
    """Runs ``work(on_progress, cancel)`` on a thread; ``start_smoke_job`` builds one."""

    def __init__(self, work: Callable[[ProgressCallback, threading.Event], Any], name: str = ""):
        self.name = name
        self._work = work
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._progress: SmokeProgress | None = None
        self._result: Any = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="smoke-run", daemon=True)

    def start(self) -> SmokeJob:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop starting cases; the cases in flight finish their stage and are dropped."""
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._done.wait(timeout)
        return self.snapshot()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                progress=self._progress,
                done=self._done.is_set(),
                cancel_requested=self._cancel.is_set(),
                elapsed_s=time.monotonic() - self._started,
                result=self._result,
                error=self._error,
            )

    def _on_progress(self, progress: SmokeProgress) -> None:
        with self._lock:
            self._progress = progress

    def _run(self) -> None:
        result: Any = None
        error: str | None = None
        try:
            result = self._work(self._on_progress, self._cancel)
        except WorkbenchError as exc:
            error = str(exc)
        except Exception as exc:  # a thread's exception would vanish: keep it for the page
            log.exception("smoke run crashed")
            error = f"the smoke run crashed ({type(exc).__name__}: {exc}); resume it from the page"
        with self._lock:
            self._result = result
            self._error = error
            self._done.set()


def start_smoke_job(
    work: Callable[[ProgressCallback, threading.Event], Any], name: str = ""
) -> SmokeJob:
    """Start ``work`` in the background; it receives a progress callback and a cancel event."""
    return SmokeJob(work, name).start()
