"""``workbench init DIR [--from-demo]``: a new workspace, ready to point at the team's database."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import Outcome
from workbench.settings import PROJECT_ROOT, Settings
from workbench.workspace import WORKSPACE_FILE, Template, init_workspace

SHIPPED = Template(prompts=PROJECT_ROOT / "prompts", cases=PROJECT_ROOT / "fixtures" / "smoke")
"""The shipped demo's prompts and cases, whatever workspace is current."""


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "init",
        parents=[common],
        help="create a workspace: workbench.toml, prompts/ and cases/",
        description="Create a workspace folder. With --from-demo the shipped stage prompts and "
        "smoke cases are copied, ready to edit; without, the prompt format, gates, budget and "
        "tag list are, and the prompts and cases are yours to write.",
    )
    parser.add_argument("folder", type=Path, help="the workspace folder (created if missing)")
    parser.add_argument(
        "--from-demo", action="store_true", help="copy the shipped prompts and cases"
    )
    parser.add_argument("--name", help="the workspace's name (default: from the folder's name)")
    parser.set_defaults(handler=init_command, makes_workspace=True)


def init_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    workspace = init_workspace(args.folder, SHIPPED, from_demo=args.from_demo, name=args.name)
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
    lines = [
        f"workspace {workspace.name!r} created in {workspace.root}",
        f"  {WORKSPACE_FILE}   name, database, models, as-of date, paths",
        f"  prompts/         {len(prompts)} stage prompts, gates.yaml, budget.yaml",
        f"  cases/           {', '.join(cases)}",
        "next:",
        f"  1. set database.url in {folder / WORKSPACE_FILE} (or WORKBENCH_DATABASE_URL)",
        f"  2. python -m workbench --workspace {folder} smoke check",
        f'  3. python -m workbench --workspace {folder} run "a question"',
    ]
    return Outcome(data=data, text="\n".join(lines))
