"""A smoke run (or an experiment of several) in a background thread, for the Smoke page.

The page re-runs its script on every interaction; the job keeps the latest progress
under a lock and the page polls ``snapshot()``. Results are in the store as soon as
each case finishes, so a closed browser loses nothing: the run can be resumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.background import BackgroundJob
from workbench.smoke.progress import ProgressCallback, SmokeProgress


@dataclass(frozen=True)
class JobSnapshot:
    progress: SmokeProgress | None
    done: bool
    cancel_requested: bool
    elapsed_s: float
    result: Any = None
    error: str | None = None


class SmokeJob(BackgroundJob):
    """Runs ``work(on_progress, cancel)`` on a thread; ``start_smoke_job`` builds one."""

    thread_name = "smoke-run"
    what = "the smoke run"
    crash_advice = "resume it from the page"

    def __init__(self, work: Callable[[ProgressCallback, threading.Event], Any], name: str = ""):
        super().__init__()
        self.name = name
        self._work = work
        self._progress: SmokeProgress | None = None

    def work(self) -> Any:
        return self._work(self._on_progress, self._cancel)

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._finished.wait(timeout)
        return self.snapshot()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                progress=self._progress,
                done=self.done,
                cancel_requested=self.cancel_requested,
                elapsed_s=self.elapsed_s,
                result=self._result,
                error=self._error,
            )

    def _on_progress(self, progress: SmokeProgress) -> None:
        with self._lock:
            self._progress = progress


def start_smoke_job(
    work: Callable[[ProgressCallback, threading.Event], Any], name: str = ""
) -> SmokeJob:
    """Start ``work`` in the background; it receives a progress callback and a cancel event."""
    return SmokeJob(work, name).start()
