"""``python -m workbench``: the command line.

Each concept contributes its subcommands from a module in ``workbench.commands``, listed
in ``COMMANDS``. A handler returns an ``Outcome``; this module prints it, as text for
people or as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench.commands import (
    Outcome,
    budget,
    dates,
    db,
    diff,
    info,
    run,
    selftest,
    serve,
    smoke,
    sql,
)
from workbench.errors import WorkbenchError
from workbench.settings import load_settings

COMMANDS: tuple[ModuleType, ...] = (budget, dates, db, diff, info, run, selftest, serve, smoke, sql)
"""The subcommand modules; each has ``register(subparsers, common)``."""


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser = argparse.ArgumentParser(
        prog="workbench", description="Prompt-engineering workbench for serial Text2SQL pipelines"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = getattr(args, "json", False)
    try:
        settings = load_settings()
        outcome: Outcome = args.handler(args, settings)
    except WorkbenchError as exc:
        if as_json:
            print(json.dumps({"error": str(exc), "kind": type(exc).__name__}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if as_json:
        print(json.dumps(outcome.data, indent=2, default=json_default))
    elif outcome.text:
        print(outcome.text)
    return outcome.exit_code
