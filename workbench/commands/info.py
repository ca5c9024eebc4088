"""``workbench info``: where the workbench keeps things and which server it talks to."""

from __future__ import annotations

import argparse

from workbench.commands import Outcome
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("info", parents=[common], help="show the effective settings")
    parser.set_defaults(handler=show_info)


def show_info(args: argparse.Namespace, settings: Settings) -> Outcome:
    data = {
        "data_dir": str(settings.data_dir.resolve()),
        "prompts_dir": str(settings.prompts_dir),
        "store_url": settings.resolved_store_url,
        "base_urls": list(settings.base_urls),
        "managed_server": settings.managed_server,
        "models": {role: settings.model_for(role) for role in ("main", "think", "sql_think")},
        "as_of": settings.as_of.isoformat(),
    }
    text = "\n".join(f"{key:15} {value}" for key, value in data.items())
    return Outcome(data=data, text=text)
