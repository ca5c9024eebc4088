"""``workbench info``: the workspace, its database and endpoint, and where things are kept."""

from __future__ import annotations

import argparse

from workbench.commands import Outcome
from workbench.settings import Settings, environment_overrides
from workbench.sql import database_label, redact
from workbench.urls import redact_url


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "info", parents=[common], help="show the workspace, its database and the effective settings"
    )
    parser.set_defaults(handler=show_info)


def show_info(args: argparse.Namespace, settings: Settings) -> Outcome:
    data = {
        "workspace": settings.workspace_name,
        "workspace_dir": str(settings.workspace) if settings.workspace else None,
        "database": database_label(settings),
        "endpoint": ", ".join(redact_url(url) for url in settings.base_urls),
        "managed_server": settings.managed_server,
        "models": {role: settings.model_for(role) for role in ("main", "think", "sql_think")},
        "as_of": settings.as_of.isoformat(),
        "prompts_dir": str(settings.prompts_dir),
        "cases_dir": str(settings.smoke_cases_dir),
        "schema": _schema_source(settings),
        "data_dir": str(settings.data_dir.resolve()),
        "store_url": redact(settings.resolved_store_url),
        "from_environment": sorted(environment_overrides(settings)),
    }
    text = "\n".join(f"{key:16} {value}" for key, value in data.items() if value not in (None, []))
    return Outcome(data=data, text=text)


def _schema_source(settings: Settings) -> str:
    if settings.schema_file is not None and settings.schema_file.is_file():
        return f"{settings.schema_file} (hand-written)"
    return "read from the database"
