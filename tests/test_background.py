"""The background-job shell: outcome, errors in words, cleanup, cooperative cancel."""

from __future__ import annotations

import threading

import pytest

from workbench.background import BackgroundJob
from workbench.errors import QuestionError


class Job(BackgroundJob):
    what = "the test job"
    crash_advice = "try again"

    def __init__(self, work) -> None:
        super().__init__()
        self._fn = work
        self.cleaned = 0
        self.finished_with: list = []

    def work(self):
        return self._fn(self._cancel)

    def finished(self, result) -> None:
        self.finished_with.append(result)

    def cleanup(self) -> None:
        self.cleaned += 1

    def outcome(self, timeout: float = 10):
        assert self._finished.wait(timeout), "the job did not finish"
        return self._result, self._error


def test_the_result_is_kept_and_the_hooks_run_once() -> None:
    job = Job(lambda cancel: 42).start()
    assert job.outcome() == (42, None)
    assert job.done and job.cleaned == 1 and job.finished_with == [42]
    first = job.elapsed_s
    assert first >= 0 and job.elapsed_s == first  # the clock stops when the job ends


def test_a_workbench_error_is_the_job_error_in_its_own_words() -> None:
    def work(cancel):
        raise QuestionError("the question is empty")

    job = Job(work).start()
    assert job.outcome() == (None, "the question is empty")
    assert job.cleaned == 1 and job.finished_with == [None]


def test_a_crash_is_kept_with_its_kind_and_the_advice(caplog: pytest.LogCaptureFixture) -> None:
    def work(cancel):
        raise KeyError("boom")

    job = Job(work).start()
    result, error = job.outcome()
    assert result is None
    assert error == "the test job crashed (KeyError: 'boom'); try again"
    assert job.cleaned == 1
    assert "crashed" in caplog.text  # and the traceback went to the log


def test_cancel_reaches_the_work() -> None:
    started = threading.Event()

    def work(cancel: threading.Event):
        started.set()
        assert cancel.wait(10)
        return "stopped"

    job = Job(work).start()
    assert started.wait(10)
    assert not job.cancel_requested and not job.done
    job.cancel()
    assert job.cancel_requested
    assert job.outcome() == ("stopped", None)
