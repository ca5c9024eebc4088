"""Subcommands of ``python -m workbench``, one module per concept.

A module registers its subcommands with ``register(subparsers, common)``; each handler
takes the parsed arguments and the settings and returns an ``Outcome``, which
``workbench.cli`` prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.markup import terminal_text
from workbench.settings import Settings
from workbench.sql import Database, open_database, require_tables


@dataclass(frozen=True)
class Outcome:
    """What a subcommand produced: data for ``--json``, text for people."""

    data: Any
    text: str
    exit_code: int = 0


Handler = Callable[[argparse.Namespace, Settings], Outcome]


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a count flag: a whole number from ``low`` to ``high``.

    Why at parsing: ``--limit 0`` used to reach the case selection and come back as "no smoke
    case matches the selection", and ``selftest --concurrency 0`` silently meant the default.
    argparse names the flag in front of this message (``argument --limit: ...``).
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: give a whole number from {low} to {high}"
            )
        return value

    parse.__name__ = "whole number"  # what argparse calls the type in its own messages
    return parse


def reachable_database(settings: Settings) -> Database:
    """The target database, proved reachable before a model server is started for nothing.

    Raises:
        ConfigError: the database URL is wrong or the login is refused (the setting named).
        DatabaseUnavailable: the database is down or the host or port is wrong.
        ConfigError: the role can read no table of it (``require_tables``).
    """
    database = open_database(settings)
    database.run("SELECT 1")
    require_tables(database)
    return database


def say(message: str) -> None:
    """A progress line on stderr, so that --json output stays clean."""
    print(terminal_text(message), file=sys.stderr, flush=True)
