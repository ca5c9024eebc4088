"""Edit blame from the command line: ``smoke run --quick --baseline A --blame`` and
``smoke blame --baseline A --run B``.

Both name, for each case the edit flipped, the smallest set of hunks of the prompt edit
that flips it again (``workbench.diagnosis.blame``), print it with the hunks as diffs,
carry it in ``--json`` and in the JUnit report, and keep it in the store for the Smoke
page. The first runs right after a quick check, on its model server; the second blames
any two runs with different prompts, probing quick checks against the first.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.cases import load_cases
from workbench.commands import Outcome, reachable_database, say
from workbench.diagnosis.blame import DEFAULT_BUDGET
from workbench.diagnosis.probing import blame_edit, flipped_cases
from workbench.diagnosis.prompttexts import run_prompt_texts
from workbench.diagnosis.report import BlameData, format_blame, junit_blame, save_blame
from workbench.errors import ConfigError, PromptError
from workbench.llm import make_llm, serving
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import RunRecord, SmokeOptions, load_run, plan_run, write_junit
from workbench.store import open_store

Say = Callable[[str], None]


def add_blame_options(parser: argparse.ArgumentParser) -> None:
    """``--blame`` and ``--blame-budget`` for ``smoke run``."""
    parser.add_argument(
        "--blame",
        action="store_true",
        help="after a quick check, name the hunks of the prompt edit that flipped each "
        "regressed or fixed case (delta debugging: each probe a quick check of those cases)",
    )
    add_budget(parser, "--blame-budget")


def add_budget(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        name,
        type=int,
        default=DEFAULT_BUDGET,
        metavar="PROBES",
        help=f"at most this many probes (default {DEFAULT_BUDGET}); a case not narrowed "
        "down by then gets the smallest hunk set found so far",
    )


def register_blame(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = actions.add_parser(
        "blame",
        parents=[common],
        help="name the hunks of the prompt edit between two runs that flipped each case",
        description="For each case that passed in --baseline and fails in --run (or the "
        "other way), find the smallest set of hunks of the prompt edit between them that "
        "flips it again: delta debugging, each probe a quick check of the flipped cases "
        "against --baseline with only some hunks applied. --baseline must be able to stand "
        "in for a quick check with the current model and settings.",
    )
    parser.add_argument("--baseline", required=True, help="the run before the edit")
    parser.add_argument("--run", required=True, help="the run after the edit")
    add_budget(parser, "--budget")
    parser.add_argument("--junit", type=Path, help="also write the run's JUnit report, blamed")
    parser.set_defaults(handler=blame_command)


def check_blame_args(args: argparse.Namespace) -> None:
    """``--blame`` explains a quick check; refused before anything runs otherwise."""
    if getattr(args, "blame", False) and not (args.quick or args.resume):
        raise ConfigError(
            "--blame explains a quick check's flips: add --quick --baseline RUN_ID, or blame "
            "two finished runs with `workbench smoke blame --baseline A --run B`"
        )
    if getattr(args, "blame", False) and args.blame_budget < 0:
        raise ConfigError(f"--blame-budget must be 0 or more, not {args.blame_budget}")


def blame_run(
    env: RunEnvironment,
    baseline: RunRecord,
    record: RunRecord,
    budget: int,
    say: Say,
) -> BlameData:
    """Blame a finished quick check's flips; what stops blame (a baseline text not found)
    is said in the result, ``{"error": ...}``, and the quick check's own outcome stands."""
    try:
        return blame_runs(env, baseline, record, budget, say)
    except (ConfigError, PromptError) as exc:
        return {"error": str(exc)}


def blame_runs(
    env: RunEnvironment,
    baseline: RunRecord,
    record: RunRecord,
    budget: int,
    say: Say,
) -> BlameData:
    """Blame ``record``'s flips against ``baseline`` on ``env``'s server; stored, returned."""
    ids = set(record.case_ids)
    suite = load_cases(env.settings.smoke_cases_dir, env.settings.as_of)
    cases = {c.id: c for c in suite if c.id in ids}
    found = blame_edit(env, baseline, record, cases, budget=budget, say=say)
    assert env.store is not None, "a smoke run has a store"
    save_blame(env.store, found)
    return found.to_dict()


def blame_fields(data: BlameData | None) -> dict[str, Any]:
    """The ``--json`` fields: ``blame`` per case, and the probes it took."""
    if data is None:
        return {}
    if "error" in data:
        return {"blame": {}, "blame_error": data["error"]}
    probes = {k: data[k] for k in ("probes", "budget", "estimate", "hunks_in_edit")}
    return {"blame": data["cases"], "blame_probes": probes}


def blame_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    if args.budget < 0:
        raise ConfigError(f"--budget must be 0 or more, not {args.budget}")
    store = open_store(settings)
    baseline, record = load_run(store, args.baseline), load_run(store, args.run)
    flips = flipped_cases(baseline, record)
    if not flips:
        return Outcome(
            data={"blame": {}}, text=f"{record.id} flipped no case against {baseline.id}"
        )
    prompts = load_prompt_set(settings.prompts_dir)
    for run in (baseline, record):  # a text that cannot be found fails before a server starts
        run_prompt_texts(store, run, prompts)
    database = reachable_database(settings)
    options = SmokeOptions(mode="quick", repeats=1, baseline=baseline.id, ids=tuple(flips))
    with serving(settings, say):
        llm = make_llm(settings)
        try:
            env = RunEnvironment(settings, llm, prompts, database, store)
            plan_run(env, options)  # refuses a baseline that cannot stand in, and says why
            data = blame_runs(env, baseline, record, args.budget, say)
        finally:
            llm.close()
    text = format_blame(data)
    if args.junit:
        write_junit(record, args.junit, junit_blame(data))
        text += f"\nJUnit report: {args.junit}"
    return Outcome(data=blame_fields(data) | {"baseline": baseline.id, "run": record.id}, text=text)
