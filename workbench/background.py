"""Work on a background thread that a page polls: the shell every long job shares.

A Streamlit page re-runs its script from the top on every interaction, while a run
takes seconds to hours. A job owns one daemon thread; the page keeps the job in its
session and asks it for a snapshot, taken under the job's lock. The thread never
touches the page. Cancelling is cooperative: the work receives the cancel event and
decides where it may stop. An exception in the thread would vanish with it, so it is
kept as the job's error, in words the page can show.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Self

from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)


class BackgroundJob:
    """Runs ``work()`` once on its own thread; subclasses say what the work is.

    Subclasses implement ``work`` and may override ``finished`` (called under the lock
    with the outcome) and ``cleanup`` (called on the thread after the work, always).
    """

    thread_name = "workbench-job"
    what = "the job"  # for the crash message: "<what> crashed (…); <crash_advice>"
    crash_advice = "see the app's log"

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._result: Any = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._ended: float | None = None
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    # -- what a subclass provides ----------------------------------------------------------

    def work(self) -> Any:
        raise NotImplementedError

    def finished(self, result: Any) -> None:
        """Called under the lock once the work returned (``result``) or failed (None)."""

    def cleanup(self) -> None:
        """Called on the thread after the work, whether it succeeded or not."""

    # -- the shell -------------------------------------------------------------------------

    def start(self) -> Self:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next stopping point."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def elapsed_s(self) -> float:
        end = self._ended if self._ended is not None else time.monotonic()
        return end - self._started

    def _run(self) -> None:
        result: Any = None
        error: str | None = None
        try:
            result = self.work()
        except WorkbenchError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("%s crashed", self.thread_name)
            error = f"{self.what} crashed ({type(exc).__name__}: {exc}); {self.crash_advice}"
        finally:
            self.cleanup()
        with self._lock:
            self._result = result
            self._error = error
            self.finished(result)
            self._ended = time.monotonic()
            self._finished.set()
