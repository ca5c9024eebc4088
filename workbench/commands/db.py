"""``workbench db build``: build (or reuse) the demo database and report what it holds."""

from __future__ import annotations

import argparse

from workbench.commands import Outcome
from workbench.settings import Settings
from workbench.sql import build_demo_database


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("db", help="the demo lab-results database")
    actions = parser.add_subparsers(dest="db_command", required=True)
    build = actions.add_parser(
        "build", parents=[common], help="build the demo database (reused when up to date)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if it exists")
    build.set_defaults(handler=build_database)


def build_database(args: argparse.Namespace, settings: Settings) -> Outcome:
    report = build_demo_database(settings, force=args.force)
    data = {
        "path": str(report.path.resolve()),
        "built": report.built,
        "seconds": round(report.seconds, 3),
        "size_bytes": report.size_bytes,
        "tables": report.counts,
    }
    action = "built" if report.built else "reused (up to date)"
    width = max(len(name) for name in report.counts)
    lines = [
        f"{report.path.resolve()}",
        f"{action} in {report.seconds:.2f} s · {report.size_bytes / 1_048_576:.1f} MiB",
        *(f"  {name:<{width}} {rows:>9,}" for name, rows in report.counts.items()),
    ]
    return Outcome(data=data, text="\n".join(lines))
