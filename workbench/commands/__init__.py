"""Subcommands of ``python -m workbench``, one module per concept.

A module registers its subcommands with ``register(subparsers, common)``; each handler
takes the parsed arguments and the settings and returns an ``Outcome``, which
``workbench.cli`` prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.settings import Settings


@dataclass(frozen=True)
class Outcome:
    """What a subcommand produced: data for ``--json``, text for people."""

    data: Any
    text: str
    exit_code: int = 0


Handler = Callable[[argparse.Namespace, Settings], Outcome]
