"""``python -m workbench``: the command line.

Each concept contributes its subcommands from a module in ``workbench.commands``, listed
in ``COMMANDS``. A handler returns an ``Outcome``; this module prints it, as text for
people or as JSON with ``--json``. Text for people may hold model output, questions and
server errors, so control characters are neutralised before it reaches the terminal
(``workbench.markup.terminal_text``); JSON escapes them itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
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
    init,
    run,
    schema,
    selftest,
    serve,
    smoke,
    sql,
)
from workbench.errors import Terminated, WorkbenchError
from workbench.markup import terminal_text
from workbench.settings import load_settings, unknown_variables

COMMANDS: tuple[ModuleType, ...] = (
    budget,
    dates,
    db,
    diff,
    info,
    init,
    run,
    schema,
    selftest,
    serve,
    smoke,
    sql,
)
"""The subcommand modules; each has ``register(subparsers, common)``."""


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal):  # PostgreSQL's numeric
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    workspace_help = "the workspace folder (default: WORKBENCH_WORKSPACE, else the shipped demo)"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    # Also accepted after the subcommand; SUPPRESS keeps it from hiding the one given before.
    common.add_argument("--workspace", type=Path, default=argparse.SUPPRESS, help=workspace_help)
    parser = argparse.ArgumentParser(
        prog="workbench", description="Prompt-engineering workbench for serial Text2SQL pipelines"
    )
    parser.add_argument("--workspace", type=Path, default=None, help=workspace_help)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers, common)
    return parser


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` (a KeyboardInterrupt) in the main
    thread, so that ``kill`` cleans up as Ctrl-C does: a smoke run is marked interrupted
    rather than left *running*, a model server the command started is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = getattr(args, "json", False)
    for warning in unknown_variables():
        print(f"warning: {terminal_text(warning)}", file=sys.stderr)
    try:
        # A subcommand that makes a workspace must not need one (WORKBENCH_WORKSPACE=ws init ws).
        use_workspace = not getattr(args, "makes_workspace", False)
        settings = load_settings(workspace=args.workspace, use_workspace=use_workspace)
        with sigterm_raises():
            outcome: Outcome = args.handler(args, settings)
    except WorkbenchError as exc:
        if as_json:
            detail = getattr(exc, "detail", None)  # a database's full text (caret line, hint)
            extra = {"detail": detail} if detail else {}
            print(json.dumps({"error": str(exc), "kind": type(exc).__name__} | extra))
        else:
            print(f"error: {terminal_text(str(exc))}", file=sys.stderr)
        return 1
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    if as_json:
        print(json.dumps(outcome.data, indent=2, default=json_default))
    elif outcome.text:
        print(terminal_text(outcome.text))
    return outcome.exit_code
