"""``workbench dates``: the Python date resolver alone, without the model."""

from __future__ import annotations

import argparse
from datetime import date

from workbench.commands import Outcome
from workbench.dates import find_unresolved_hints, resolve_relative_dates
from workbench.errors import ConfigError
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "dates", parents=[common], help="resolve temporal expressions in a text to ISO dates"
    )
    parser.add_argument("text", help="the text to rewrite")
    parser.add_argument(
        "--as-of", dest="as_of", default=None, help="YYYY-MM-DD (default: WORKBENCH_AS_OF)"
    )
    parser.set_defaults(handler=resolve_dates)


def resolve_dates(args: argparse.Namespace, settings: Settings) -> Outcome:
    as_of = _parse_as_of(args.as_of) if args.as_of else settings.as_of
    rewrite = resolve_relative_dates(args.text, as_of)
    data = {
        "text": rewrite.text,
        "spans": [
            {"source": s.source, "start": s.start.isoformat(), "end": s.end.isoformat()}
            for s in rewrite.spans
        ],
    }
    lines = [rewrite.text, ""]
    lines += [f"  {s.source!r} -> {s.rendered}" for s in rewrite.spans] or ["  (no dates found)"]
    hints = find_unresolved_hints(args.text, as_of)
    if hints:
        lines.append("  not resolved (left for the model): " + ", ".join(map(repr, hints)))
    return Outcome(data=data, text="\n".join(lines))


def _parse_as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--as-of {value!r} is not a date; write it as YYYY-MM-DD") from exc
