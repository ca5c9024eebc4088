"""``workbench smoke``: the smoke suite's command group.

Each action is a subcommand registered by one function in ``SUBCOMMANDS``;
adding an action (``smoke run``) means adding one ``register_*`` function there.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.commands import Outcome, reachable_database, whole_number
from workbench.commands.blame import (
    add_blame_options,
    blame_fields,
    blame_run,
    check_blame_args,
    register_blame,
)
from workbench.commands.variants import add_variant_arguments, register_ablation, run_prompts
from workbench.diagnosis.heldout import (
    HELD_OUT,
    exposed_cases,
    held_out,
    record_export,
    split_by_exposure,
)
from workbench.diagnosis.report import format_blame, junit_blame
from workbench.errors import ConfigError, LLMError, PromptError
from workbench.llm import make_llm, serving
from workbench.markup import terminal_text
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import (
    CPU_EXPERIMENT,
    MODE_LABELS,
    CheckReport,
    RunPlan,
    RunRecord,
    SmokeComparison,
    SmokeOptions,
    SmokeProgress,
    check_cases,
    check_servers,
    compare_smoke_runs,
    export_training,
    fixed_since,
    format_comparison,
    format_duration,
    format_run,
    load_cases,
    load_run,
    load_tags,
    measure_speed,
    model_matrix,
    model_variants,
    plan_run,
    resume_run,
    run_plan,
    run_summary,
    run_variants,
    select_suite,
    tag_categories,
    untested,
    variant_rates,
    write_junit,
)
from workbench.smoke.datespans import data_ranges, empty_relative_dates
from workbench.smoke.overlap import bank_overlaps
from workbench.smoke.plan import MAX_CASES, MAX_CONCURRENCY, MAX_REPEATS
from workbench.sql import open_database, require_tables, variants_for
from workbench.store import open_store


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("smoke", help="check or run the smoke suite")
    actions = parser.add_subparsers(dest="smoke_command", required=True, metavar="ACTION")
    for register_action in SUBCOMMANDS:
        register_action(actions, common)


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


def register_run(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = actions.add_parser(
        "run",
        parents=[common],
        help="hunt flakes (every case several times) or check an edit (--quick)",
        description="Hunt flakes (the default): run each selected case REPEAT times back to "
        "back with the stage cache bypassed; a case is flaky when its repeats disagree "
        "anywhere. Check an edit (--quick --baseline RUN_ID): run each case of a finished "
        "full run once, reusing that run's answers to every request the edit left unchanged "
        "and leaving out the narrative; regressions and fixes against it come first. The "
        "estimated time is printed before the run starts. Every case result is stored as it "
        "finishes; --resume finishes an interrupted run.",
    )
    add_selection(parser)
    parser.add_argument(
        "--concurrency",
        type=whole_number(1, MAX_CONCURRENCY),
        help="cases at once (default: as many as the servers' concurrency self-tests allow; "
        "one at a time on a server without a passing self-test)",
    )
    parser.add_argument(
        "--restart-between-repeats",
        action="store_true",
        help="restart the managed model server before each repeat",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="check an edit against --baseline: one repeat, unchanged stages reused",
    )
    parser.add_argument("--junit", type=Path, help="also write a JUnit XML report here")
    parser.add_argument(
        "--baseline", help="compare with this earlier run id (with --quick: reuse its answers)"
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when any case passing in --baseline now fails, errors or flakes "
        "(strict: one flip fails the run, even a flip noise could explain)",
    )
    parser.add_argument(
        "--fail-on-significant-regression",
        action="store_true",
        help="exit 1 only when regressions against --baseline outnumber fixes and the exact "
        "sign test on the flips says that is more than noise (p < 0.05)",
    )
    parser.add_argument(
        "--estimate", action="store_true", help="print the estimated time and exit without running"
    )
    parser.add_argument("--resume", metavar="RUN_ID", help="finish this run instead of a new one")
    parser.add_argument("--verbose", action="store_true", help="list every case, passes too")
    add_blame_options(parser)
    add_variant_arguments(parser)
    parser.set_defaults(handler=run_suite_command)


def add_selection(parser: argparse.ArgumentParser) -> None:
    """The arguments that pick cases and repeats, shared by ``run`` and ``experiment``."""
    parser.add_argument("--tag", action="append", default=[], help="only cases with this tag")
    parser.add_argument("--category", help="only cases of this category")
    parser.add_argument("--case", action="append", default=[], help="only this case id")
    parser.add_argument(
        "--limit",
        type=whole_number(1, MAX_CASES),
        help="at most this many cases: a sample across categories, the same for the same N",
    )
    parser.add_argument(
        "--repeat",
        type=whole_number(1, MAX_REPEATS),
        help="runs per case (default 2; a quick check runs each once)",
    )
    parser.add_argument("--label", default="", help="a name for the run")


def selection(args: argparse.Namespace, **changes: Any) -> SmokeOptions:

    quick = changes.get("mode") == "quick"
    fields: dict[str, Any] = {
        "repeats": args.repeat if args.repeat is not None else (1 if quick else 2),
        "tags": tuple(args.tag),
        "category": args.category,
        "ids": tuple(args.case),
        "limit": args.limit,
        "label": args.label,
    }
    return SmokeOptions(**(fields | changes))


def register_experiment(
    actions: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = actions.add_parser(
        "experiment",
        parents=[common],
        help="run the same cases under each server setting (or model) and compare flake rates",
        description="Without --model: restart the managed server with each CPU setting in "
        "turn (bf16 with 4 at once, max-num-seqs 1, float32, a restart between repeats, the prefix "
        "cache off), "
        "run the cases under each, and put the flake rates side by side; the server is "
        "restarted with the configured settings at the end. With --model: the same cases "
        "against each served model or LoRA adapter, with no restart.",
    )
    add_selection(parser)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        help="a served model or adapter name to compare (repeat the option)",
    )
    parser.set_defaults(handler=experiment_command)


def register_export(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = actions.add_parser(
        "export",
        parents=[common],
        help="write passing cases of a run as ChatML JSONL training examples",
        description="One example per stage call of each chosen case: the stage's system "
        "prompt, its input as the user turn, its accepted output as the assistant turn. "
        "The export is recorded in the store (with every case whose question is nearly an "
        "exported one), and later runs report those cases' pass rate apart from the rest.",
    )
    parser.add_argument("--run", required=True, help="the run to export from")
    parser.add_argument(
        "--fixed-since", metavar="RUN_ID", help="only cases that failed there and pass now"
    )
    parser.add_argument("--stage", action="append", default=[], help="only this stage id")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the JSONL file")
    parser.add_argument(
        "--include-held-out",
        action="store_true",
        help=f"export cases tagged {HELD_OUT} too (left out by default: a run would then "
        "score its own training data)",
    )
    parser.set_defaults(handler=export_command)


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None], ...] = (
    register_check,
    register_run,
    register_experiment,
    register_export,
    register_blame,
    register_ablation,
)


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


def run_suite_command(args: argparse.Namespace, settings: Settings) -> Outcome:

    store = open_store(settings)
    check_blame_args(args)
    if args.quick and not args.baseline:
        raise ConfigError(
            "--quick checks an edit against a finished full run: add --baseline RUN_ID"
        )
    baseline = load_run(store, args.baseline) if args.baseline and not args.quick else None
    if args.resume:
        load_run(store, args.resume)  # an unknown run id fails before a server starts
    else:
        options = selection(
            args,
            concurrency=args.concurrency,
            restart_between_repeats=args.restart_between_repeats,
            mode="quick" if args.quick else "hunt",
            baseline=args.baseline if args.quick else None,
        )
        select_suite(options, settings=settings)  # so does an empty selection
    prompts = run_prompts(args, settings, say)  # and a bad prompt file or refused variant
    database = reachable_database(settings)  # and a database that is down
    with serving(settings, say) as server:
        llm = make_llm(settings)
        try:
            env = RunEnvironment(settings, llm, prompts, database, store)
            if args.resume:
                record = resume_run(env, args.resume, server=server, on_progress=print_progress)
            else:
                if options.concurrency != 1 and not args.estimate:  # one at a time needs no test
                    first_selftest(settings, env, server)
                plan = plan_run(env, options, server=server, speed=measure_speed(env))
                if args.estimate:
                    return estimate_outcome(plan)
                say(f"{MODE_LABELS[options.mode]}: {plan.estimate.describe()}")
                if plan.manifest.concurrency_note:
                    say(plan.manifest.concurrency_note)
                record = run_plan(env, plan, server=server, on_progress=print_progress)
            blamed = None
            if (
                getattr(args, "blame", False)
                and record.manifest.mode == "quick"
                and record.status == "done"
            ):
                before = load_run(store, record.manifest.baseline or "")
                blamed = blame_run(env, before, record, settings, args.blame_budget, say)
        finally:
            llm.close()
    if record.manifest.mode == "quick":
        baseline = load_run(store, record.manifest.baseline or "")
    return run_outcome(record, baseline, args, exposed_cases(store), blamed)


def first_selftest(settings: Settings, env: RunEnvironment, server: Any) -> None:
    """The concurrency self-test of servers never tested with their current settings, so
    that the run knows how many cases it may send at once."""
    assert env.store is not None
    missing = untested(settings, env.store, server)
    if not missing:
        return
    say(
        f"no concurrency self-test for {', '.join(missing)} with its current settings: "
        "running it first (about a minute)"
    )
    try:
        for result in check_servers(settings, env.store, env.prompts, server=server):
            say(f"{result.endpoint}: {result.summary()}")
    except LLMError as exc:
        say(f"the self-test could not run ({exc}); cases go one at a time")


def estimate_outcome(plan: RunPlan) -> Outcome:
    """``--estimate``: what the run would cost, without running it."""
    estimate = plan.estimate
    data = {
        "mode": plan.options.mode,
        "cases": len(plan.cases),
        "case_ids": [c.id for c in plan.cases],
        "stages": estimate.stages,
        "stage_calls": estimate.calls,
        "concurrency": estimate.concurrency,
        "estimate_s": round(estimate.total_s, 1),
        "basis": estimate.basis,
        "concurrency_note": plan.manifest.concurrency_note,
    }
    text = f"{MODE_LABELS[plan.options.mode]}: {estimate.describe()}"
    if plan.manifest.concurrency_note:
        text += "\n" + plan.manifest.concurrency_note
    return Outcome(data=data, text=text)


def run_outcome(
    record: RunRecord,
    baseline: RunRecord | None,
    args: argparse.Namespace,
    exposed: Mapping[str, str] | None = None,
    blamed: dict[str, Any] | None = None,
) -> Outcome:
    """The summary of a finished run; against a baseline, the regressions and fixes first
    (with the hunks edit blame found for them); when a training export has seen some of
    its cases, their pass rate apart from the rest."""
    data = run_summary(record) | blame_fields(blamed)
    text = format_run(record, verbose=args.verbose)
    split = split_by_exposure({r.case_id: r.verdict for r in record.results}, exposed or {})
    if split is not None:
        data["held_out"] = split.to_dict()
        text += "\n" + split.words()
    exit_code = 0
    if args.junit:
        write_junit(record, args.junit, junit_blame(blamed))
        text += f"\nJUnit report: {args.junit}"
    if baseline is not None:
        comparison = compare_smoke_runs(baseline, record)
        data["comparison"] = comparison.to_dict()
        text = format_comparison(comparison) + "\n" + text
        text = format_blame(blamed) + "\n" + text if blamed else text
        exit_code = regression_exit_code(comparison, args)
    if record.status == "interrupted":
        text += f"\ninterrupted: {record.note}" if record.note else ""
        exit_code = exit_code or 1
    return Outcome(data=data, text=text, exit_code=exit_code)


def regression_exit_code(comparison: SmokeComparison, args: argparse.Namespace) -> int:
    """1 when the chosen gate fails: ``--fail-on-regression`` on any regression,
    ``--fail-on-significant-regression`` only on more regressions than fixes beyond noise."""
    if args.fail_on_regression and comparison.regressed:
        return 1
    if args.fail_on_significant_regression and comparison.significant_regression:
        return 1
    return 0


def say(message: str) -> None:
    """A progress line on stderr, so that --json output stays clean."""
    print(terminal_text(message), file=sys.stderr, flush=True)


def print_progress(p: SmokeProgress) -> None:
    """One line per finished case, on stderr so that --json output stays clean."""
    if p.latest is None:
        if p.note:
            say(p.note)
        return
    stages = f", stage {p.stages_done}/{p.stages_planned}" if p.stages_planned else ""
    left = f", ~{format_duration(p.remaining_s)} left" if p.remaining_s is not None else ""
    say(f"[{p.counts.done}/{p.planned}] {p.latest.case_id}: {p.latest.verdict}{stages}{left}")


def experiment_command(args: argparse.Namespace, settings: Settings) -> Outcome:

    options = selection(args, label=args.label or "experiment")  # the Smoke page lists these
    select_suite(options, settings=settings)  # an empty selection fails before any restart
    variants = model_variants(args.model) if args.model else CPU_EXPERIMENT
    prompts = load_prompt_set(settings.prompts_dir)
    database = reachable_database(settings)
    with serving(settings, say):
        llm = make_llm(settings)
        try:
            env = RunEnvironment(settings, llm, prompts, database, open_store(settings))
            runs = run_variants(env, variants, options=options, on_progress=print_progress)
        finally:
            llm.close()
    table = variant_rates(runs)
    flipped: list[str] = []
    if len(runs) >= 2:
        matrix = model_matrix(runs)
        flipped = list(matrix.loc[matrix["flipped"], "case"])
    rows = table.to_dict(orient="records")
    lines = [f"{'setting':32} {'cases':>5} {'pass':>6} {'flaky':>6} {'error':>6}  run"]
    lines += [
        f"{r['setting']:32} {r['cases']:5d} {r['pass rate']:6.0%} {r['flaky rate']:6.0%} "
        f"{r['error rate']:6.0%}  {r['run']}"
        for r in rows
    ]
    if len(runs) >= 2:
        lines.append(f"verdict flipped between settings: {len(flipped)} cases {flipped or ''}")
    if len(runs) < len(variants):
        lines.append(f"stopped after {len(runs)} of {len(variants)} settings")
    data = {"settings": rows, "flipped": flipped}
    return Outcome(data=data, text="\n".join(lines).rstrip())


def export_command(args: argparse.Namespace, settings: Settings) -> Outcome:

    store = open_store(settings)
    record = load_run(store, args.run)
    case_ids = None
    if args.fixed_since:
        case_ids = fixed_since(load_run(store, args.fixed_since), record)
    suite = load_cases(settings.smoke_cases_dir, settings.as_of)
    kept_out = set() if args.include_held_out else held_out({c.id: c.tags for c in suite})
    chosen = list(case_ids if case_ids is not None else record.case_ids)
    report = export_training(
        store,
        record,
        args.output,
        case_ids=[c for c in chosen if c not in kept_out],
        stages=tuple(args.stage),
    )
    refused = [c for c in chosen if c in kept_out]
    questions = {case.id: case.question for case in suite}
    exposure = record_export(store, record.id, report.path, report.case_ids, questions)
    near = sorted(c for c, how in exposure.items() if how != "exported")
    data = report.to_dict() | {"held_out_left_out": refused, "near_duplicates": near}
    text = f"{report.examples} examples from {report.cases} cases written to {report.path}"
    if refused:
        text += (
            f"\n{len(refused)} cases tagged {HELD_OUT} left out ({', '.join(refused)}); "
            "--include-held-out exports them"
        )
    if near:
        text += (
            f"\n{len(near)} other cases ask nearly an exported question ({', '.join(near)}); "
            "recorded with the exported ones, so runs score them apart"
        )
    return Outcome(data=data, text=text)
