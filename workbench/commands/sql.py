"""``workbench sql run|compare|check|format|extract``: the SQL layer from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.commands import Outcome
from workbench.settings import Settings
from workbench.sql import (
    MAX_CELL_BYTES,
    MAX_RESULT_BYTES,
    Database,
    check_readonly,
    compare_queries,
    database_at,
    database_dialect,
    database_label,
    duckdb_problem,
    extract_sql,
    format_sql,
    open_database,
    tree_to_duckdb,
    variants_for,
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sql", help="check, run and compare SQL")
    commands = parser.add_subparsers(dest="sql_command", required=True, metavar="SQL_COMMAND")

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--database",
        help="a database URL (postgresql://…, duckdb:///…) or a DuckDB file "
        "(default: the workspace's database)",
    )
    where.add_argument("--dialect", default="postgres", help="dialect the SQL is written in")

    run = commands.add_parser(
        "run", parents=[common, where], help="run one read-only query; exit 1 on an error"
    )
    run.add_argument("sql", help="the query, or - to read it from stdin")
    run.set_defaults(handler=run_sql)

    compare = commands.add_parser(
        "compare",
        parents=[common, where],
        help="compare a predicted query's result with a gold query's (on the demo database, "
        "also on its variants); exit 1 when they differ",
    )
    compare.add_argument("--gold", required=True, help="the reference query")
    compare.add_argument("--pred", required=True, help="the predicted query")
    compare.add_argument(
        "--no-variants",
        action="store_true",
        help="judge on the demo database alone, not also on its variants (other seeds)",
    )
    compare.set_defaults(handler=compare_sql)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="parse and safety-check a query without running it; when the workspace's "
        "database speaks another dialect, show what it would run",
    )
    check.add_argument("sql", help="the query, or - to read it from stdin")
    check.add_argument("--dialect", default="postgres", help="dialect the SQL is written in")
    check.set_defaults(handler=check_sql)

    pretty = commands.add_parser("format", parents=[common], help="pretty-print a query")
    pretty.add_argument("sql", help="the query, or - to read it from stdin")
    pretty.add_argument("--dialect", default="postgres", help="dialect the SQL is written in")
    pretty.set_defaults(handler=format_sql_command)

    extract = commands.add_parser(
        "extract", parents=[common], help="pull the SQL out of a model's answer read from stdin"
    )
    extract.set_defaults(handler=extract_sql_command)


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _database(args: argparse.Namespace, settings: Settings) -> Database:
    if args.database is not None:
        return database_at(settings, args.database)
    return open_database(settings)


def run_sql(args: argparse.Namespace, settings: Settings) -> Outcome:
    result = _database(args, settings).run(_text(args.sql), dialect=args.dialect)
    data = {
        "sql": result.sql,
        "executed_sql": result.executed_sql,
        "columns": list(result.columns),
        "rows": [list(row) for row in result.rows],
        "row_count": result.row_count,
        "truncated": result.truncated,
        "cut_by": result.cut_by,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
    footer = f"{result.row_count} row{'s' if result.row_count != 1 else ''} in {result.elapsed_ms:.1f} ms"
    if result.cut_by == "rows":
        footer += f" (cut at WORKBENCH_SQL_ROW_CAP={settings.sql_row_cap})"
    elif result.cut_by == "cell bytes":
        footer += f" (cells longer than {MAX_CELL_BYTES:,} bytes were cut)"
    elif result.cut_by == "result bytes":
        footer += f" (cut at {MAX_RESULT_BYTES:,} bytes of results)"
    return Outcome(data=data, text=render_table(result.columns, result.rows) + "\n" + footer)


def compare_sql(args: argparse.Namespace, settings: Settings) -> Outcome:
    database = _database(args, settings)
    variants = () if args.no_variants else variants_for(settings, database)
    verdict = compare_queries(
        args.gold, args.pred, database, dialect=args.dialect, variants=variants
    )
    data = {
        "equivalent": verdict.equivalent,
        "undetermined": verdict.undetermined,
        "reason": verdict.reason,
        "database": verdict.database,
        "variants": [v.name for v in variants],
    }
    # An undetermined pair is not equivalent (exit 1); its reason starts with the word.
    word = "equivalent: " if verdict.equivalent else "" if verdict.undetermined else "different: "
    return Outcome(
        data=data, text=f"{word}{verdict.reason}", exit_code=0 if verdict.equivalent else 1
    )


DIALECT_NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL"}


def check_sql(args: argparse.Namespace, settings: Settings) -> Outcome:
    """The check, and the SQL the target database would run when it is not the one written:
    a transpile is shown only where it matters, and never one that changes the meaning."""
    tree = check_readonly(_text(args.sql), args.dialect)
    target = database_dialect(settings)
    name = DIALECT_NAMES.get(target, target)
    data: dict[str, Any] = {"ok": True}
    lines = ["ok: a single read-only query"]
    if target == args.dialect:
        lines.append(f"{name}: runs as written on {database_label(settings)}")
        return Outcome(data=data, text="\n".join(lines))
    problem = duckdb_problem(tree) if target == "duckdb" else None
    if problem:
        data |= {target: None, "not_transpiled": problem}
        lines.append(f"{name}: not transpiled, the transpile would change the meaning: {problem}")
    else:
        sql = tree_to_duckdb(tree) if target == "duckdb" else tree.sql(target, comments=False)
        data[target] = sql
        lines.append(f"{name}: {sql}")
    return Outcome(data=data, text="\n".join(lines))


def format_sql_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    formatted = format_sql(_text(args.sql), args.dialect)
    return Outcome(data={"sql": formatted}, text=formatted)


def extract_sql_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    sql = extract_sql(sys.stdin.read())
    return Outcome(data={"sql": sql}, text=sql)


def render_table(
    columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...], width: int = 40
) -> str:
    """A plain-text table, cells cut at ``width`` characters."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        return text if len(text) <= width else text[: width - 1] + "…"

    cells = [[cell(c) for c in columns]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
