"""``workbench serve`` runs the model server in the foreground; ``workbench models`` lists what is served."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from typing import Any

from workbench.commands import Outcome
from workbench.errors import ServerError
from workbench.llm import OpenAIClient, ServerManager
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    serve = subparsers.add_parser(
        "serve", parents=[common], help="run the model server until Ctrl-C"
    )
    serve.add_argument(
        "--profile", choices=["cpu", "gpu"], help="default: WORKBENCH_SERVER_PROFILE"
    )
    serve.add_argument("--port", type=int, help="default: WORKBENCH_SERVER_PORT")
    serve.add_argument(
        "--print-command", action="store_true", help="print the server command line and exit"
    )
    serve.set_defaults(handler=run_server)

    models = subparsers.add_parser(
        "models", parents=[common], help="list the models (and LoRA adapters) the servers serve"
    )
    models.set_defaults(handler=list_models)


def run_server(args: argparse.Namespace, settings: Settings) -> Outcome:
    manager = ServerManager(settings, profile=args.profile, port=args.port)
    if args.print_command:
        command = manager.command()
        return Outcome(data={"command": command, "flags": manager.flags()}, text=" ".join(command))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    status = manager.start(say)
    if not status.owned:
        data = dataclasses.asdict(status)
        return Outcome(data=data, text=f"already running (not managed here): {status.base_url}")
    print(f"serving at {status.base_url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while manager.status().state in ("running", "starting"):
            time.sleep(1.0)
        tail = "\n".join(manager.last_log_lines(15))
        raise ServerError(f"the model server stopped on its own; log {manager.log_path}:\n{tail}")
    except KeyboardInterrupt:
        say("stopping the model server")
        manager.stop()
        return Outcome(data={"stopped": status.base_url}, text="stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def list_models(args: argparse.Namespace, settings: Settings) -> Outcome:
    rows = []
    for url in settings.base_urls:
        client = OpenAIClient.from_settings(settings, url)
        try:
            for model in client.list_models():
                rows.append({"base_url": url, **dataclasses.asdict(model)})
        finally:
            client.close()
    lines = [
        f"{row['id']:32} {'adapter of ' + row['parent'] if row['parent'] else 'model':28} "
        f"{row['base_url']}"
        for row in rows
    ]
    return Outcome(data=rows, text="\n".join(lines) or "no models served")
