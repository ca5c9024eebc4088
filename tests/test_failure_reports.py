"""A failing test whose garbage has a finalizer that raises is reported as a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.failure_reports import AFFECTED

ROOT = Path(__file__).resolve().parent.parent

# A finalizer that raises, as openai's client wrapper does when its constructor failed
# half-way. Each one leaves the next for the collector (a bounded chain), so garbage is
# waiting whenever the collector runs, as it was in the session where the client failed
# in every test: without the workaround, that session ends in an INTERNALERROR every time.
FAILING = """
import gc

class HalfBuilt:
    left = 0

    def __init__(self):
        self.cycle = self

    def __del__(self):
        if HalfBuilt.left:
            HalfBuilt.left -= 1
            HalfBuilt()
        self.never_set

def fail_leaving_garbage():
    gc.set_threshold(10)
    HalfBuilt.left = 1000
    HalfBuilt()
    assert False

def test_first():
    fail_leaving_garbage()

def test_second():
    fail_leaving_garbage()

def test_third():
    fail_leaving_garbage()
"""


def test_failures_are_reported_with_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_half_built=FAILING)
    result = pytester.runpytest_subprocess("-p", "tests.failure_reports", "-p", "no:cacheprovider")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert result.parseoutcomes()["failed"] == 3


@pytest.mark.skipif(not AFFECTED, reason="this CPython builds ASTs with per-call state")
def test_without_the_plugin_this_python_crashes(pytester: pytest.Pytester) -> None:
    """The reason for the plugin: on 3.11 before 3.11.8 the session ends in an INTERNALERROR."""
    pytester.makepyfile(test_half_built=FAILING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert "SystemError: AST constructor recursion depth mismatch" in output
