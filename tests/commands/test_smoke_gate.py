"""The two CI gates of ``smoke run --baseline``: any regression, or a significant one."""

from __future__ import annotations

import pytest

from tests.smoke_records import record, result
from workbench.cli import build_parser
from workbench.commands.smoke import run_outcome


def args(*flags: str):
    return build_parser().parse_args(["smoke", "run", "--baseline", "a", *flags])


def runs(regressions: int, fixes: int):
    """A baseline and a run of it with that many cases lost and won."""
    lost = [f"r{i}" for i in range(regressions)]
    won = [f"f{i}" for i in range(fixes)]
    before = record("a", [result(c, "pass") for c in lost] + [result(c, "fail") for c in won])
    after = record(
        "b",
        [result(c, "fail", query="Other") for c in lost] + [result(c, "pass") for c in won],
        minutes=5,
    )
    return before, after


@pytest.mark.parametrize(
    ("regressions", "fixes", "flags", "code"),
    [
        (1, 0, ["--fail-on-regression"], 1),  # any regression
        (1, 0, ["--fail-on-significant-regression"], 0),  # p = 1: noise explains it
        (2, 2, ["--fail-on-significant-regression"], 0),
        (5, 0, ["--fail-on-significant-regression"], 0),  # p = 0.0625
        (6, 0, ["--fail-on-significant-regression"], 1),  # p = 0.031
        (0, 6, ["--fail-on-significant-regression"], 0),  # significant, but fixes
        (6, 0, [], 0),  # no gate asked for
        (1, 0, ["--fail-on-regression", "--fail-on-significant-regression"], 1),
    ],
)
def test_each_gate_fails_on_what_it_says(regressions, fixes, flags, code) -> None:
    before, after = runs(regressions, fixes)
    outcome = run_outcome(after, before, args(*flags))
    assert outcome.exit_code == code
    assert outcome.data["comparison"]["paired_test"]["regressions"] == regressions
    significant = outcome.data["comparison"]["significant_regression"]
    assert significant == (regressions == 6 and fixes == 0)  # whatever gate was asked for


def test_the_summary_says_why_the_significant_gate_failed() -> None:
    before, after = runs(6, 0)
    outcome = run_outcome(after, before, args("--fail-on-significant-regression"))
    assert (
        "6 regressions, 0 fixes — distinguishable from noise (exact sign test, p = 0.031)"
        in outcome.text
    )


def test_both_gates_are_documented_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["smoke", "run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--fail-on-regression" in help_text
    assert "--fail-on-significant-regression" in help_text
    assert "sign test" in help_text
