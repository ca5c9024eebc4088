"""``workbench init DIR [--from-demo]``: a new workspace, ready to point at the team's database."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import Outcome
from workbench.settings import PROJECT_ROOT, Settings
from workbench.workspace import WORKSPACE_FILE, Template, init_workspace

SHIPPED = Template(prompts=PROJECT_ROOT / "prompts", cases=PROJECT_ROOT / "fixtures" / "smoke")
"""The shipped demo's prompts and cases, whatever workspace is current."""
STARTER = Template(
    prompts=PROJECT_ROOT / "starter" / "prompts", cases=PROJECT_ROOT / "starter" / "cases"
)
"""What plain ``init`` writes: seven stage prompts that speak of no domain (the SQL stage
reads the workspace's schema, examples come from its bank), gates that count the
workspace's own words, the budget, an empty example bank, the tag list and format docs."""


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "init",
        parents=[common],
        help="create a workspace: workbench.toml, prompts/ and cases/",
        description="Create a workspace folder with a starter pipeline for any database: seven "
        "stage prompts that read your schema, gates, budget, an example bank to fill with "
        "your questions and their SQL, the tag list and the format docs. With --from-demo the "
        "demo's prompts and smoke cases are copied instead.",
    )
    parser.add_argument("folder", type=Path, help="the workspace folder (created if missing)")
    parser.add_argument(
        "--from-demo", action="store_true", help="copy the shipped prompts and cases"
    )
    parser.add_argument("--name", help="the workspace's name (default: from the folder's name)")
    parser.set_defaults(handler=init_command, makes_workspace=True)


def init_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    template = SHIPPED if args.from_demo else STARTER
    workspace = init_workspace(args.folder, template, name=args.name)
    prompts = sorted(p.name for p in workspace.prompts_dir.glob("*.md") if p.name != "README.md")
    cases = sorted(p.name for p in workspace.cases_dir.glob("*.yaml"))
    data = {
        "workspace": str(workspace.root),
        "name": workspace.name,
        "prompts": prompts,
        "cases": cases,
        "from_demo": args.from_demo,
    }
    folder = args.folder
    steps = [
        f"set database.url and [run] as_of in {folder / WORKSPACE_FILE}",
        f'python -m workbench --workspace {folder} run "a question about your data"',
    ]
    if not args.from_demo:
        steps.append(f"add 10-30 questions and their SQL to {folder / 'prompts' / 'examples.yaml'}")
    steps.append(
        f"write smoke cases in {folder / 'cases'}, then "
        f"python -m workbench --workspace {folder} smoke check"
    )
    bank = "" if args.from_demo else ", examples.yaml (the example bank)"
    lines = [
        f"workspace {workspace.name!r} created in {workspace.root}",
        f"  {WORKSPACE_FILE}   name, database, models, as-of date, paths",
        f"  prompts/         {len(prompts)} stage prompts, gates.yaml, budget.yaml{bank}",
        f"  cases/           {', '.join(cases)}",
        "next:",
        *(f"  {n}. {step}" for n, step in enumerate(steps, 1)),
    ]
    return Outcome(data=data, text="\n".join(lines))
