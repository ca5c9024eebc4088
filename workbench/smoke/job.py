"""A smoke run (or an experiment of several) in a background thread, for the Smoke page.

The page re-runs its script on every interaction; the job keeps the latest progress
under a lock and the page polls ``snapshot()``. Results are in the store as soon as
each case finishes, so a closed browser loses nothing: the run can be resumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from workbench.background import BackgroundJob
from workbench.llm import ServerManager
from workbench.pipeline import RunEnvironment
from workbench.smoke.calibration import ServerSpeed
from workbench.smoke.plan import SmokeOptions, plan_run
from workbench.smoke.progress import ProgressCallback, SmokeProgress
from workbench.smoke.reask import settle_quick_check
from workbench.smoke.results import RunRecord
from workbench.smoke.runner import run_plan
from workbench.smoke.servercheck import selftest_first

Work = Callable[[ProgressCallback, threading.Event], Any]


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

    def __init__(self, work: Work, name: str = ""):
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


def start_smoke_job(work: Work, name: str = "") -> SmokeJob:
    """Start ``work`` in the background; it receives a progress callback and a cancel event."""
    return SmokeJob(work, name).start()


def suite_run(
    env: RunEnvironment,
    options: SmokeOptions,
    speed: ServerSpeed,
    server: ServerManager | None = None,
) -> Callable[[ProgressCallback, threading.Event], RunRecord]:
    """The work of a run started from the Smoke page, done as the command line does it:
    the concurrency self-test first when a server has none for its settings and no
    concurrency was asked for (a self-test that cannot run leaves the cases one at a time,
    and the run says why), the plan, the run, and a quick check's uncertain flips re-asked
    before the verdict (a note under the run's counts says so). Closes ``env``'s client."""

    def work(on_progress: ProgressCallback, cancel: threading.Event) -> RunRecord:
        last: list[SmokeProgress] = []  # the run's latest counts, for the re-asks' note

        def progress(p: SmokeProgress) -> None:
            last[:] = [p]
            on_progress(p)

        def note(text: str) -> None:
            if last:
                on_progress(replace(last[0], note=text))

        try:
            assert env.store is not None, "a smoke run has a store"
            if options.concurrency is None:  # the page says so beside the button
                selftest_first(env.settings, env.store, env.prompts, server, lambda _: None)
            plan = plan_run(env, options, server=server, speed=speed)
            record = run_plan(env, plan, server=server, on_progress=progress, cancel=cancel)
            return settle_quick_check(env, plan, record, note)
        finally:
            env.llm.close()

    return work
