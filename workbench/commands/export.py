"""``smoke export``: passing cases of a run as training examples, with the held-out guard."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cases import load_cases
from workbench.commands import Outcome
from workbench.diagnosis.heldout import HELD_OUT, held_out, record_export
from workbench.settings import Settings
from workbench.smoke import export_training, fixed_since, load_run
from workbench.store import open_store


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
