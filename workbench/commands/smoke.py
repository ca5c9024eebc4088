"""``workbench smoke``: the smoke suite's command group.

Each action is a subcommand registered by one function in ``SUBCOMMANDS``;
adding an action (``smoke run``) means adding one ``register_*`` function there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.cli import Outcome
from workbench.settings import Settings

if TYPE_CHECKING:
    from workbench.cases import CheckReport


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("smoke", help="check or run the smoke suite")
    actions = parser.add_subparsers(dest="smoke_command", required=True, metavar="ACTION")
    for register_action in SUBCOMMANDS:
        register_action(actions, common)


def register_check(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = actions.add_parser(
        "check",
        parents=[common],
        help="prove every gold case against the demo database",
        description="Verify that every gold query parses, is read-only, runs and returns rows "
        "(none when tagged empty-expected), that every wrong_sql is told apart from its gold, "
        "and that ids, questions, tags and category counts are in order.",
    )
    parser.set_defaults(handler=check_suite)


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None], ...] = (
    register_check,
)


def check_suite(args: argparse.Namespace, settings: Settings) -> Outcome:
    from workbench.cases import check_cases, load_cases, load_tags, smoke_dir
    from workbench.database import ensure_demo_database

    directory = smoke_dir(settings.fixtures_dir)
    cases = load_cases(directory)
    tags = load_tags(directory)
    database = ensure_demo_database(settings)
    report = check_cases(
        cases,
        database,
        known_tags=tags,
        timeout_s=settings.sql_timeout_s,
        row_cap=settings.sql_row_cap,
    )
    return Outcome(
        data=report.to_dict(), text=format_report(report), exit_code=0 if report.ok else 1
    )


def format_report(report: CheckReport) -> str:
    """The check's summary for people: counts, then each failure on its own line."""
    lines = [f"{report.cases} cases, {report.wrong_sql_cases} with a wrong_sql"]
    lines.append("by category: " + ", ".join(f"{k} {v}" for k, v in report.by_category.items()))
    lines.append("by tag:      " + ", ".join(f"{k} {v}" for k, v in report.by_tag.items()))
    if report.ok:
        lines.append("all checks passed")
    else:
        lines.append(f"{len(report.failures)} failures:")
        for failure in report.failures:
            lines.append(f"  {failure.case_id or '(suite)'} [{failure.check}] {failure.message}")
    return "\n".join(lines)
