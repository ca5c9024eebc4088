"""``workbench run``: the trace printed for people, and the whole trace as JSON."""

from __future__ import annotations

from tests.test_trace import make_trace
from workbench.commands.run import format_trace


def test_people_see_each_stage_its_gate_dates_and_errors() -> None:
    text = format_trace(make_trace())
    lines = text.splitlines()
    assert lines[0] == "question  Hi, how many CBC results this quarter?"
    assert "1. Date normalization  [Python only, no model call]" in lines
    assert "   date  'this quarter' -> from 2026-01-01 through 2026-03-31  [python]" in lines
    assert "   date  'lately' not resolved" in lines
    assert (
        "6. SQL generation  [qwen3-32b · think · cached · tokens 120/40 · "
        "min margin 0.12 at token 3]"
    ) in lines
    assert "   gate2: thinking (many filters: 5 > 4)" in lines
    assert "7. Narrative answer  [skipped] skipped: stage 6 failed" in lines
    assert "physician_name" not in text
    assert lines[-1] == "status failed in 3.88 s"
