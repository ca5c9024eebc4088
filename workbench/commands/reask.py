"""The re-ask options of ``smoke run --baseline`` and the step that applies them.

Kept apart from ``workbench.commands.smoke`` (which is near its size limit); the work
itself is ``workbench.smoke.reask``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from workbench.cases.suite import load_cases
from workbench.commands import whole_number
from workbench.pipeline import RunEnvironment
from workbench.smoke.reask import REASK_BUDGET, REASKS, ReaskReport, reask_flips
from workbench.smoke.results import RunRecord

MAX_REASKS = 9
MAX_REASK_BUDGET = 500


def add_reask_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reask",
        type=whole_number(0, MAX_REASKS),
        default=REASKS,
        metavar="N",
        help=f"against --baseline, run each uncertain flip's case N more times fresh before "
        f"the verdict (default {REASKS}; 0: off); a flip stands when most re-asks agree with "
        "the new run, otherwise it is dropped as noise and neither gate counts it",
    )
    parser.add_argument(
        "--reask-budget",
        type=whole_number(0, MAX_REASK_BUDGET),
        default=REASK_BUDGET,
        metavar="RUNS",
        help=f"at most this many case runs for all re-asks (default {REASK_BUDGET}); "
        "flips beyond it stay uncertain and the summary says so",
    )


def reask_after(
    env: RunEnvironment,
    baseline: RunRecord | None,
    record: RunRecord,
    args: argparse.Namespace,
    say: Callable[[str], None],
) -> tuple[RunRecord, ReaskReport | None]:
    """Settle a finished run's uncertain flips against its baseline, before its summary."""
    if baseline is None or record.status != "done" or not args.reask:
        return record, None
    cases = load_cases(env.settings.smoke_cases_dir, env.settings.as_of)
    settled, report = reask_flips(
        env, baseline, record, cases, times=args.reask, budget=args.reask_budget
    )
    if report.words():
        say(report.words())
    return settled, report
