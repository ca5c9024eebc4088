"""``smoke check``: prove the gold cases, lint their golds, and say where to fix each."""

from __future__ import annotations

import argparse
import time

from workbench.cases import load_cases, load_tags, tag_categories
from workbench.cases.datespans import data_ranges, empty_relative_dates
from workbench.cases.overlap import bank_overlaps
from workbench.commands import Outcome
from workbench.errors import PromptError
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import CheckReport, check_cases
from workbench.sql import open_database, require_tables, variants_for


def register_check(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = actions.add_parser(
        "check",
        parents=[common],
        help="prove every gold case against the workspace's database (and the demo's variants)",
        description="Verify that every gold query parses, is read-only, runs and returns rows "
        "(none when tagged empty-expected) on the workspace's database, and on the demo "
        "database's variants (WORKBENCH_DEMO_VARIANTS) when that is the database; that every "
        "wrong_sql is told apart from its gold on each database; and that ids, questions and "
        "tags are in order (and, for the shipped suite, its category counts). The gold "
        "linter then reads each gold's result: empty on every database, an order the question "
        "asks for and the gold does not impose, NULLs or numbers-as-text in a sort key, "
        "now()/random(), more rows than the row cap. A case justifies a finding in its file "
        "(lint: {rule: why}).",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) on gold-lint findings no case justifies, not only on failed checks",
    )
    parser.set_defaults(handler=check_suite)


def check_suite(args: argparse.Namespace, settings: Settings) -> Outcome:
    directory = settings.smoke_cases_dir
    cases = load_cases(directory, settings.as_of)
    tags = load_tags(directory)
    database = open_database(settings)
    require_tables(database)  # every gold query would fail alike
    # The category counts are the shipped suite's own promise; a team's suite sets its own.
    limits = {} if settings.workspace is None else {"minimums": {}, "min_wrong_sql": 0}
    started = time.perf_counter()
    variants = variants_for(settings, database)  # the demo's: built once, then reused
    built = time.perf_counter() - started
    try:
        stages = load_prompt_set(settings.prompts_dir).stages
    except PromptError as exc:  # the cases are still proved; the prompts have their own check
        stages = None
        warnings = [f"expect keys and the example bank were not checked: {exc}"]
    else:
        warnings = bank_overlaps(stages, cases)
    report = check_cases(
        cases,
        database,
        known_tags=tags,
        variants=variants,
        categories=tag_categories(tags),
        stage_ids=None if stages is None else [p.id for p in stages],
        **limits,
    )
    warnings += empty_relative_dates(cases, data_ranges(database))
    seconds = time.perf_counter() - started - built
    sources = {case.id: case.source for case in cases}  # where to fix a failing case
    data = {"workspace": settings.workspace_name, "database": database.label} | report.to_dict()
    data |= {"seconds": round(seconds, 2), "variant_build_s": round(built, 2)}
    data["warnings"] = warnings
    for failure in data["failures"]:
        failure["source"] = sources.get(failure["case"], "")
    head = f"{settings.workspace_name}: {directory} against {database.label}"
    text = head + "\n" + format_report(report, sources)
    text += "".join(f"\nwarning: {warning}" for warning in warnings)
    text += format_lint(report, strict=getattr(args, "strict", False))
    text += f"\nproved in {seconds:.1f} s" + (
        f" (variants built in {built:.1f} s)" if built > 1 else ""
    )
    strict = getattr(args, "strict", False)
    failed = not report.ok or (strict and bool(report.unjustified))
    return Outcome(data=data, text=text, exit_code=1 if failed else 0)


def format_lint(report: CheckReport, *, strict: bool) -> str:
    """The gold linter's findings, one per line with the case's ``file:line``; justified ones
    last, with the case file's reason."""
    if not report.lint:
        return "\ngold lint: no findings"
    unjustified = report.unjustified
    head = (
        f"\ngold lint: {len(unjustified)} findings"
        + (
            f", {len(report.lint) - len(unjustified)} justified"
            if len(report.lint) > len(unjustified)
            else ""
        )
        + (" (--strict fails on them)" if strict and unjustified else "")
    )
    ordered = sorted(report.lint, key=lambda f: f.justified is not None)
    return head + "".join(f"\n  {finding.line()}" for finding in ordered)


def format_report(report: CheckReport, sources: dict[str, str] | None = None) -> str:
    """The check's summary for people: counts, then each failure on its own line (with the
    ``file:line`` of its case when ``sources`` has it)."""
    lines = [f"{report.cases} cases, {report.wrong_sql_cases} with a wrong_sql"]
    if report.databases:
        lines.append("databases:   " + ", ".join(report.databases))
    lines.append("by category: " + ", ".join(f"{k} {v}" for k, v in report.by_category.items()))
    lines.append("by tag:      " + ", ".join(f"{k} {v}" for k, v in report.by_tag.items()))
    if report.ok:
        lines.append("all checks passed")
    else:
        lines.append(f"{len(report.failures)} failures:")
        for failure in report.failures:
            where = (sources or {}).get(failure.case_id or "", "")
            lines.append(
                f"  {failure.case_id or '(suite)'} [{failure.check}] {failure.message}"
                + (f" ({where})" if where else "")
            )
    return "\n".join(lines)
