"""The workbench's exceptions.

One tree, so that a page can catch ``WorkbenchError`` and show its message,
and nothing else is swallowed::

    WorkbenchError
    ├── ConfigError            a setting or the environment is wrong
    ├── QuestionError          a question is empty or too long to run
    ├── FileError              a file the user writes is malformed (names file:line)
    │   ├── PromptError        a prompt file (or gates/budget file)
    │   ├── CaseError          a smoke case file
    │   └── WorkspaceError     a workspace's workbench.toml, or a file it names
    ├── StoreError
    │   └── VersionConflict    a save was based on a stale version
    ├── LLMError
    │   ├── LLMUnavailable     no server answers at the base URL
    │   │   └── ServerRestarted  the server restarted in the middle of a run
    │   ├── LLMTimeout         the server took too long
    │   └── LLMResponseError   the server answered with an error or garbage
    ├── ServerError            the local model server could not be managed
    └── SQLError
        ├── SQLParseError      the SQL does not parse (line, column)
        ├── SQLRefused         the SQL is not a single read-only query
        └── SQLExecutionError  the database rejected or timed out the query
            ├── DatabaseUnavailable  the database cannot be reached (down, wrong host or port)
            └── SchemaPermissionDenied  the role may not use a whole schema (no USAGE on it)

Every message says what went wrong and how to fix it.

Outside the tree, ``Terminated`` is the command line's SIGTERM: a ``KeyboardInterrupt``,
so that whatever cleans up after Ctrl-C (a run marked interrupted, a server the command
started stopped) also runs after ``kill``.
"""

from __future__ import annotations

import re


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """A setting or the environment is wrong; the message names the setting."""


class FileError(WorkbenchError):
    """A file the user writes is malformed; the message starts with ``path:line:``."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class PromptError(FileError):
    """A prompt file, ``gates.yaml`` or ``budget.yaml`` is malformed."""


class CaseError(FileError):
    """A smoke case file is malformed."""


class WorkspaceError(FileError):
    """A workspace's ``workbench.toml`` is malformed, or a folder it names is missing."""


class StoreError(WorkbenchError):
    """The store could not read or write."""


class VersionConflict(StoreError):
    """A save was based on a version that is no longer the latest."""


class LLMError(WorkbenchError):
    """A model call failed."""


class LLMUnavailable(LLMError):
    """No model server answers at the configured base URL."""


class ServerRestarted(LLMUnavailable):
    """The model server restarted while a run was using it: answers from before and after
    cannot be told apart, so the run stops as if the server had gone."""


class LLMTimeout(LLMError):
    """The model server did not answer in time."""


class LLMResponseError(LLMError):
    """The model server answered with an error status or an unusable body."""


class ServerError(WorkbenchError):
    """The local model server could not be started, stopped or restarted."""


class SQLError(WorkbenchError):
    """SQL could not be checked or run: its message is one line, whatever the database said.

    Why: a database's error runs to several lines (DuckDB's candidate lists, the ``LINE 1:``
    echo and its caret line, PostgreSQL's HINT), which broke tables, logs and the one-line
    summaries of a smoke run. The message keeps what a person needs (``one_line``); the full
    text stays in ``detail`` for ``--json``, which shows the caret under the SQL.
    """

    def __init__(self, message: str, *, detail: str | None = None):
        if "\n" in message:
            detail = detail or message
            message = one_line(message)
        super().__init__(message)
        self.detail = detail


class SQLParseError(SQLError):
    """The SQL does not parse."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ):
        super().__init__(message, detail=detail)
        self.line = line
        self.column = column


class SQLRefused(SQLError):
    """The SQL is not a single read-only query."""


class SQLExecutionError(SQLError):
    """The database rejected the query, or it ran out of time."""


class QuestionError(WorkbenchError):
    """A question cannot be run: it is empty or longer than the pipeline accepts."""


class DatabaseUnavailable(SQLExecutionError):
    """The database cannot be reached: it is down, or the host or port is wrong."""


class SchemaPermissionDenied(SQLExecutionError):
    """The role may not use a whole schema: every query on it fails alike (no USAGE granted)."""


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM (``kill``); raised in the main thread by the command line."""

    def __init__(self) -> None:
        super().__init__("stopped by a termination signal (SIGTERM)")


def one_line(text: str) -> str:
    """A database's multi-line error as one line: its first paragraph without the echo of the
    SQL (``LINE 1: ...``), the caret under it, or indented lists and the lines that head them;
    the lines kept are joined with ``; `` unless one already ends a sentence."""
    kept: list[str] = []
    lines = text.strip().splitlines()
    in_list = False
    for number, line in enumerate(lines):
        if not line.strip():
            if kept and not re.match(r"\s*(HINT|DETAIL):", "\n".join(lines[number:]).strip()):
                break
            continue
        indented = line[:1].isspace()
        in_list = in_list and indented
        if in_list or re.fullmatch(r"[\s^~]+", line) or re.match(r"LINE \d+:", line):
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if line.rstrip().endswith(":") and following[:1].isspace():
            in_list = True
            continue
        kept.append(" ".join(line.split()))
    joined = ""
    for line in kept:
        joined += line if not joined else (" " if joined[-1] in ".!?:;" else "; ") + line
    return joined or " ".join(text.split())


def unexpected_error(exc: BaseException) -> str:
    """What a person is told of an exception the workbench did not raise on purpose: its type
    and message, and where the rest is (a ``WorkbenchError`` speaks for itself)."""
    if isinstance(exc, WorkbenchError):
        return str(exc)
    message = str(exc).strip() or "(no message)"
    return (
        f"{type(exc).__name__}: {message}\n"
        "This is a defect of the workbench: the traceback is in the app's log (stderr). "
        "Please report it with that traceback."
    )
