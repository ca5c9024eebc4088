"""Pipeline variants on the command line: ``--variant``, ``--leave-out``, ``--merge``,
``--swap`` for ``smoke run``, and ``smoke ablation``.

The variant logic is ``workbench.prompts.variants`` and ``workbench.experiments.ablation``;
this module only reads the arguments, says what a variant changes and prints the table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from workbench.commands import Outcome, reachable_database, say
from workbench.errors import WorkbenchError
from workbench.experiments.ablation import (
    Ablation,
    AblationRow,
    ablation_table,
    ablation_variants,
    run_ablation,
    unchecked_expectations,
)
from workbench.llm import make_llm, serving
from workbench.markup import terminal_text
from workbench.pipeline import RunEnvironment
from workbench.prompts import PromptSet, load_prompt_set
from workbench.prompts.variants import (
    PipelineVariant,
    apply_variant,
    find_variant,
    inline_variant,
    variant_from_dict,
)
from workbench.settings import Settings
from workbench.smoke import load_run, select_suite
from workbench.smoke.plan import RunPlan
from workbench.store import open_store

Say = Callable[[str], None]


def add_variant_arguments(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--variant`` (a file or a name in the prompts folder's ``variants/``) and the inline
    changes; with ``many`` (the ablation) each ``--variant`` is a row of its own."""
    parser.add_argument(
        "--variant",
        action="append" if many else "store",
        default=[] if many else None,
        metavar="FILE|NAME",
        help="a pipeline variant: a YAML file, or a name in the prompts folder's variants/"
        + (" (repeat the option; each is a row)" if many else ""),
    )
    if many:
        return
    parser.add_argument(
        "--leave-out", action="append", default=[], metavar="ID", help="leave this stage out"
    )
    parser.add_argument(
        "--merge", action="append", default=[], metavar="A+B", help="merge two adjacent stages"
    )
    parser.add_argument(
        "--swap",
        action="append",
        default=[],
        metavar="ID=FILE",
        help="this stage's prompt from FILE",
    )


def chosen_variant(args: argparse.Namespace, settings: Settings) -> PipelineVariant | None:
    """The variant the arguments describe (a file, inline changes, or both), or None."""
    base = find_variant(settings.prompts_dir, args.variant) if args.variant else None
    return inline_variant(
        getattr(args, "leave_out", []),
        getattr(args, "merge", []),
        getattr(args, "swap", []),
        base=base,
    )


def run_prompts(args: argparse.Namespace, settings: Settings, say: Say) -> PromptSet:
    """The prompt set a ``smoke run`` runs: the workspace's, or the variant's; says what the
    variant changes and which case expectations it leaves unchecked."""
    prompts = load_prompt_set(settings.prompts_dir)
    variant = chosen_variant(args, settings)
    if variant is None and getattr(args, "resume", None):  # a variant run resumes as one
        recorded = load_run(open_store(settings), args.resume).manifest.variant
        variant = variant_from_dict(recorded) if recorded else None
    if variant is None:
        return prompts
    applied = apply_variant(prompts, variant)
    say(f"pipeline variant {variant.name}: {' → '.join(s.id for s in applied.prompts.stages)}")
    for note in applied.notes:
        say(f"note: {note}")
    cases = select_suite_quietly(args, settings)
    for warning in unchecked_expectations(prompts, applied.prompts, cases):
        say(f"warning: {warning}")
    return applied.prompts


def select_suite_quietly(args: argparse.Namespace, settings: Settings) -> tuple[Any, ...]:
    """The selected cases, for warnings only (the run itself selects and fails loudly)."""
    from workbench.smoke import SmokeOptions

    try:
        options = SmokeOptions(tags=tuple(args.tag), category=args.category, ids=tuple(args.case))
        return select_suite(options, settings=settings)
    except WorkbenchError:  # only for a warning: the run itself reports what is wrong
        return ()


# -- smoke ablation ----------------------------------------------------------------------


def register_ablation(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from workbench.commands.smoke import add_selection

    parser = actions.add_parser(
        "ablation",
        parents=[common],
        help="which stages earn their keep: leave-one-stage-out variants against a full run",
        description="Run the leave-one-stage-out variant of every stage that can be left out "
        "(and each --variant) as a quick check against --baseline, a finished full run, on its "
        "cases: the stages before the changed one are answered from the baseline. Then one "
        "row per variant: pass rate (per category), cases fixed and broken against the full "
        "pipeline with the paired sign test, model calls and latency per case, how much was "
        "reused, and each prompt's budget verdict.",
    )
    add_selection(parser)
    parser.add_argument("--baseline", required=True, help="a finished full run of this pipeline")
    add_variant_arguments(parser, many=True)
    parser.add_argument(
        "--only-listed", action="store_true", help="run only the --variant rows, no leave-one-out"
    )
    parser.set_defaults(handler=ablation_command)


def ablation_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    from workbench.commands.smoke import print_progress, selection

    store = open_store(settings)
    baseline = load_run(store, args.baseline)  # an unknown run fails before a server starts
    prompts = load_prompt_set(settings.prompts_dir)
    listed = tuple(find_variant(settings.prompts_dir, v) for v in args.variant)
    for variant in listed:
        apply_variant(prompts, variant)  # a refused variant fails before anything runs
    variants, skipped = ablation_variants(prompts, listed)
    if args.only_listed:
        variants = listed
    for stage_id, why in skipped.items():
        say(f"not left out: {stage_id}: {why}")
    options = selection(args, mode="quick", baseline=args.baseline, repeats=1)
    database = reachable_database(settings)
    with serving(settings, say):
        llm = make_llm(settings)
        try:
            env = RunEnvironment(settings, llm, prompts, database, store)

            def on_plan(variant: PipelineVariant, plan: RunPlan) -> None:
                say(f"{variant.name}: {plan.estimate.describe()}")

            runs = run_ablation(
                env,
                args.baseline,
                variants,
                options=options,
                on_plan=on_plan,
                on_progress=print_progress,
            )
        finally:
            llm.close()
    table = ablation_table(baseline, runs, prompts, skipped)
    return Outcome(data=table.to_dict(), text=format_ablation(table))


def format_ablation(table: Ablation) -> str:
    """One block per pipeline: the full one first, then each variant."""
    blocks = [_block(table.full, full=True)] + [_block(row) for row in table.rows]
    if table.not_left_out:
        blocks.append(
            "not left out:\n"
            + "\n".join(f"  {stage}: {why}" for stage, why in table.not_left_out.items())
        )
    return terminal_text("\n\n".join(blocks))


def _block(row: AblationRow, *, full: bool = False) -> str:
    flaky = f", flaky {row.flaky_rate:.0%}" if row.flaky_rate is not None else ""
    lines = [
        f"{row.variant} (run {row.run_id})" + (f": {row.description}" if row.description else ""),
        f"  pass {row.pass_rate:.0%} of {row.cases} cases{flaky}; "
        + ", ".join(f"{k} {v:.0%}" for k, v in row.by_category.items()),
        f"  {row.calls_per_case:.1f} model calls per case, {row.latency_per_case_s:.2f} s "
        "latency per case"
        + (
            ""
            if full
            else f"; {row.reused} reused, {row.calls} called ({row.reuse_ratio:.0%} reused)"
        ),
    ]
    if not full:
        lines.append(f"  fixed {_ids(row.fixed)}, broken {_ids(row.broken)}: {row.verdict}")
    lines.append("  budget: " + ", ".join(f"{k} {v}" for k, v in row.budget.items()))
    lines += [f"  note: {note}" for note in row.notes]
    return "\n".join(lines)


def _ids(case_ids: tuple[str, ...]) -> str:
    """``2 (a, b)``, or ``0``."""
    return f"{len(case_ids)} ({', '.join(case_ids)})" if case_ids else "0"
