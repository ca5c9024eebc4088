"""``workbench schema``: what the schema variables render to for the current workspace.

Exactly the text a prompt's ``{{schema}}`` and ``{{schema_sql}}`` receive (the hand-written
``schema.md`` when it exists, else the database's catalog with the workspace's
``schema.yaml`` applied), with the warnings about what the model is not shown and the size
of each in tokens (the prompt budget measures the prompt file alone).
"""

from __future__ import annotations

import argparse

from workbench.commands import Outcome
from workbench.prompts import SCHEMA_VARIABLES
from workbench.prompts.tokens import count_tokens_offline
from workbench.settings import Settings
from workbench.sql import database_at, load_schema_notes, open_database, schema_texts


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "schema",
        parents=[common],
        help="print what {{schema}} and {{schema_sql}} render to, with warnings",
    )
    parser.add_argument(
        "--variable",
        choices=sorted(SCHEMA_VARIABLES),
        help="print only this variable's text, as the prompt receives it",
    )
    parser.add_argument(
        "--database",
        help="a database URL or a DuckDB file (default: the workspace's database)",
    )
    parser.set_defaults(handler=show_schema)


def show_schema(args: argparse.Namespace, settings: Settings) -> Outcome:
    notes = load_schema_notes(settings.schema_notes)
    curated = settings.schema_file
    hand_written = curated is not None and curated.is_file()
    database = None
    if not hand_written:
        database = (
            database_at(settings, args.database) if args.database else open_database(settings)
        )
    texts = schema_texts(database, curated=curated, notes=notes)
    variables = texts.variables
    if args.variable:
        variables = {args.variable: variables[args.variable]}
    source = f"{curated} (hand-written)" if database is None else f"read from {database.label}"
    data = {
        "source": source,
        "notes": str(notes.path) if notes.path else None,
        "warnings": list(texts.warnings),
        "variables": variables,
        "tokens": {name: count_tokens_offline(text) for name, text in variables.items()},
    }
    if args.variable:
        return Outcome(data=data, text=variables[args.variable])
    lines = [f"source: {source}"]
    if notes.path:
        lines.append(
            f"notes: {notes.path} ({len(notes.exclude)} left out, {len(notes.describe)} described)"
        )
    lines += [f"warning: {warning}" for warning in texts.warnings]
    for name, text in variables.items():
        lines += ["", f"== {{{{{name}}}}}: {data['tokens'][name]:,} tokens ==", text]
    return Outcome(data=data, text="\n".join(lines))
