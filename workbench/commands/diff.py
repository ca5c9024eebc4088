"""``workbench diff BEFORE AFTER``: the word diff between two texts."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from workbench.commands import Outcome
from workbench.diffing import format_edits, word_diff
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "diff",
        parents=[common],
        help="show the word diff between two texts",
        description="Text form: [-removed-] {+added+}. JSON: the list of edits.",
    )
    parser.add_argument("before", help="the old text")
    parser.add_argument("after", help="the new text")
    parser.set_defaults(handler=show_diff)


def show_diff(args: argparse.Namespace, settings: Settings) -> Outcome:
    edits = word_diff(args.before, args.after)
    return Outcome(data=[asdict(edit) for edit in edits], text=format_edits(edits))
