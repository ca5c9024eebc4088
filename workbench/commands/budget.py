"""``workbench budget [PATH ...]``: measure prompt files against their budget."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import Outcome
from workbench.prompts import PromptBudget, budget_paths
from workbench.prompts.rendered import rendered_schema
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "budget",
        parents=[common],
        help="measure prompt files against the prompt budget (exit 1 when any is over)",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a prompt file or a directory of *.md prompt files (default: the prompts directory)",
    )
    parser.add_argument(
        "--no-schema",
        action="store_true",
        help="leave the rendered schema out of the tokens (no database is opened)",
    )
    parser.set_defaults(handler=show_budget)


def show_budget(args: argparse.Namespace, settings: Settings) -> Outcome:
    paths = args.paths or [settings.prompts_dir]
    rendered, note = (None, None) if args.no_schema else rendered_schema(settings, paths)
    budgets = budget_paths(paths, rendered=rendered)
    failed = any(b.status in ("over", "error") for b in budgets)
    text = "\n\n".join(_describe(b) for b in budgets) or "no prompt files found"
    if note:
        text += f"\n\n{note}"
    return Outcome(data=[b.to_dict() for b in budgets], text=text, exit_code=1 if failed else 0)


def _describe(budget: PromptBudget) -> str:
    if budget.measures is None:
        return f"{budget.path}: ERROR {budget.error}"
    m = budget.measures
    per_task = ", ".join(f"{t.title or '(top)'}={t.counted}" for t in m.tasks)
    lines = [
        f"{budget.path}  [{budget.status}]  profile {budget.profile}",
        f"  nonblank_lines {m.nonblank_lines}  macro_tasks {m.macro_tasks}  rules {m.rules}"
        f"  rules_per_task {per_task or '-'}  hidden_rules {len(m.hidden_rules)}"
        f"  tokens {m.tokens} ({m.tokenizer})",
    ]
    lines += [f"  {v.status:4}  {v.measure}: {v.reason}" for v in budget.verdicts]
    lines += [f"        line {h.line}: {h.text}" for h in m.hidden_rules]
    return "\n".join(lines)
