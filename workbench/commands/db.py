"""``workbench db build``: build (or reuse) the demo database and its variants, and report
what they hold and what they cost.

``--postgres URL`` loads the same rows into a PostgreSQL database instead, for trying the
workbench on PostgreSQL (and for comparing the two engines on the smoke suite).
"""

from __future__ import annotations

import argparse

from workbench.commands import Outcome
from workbench.settings import Settings
from workbench.sql import (
    DemoBuild,
    build_demo_database,
    build_variant_databases,
    load_demo_postgres,
    variant_seeds,
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("db", help="the demo database")
    actions = parser.add_subparsers(dest="db_command", required=True)
    build = actions.add_parser(
        "build",
        parents=[common],
        help="build the demo database and its variants (reused when up to date)",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if it exists (with --postgres: replace the demo's tables there)",
    )
    build.add_argument(
        "--postgres",
        metavar="URL",
        help="also load the demo data into this PostgreSQL database (a role that may create tables)",
    )
    build.set_defaults(handler=build_database)


def build_database(args: argparse.Namespace, settings: Settings) -> Outcome:
    if args.postgres:
        return load_postgres(args, settings)
    report = build_demo_database(settings, force=args.force)
    variants = build_variant_databases(settings, force=args.force)
    data = {
        "path": str(report.path.resolve()),
        "built": report.built,
        "seconds": round(report.seconds, 3),
        "size_bytes": report.size_bytes,
        "tables": report.counts,
        "variants": [
            {
                "seed": seed,
                "path": str(v.path.resolve()),
                "built": v.built,
                "seconds": round(v.seconds, 3),
            }
            for seed, v in zip(variant_seeds(settings), variants, strict=True)
        ],
    }
    lines = [
        f"{report.path.resolve()}",
        f"{_action(report)} in {report.seconds:.2f} s · {report.size_bytes / 1_048_576:.1f} MiB",
        *_count_lines(report.counts),
    ]
    if variants:
        total = sum(v.seconds for v in variants)
        lines.append(
            f"{len(variants)} variants (verdicts are also checked on them), {total:.2f} s:"
        )
        lines += [
            f"  seed {seed}: {_action(v)} in {v.seconds:.2f} s · {v.path.name}"
            for seed, v in zip(variant_seeds(settings), variants, strict=True)
        ]
    return Outcome(data=data, text="\n".join(lines))


def _action(build: DemoBuild) -> str:
    return "built" if build.built else "reused (up to date)"


def load_postgres(args: argparse.Namespace, settings: Settings) -> Outcome:
    report = load_demo_postgres(settings, args.postgres, replace=args.force)
    data = {
        "database": report.database,
        "seconds": round(report.seconds, 3),
        "tables": report.counts,
    }
    lines = [
        f"{report.database}",
        f"loaded in {report.seconds:.2f} s",
        *_count_lines(report.counts),
    ]
    return Outcome(data=data, text="\n".join(lines))


def _count_lines(counts: dict[str, int]) -> list[str]:
    width = max(len(name) for name in counts)
    return [f"  {name:<{width}} {rows:>9,}" for name, rows in counts.items()]
