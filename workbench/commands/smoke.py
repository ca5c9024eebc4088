"""``workbench smoke``: the smoke suite's command group.

Each action is a subcommand registered by one function in ``SUBCOMMANDS``;
adding an action (``smoke run``) means adding one ``register_*`` function there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.commands import Outcome, reachable_database, say, whole_number
from workbench.commands.blame import (
    add_blame_options,
    blame_fields,
    blame_run,
    check_blame_args,
    register_blame,
)
from workbench.commands.export import register_export
from workbench.commands.reask import add_reask_options, reask_after
from workbench.commands.smokecheck import register_check
from workbench.commands.variants import add_variant_arguments, register_ablation, run_prompts
from workbench.diagnosis.heldout import (
    exposed_cases,
    split_by_exposure,
)
from workbench.diagnosis.report import format_blame, junit_blame
from workbench.errors import ConfigError
from workbench.experiments import CPU_EXPERIMENT, model_variants, run_variants
from workbench.llm import make_llm, serving
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import (
    MODE_LABELS,
    RunPlan,
    RunRecord,
    SmokeComparison,
    SmokeOptions,
    SmokeProgress,
    compare_smoke_runs,
    format_comparison,
    format_duration,
    format_run,
    load_run,
    measure_speed,
    model_matrix,
    plan_run,
    resume_run,
    run_plan,
    run_summary,
    select_suite,
    variant_rates,
    write_junit,
)
from workbench.smoke.plan import MAX_CASES, MAX_CONCURRENCY, MAX_REPEATS
from workbench.smoke.reask import ReaskReport
from workbench.smoke.servercheck import selftest_first
from workbench.sql import database_dialect, warm_workers
from workbench.store import open_store


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("smoke", help="check or run the smoke suite")
    actions = parser.add_subparsers(dest="smoke_command", required=True, metavar="ACTION")
    for register_action in SUBCOMMANDS:
        register_action(actions, common)


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
        "(strict: one flip fails the run, even one noise could explain, unless its "
        "re-asks (--reask) dropped it as noise)",
    )
    parser.add_argument(
        "--fail-on-significant-regression",
        action="store_true",
        help="exit 1 only when regressions against --baseline outnumber fixes and the exact "
        "sign test on the flips says that is more than noise (p < 0.05; re-asked "
        "uncertain flips counted only when confirmed)",
    )
    add_reask_options(parser)
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


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None], ...] = (
    register_check,
    register_run,
    register_experiment,
    register_export,
    register_blame,
    register_ablation,
)


def run_suite_command(args: argparse.Namespace, settings: Settings) -> Outcome:

    if database_dialect(settings) == "duckdb":
        warm_workers(1)  # reaching the database takes one: it starts while the suite is read
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
                    selftest_first(settings, store, prompts, server, say)
                plan = plan_run(env, options, server=server, speed=measure_speed(env))
                if args.estimate:
                    return estimate_outcome(plan)
                say(f"{MODE_LABELS[options.mode]}: {plan.estimate.describe()}")
                if plan.manifest.concurrency_note:
                    say(plan.manifest.concurrency_note)
                record = run_plan(env, plan, server=server, on_progress=print_progress)
            blamed = None
            if record.manifest.mode == "quick":
                baseline = load_run(store, record.manifest.baseline or "")
                if args.blame and record.status == "done":
                    blamed = blame_run(env, baseline, record, args.blame_budget, say)
            record, reasked = reask_after(env, baseline, record, args, say)
        finally:
            llm.close()
    return run_outcome(record, baseline, args, exposed_cases(store), blamed, reasked)


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
    reasked: ReaskReport | None = None,
) -> Outcome:
    """The summary of a finished run; against a baseline, the regressions and fixes first
    (with the hunks edit blame found for them, and what re-asking the uncertain flips
    gave); when a training export has seen some of its cases, their pass rate apart from
    the rest."""
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
        said = reasked.words() if reasked is not None else ""
        text = format_comparison(comparison) + "\n" + (said + "\n" if said else "") + text
        if reasked is not None:
            data["reask"] = reasked.to_dict()
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
