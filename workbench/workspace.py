"""Workspaces: a team's own pipeline (database, models, prompts, cases) in one folder.

A workspace is a folder the team keeps in git::

    workbench.toml   its name; the target database; model endpoints and names; the as-of date; paths
    prompts/         the stage prompts, with gates.yaml and budget.yaml
    cases/           the smoke cases (the YAML of fixtures/smoke/), with tags.yaml
    schema.yaml      optional: tables and columns left out of the schema, and descriptions
    schema.md        optional: the {{schema}} text written by hand; it wins over the catalog
    .workbench/      the workspace's store (runs, baselines, estimates), ignored by git

Why a folder and not settings alone: prompts and cases are reviewed in diffs beside the file
that says which database and models they were written for. Why the ``name`` is the id every
stored record carries: clones of one workspace (two engineers, CI) sharing a store share its
history, and two workspaces never see each other's. The shipped demo is the workspace named
``demo``; it needs no folder. ``WORKBENCH_*`` environment settings override the file.

``workbench.toml`` is validated here, at the trust boundary, and a mistake is reported as
``path:line: what is wrong`` like every other file the user writes.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.bounds import RowCap, Seconds, Seed
from workbench.errors import WorkspaceError
from workbench.urls import (
    DEMO_DATABASE,
    PASSWORD_HOME,
    POSTGRES_SCHEMES,
    check_database_url,
    check_endpoint,
)
from workbench.yamlfiles import describe_error, read_text

WORKSPACE_FILE = "workbench.toml"
DEMO_NAME = "demo"
"""The shipped demo's workspace name: what records from before workspaces belong to."""
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
DATA_DIR_NAME = ".workbench"
"""The data directory's default name, in the workspace folder (``Settings.data_dir``)."""
INIT_HINT = "create one with: python -m workbench init FOLDER [--from-demo]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Database(_Strict):
    url: str = DEMO_DATABASE
    timeout_s: Seconds | None = Field(default=None, strict=True)
    row_cap: RowCap | None = Field(default=None, strict=True)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = check_database_url(value)
        if value.startswith(POSTGRES_SCHEMES) and urlsplit(value).password:
            raise ValueError(
                "holds a password, and workbench.toml is kept in git: remove it from the URL "
                f"and {PASSWORD_HOME}"
            )
        return value


class _Models(_Strict):
    endpoints: list[str] = Field(default_factory=list)
    main: str | None = Field(default=None, min_length=1)
    think: str | None = Field(default=None, min_length=1)
    sql_think: str | None = Field(default=None, min_length=1)
    seed: Seed | None = Field(default=None, strict=True)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[str]) -> list[str]:
        return [check_endpoint(url) for url in value]


class _Run(_Strict):
    as_of: date | None = None


class _Paths(_Strict):
    prompts: str = "prompts"
    cases: str = "cases"
    schema_file: str = Field(default="schema.md", alias="schema")
    schema_notes: str = "schema.yaml"


class _WorkspaceFile(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    database: _Database = Field(default_factory=_Database)
    models: _Models = Field(default_factory=_Models)
    run: _Run = Field(default_factory=_Run)
    paths: _Paths = Field(default_factory=_Paths)

    @field_validator("name")
    @classmethod
    def _not_the_demo(cls, value: str) -> str:
        if value == DEMO_NAME:
            raise ValueError(f"{DEMO_NAME!r} is the shipped demo's name; choose another")
        return value


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: where its files are and what it runs against."""

    name: str
    root: Path
    database_url: str
    prompts_dir: Path
    cases_dir: Path
    schema_file: Path
    schema_notes: Path | None = None
    description: str = ""
    overrides: Mapping[str, Any] | None = None
    """Settings the file sets beyond the paths and the database (models, as-of, limits)."""

    def settings_values(self) -> dict[str, Any]:
        """The ``Settings`` fields this workspace sets."""
        return {
            "workspace": self.root,
            "workspace_name": self.name,
            "database_url": self.database_url,
            "prompts_dir": self.prompts_dir,
            "cases_dir": self.cases_dir,
            "schema_file": self.schema_file,
            "schema_notes": self.schema_notes,
            **(self.overrides or {}),
        }


def load_workspace(folder: str | Path) -> Workspace:
    """Read and check a workspace folder.

    Raises:
        WorkspaceError: the folder or its ``workbench.toml`` is missing or malformed (with the
            line), or a folder it names does not exist.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise WorkspaceError(f"no such workspace folder; {INIT_HINT}", path=str(folder))
    path = root / WORKSPACE_FILE
    if not path.is_file():
        raise WorkspaceError(f"missing: every workspace has one; {INIT_HINT}", path=str(path))
    text = read_text(path, error=WorkspaceError, what="workspace file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise WorkspaceError(
            f"not valid TOML: {exc}", path=str(path), line=int(found[1]) if found else None
        ) from exc
    try:
        model = _WorkspaceFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(describe_error(err) for err in errors)
        raise WorkspaceError(
            f"invalid workspace file: {problems}",
            path=str(path),
            line=key_line(text, errors[0]["loc"]),
        ) from exc
    folders = {}
    for key, relative in (("prompts", model.paths.prompts), ("cases", model.paths.cases)):
        folders[key] = root / relative
        if not folders[key].is_dir():
            raise WorkspaceError(
                f"paths.{key} names {folders[key]}, which is not a folder: create it or fix "
                "the path",
                path=str(path),
                line=key_line(text, ("paths", key)) or key_line(text, ("paths",)),
            )
    return Workspace(
        name=model.name,
        root=root,
        database_url=_resolve_database(model.database.url, root),
        prompts_dir=folders["prompts"],
        cases_dir=folders["cases"],
        schema_file=root / model.paths.schema_file,
        schema_notes=root / model.paths.schema_notes,
        description=model.description,
        overrides=_overrides(model),
    )


def duckdb_path(url: str) -> Path:
    """The file of a ``duckdb:`` URL: ``duckdb:///relative.duckdb``, ``duckdb:////abs.duckdb``."""
    rest = url.removeprefix("duckdb://")
    return Path(rest[1:] if rest.startswith("/") else rest).expanduser()


def _resolve_database(url: str, root: Path) -> str:
    """A relative ``duckdb:///file`` is relative to the workspace folder."""
    if not url.startswith("duckdb://"):
        return url
    path = duckdb_path(url)
    return f"duckdb:///{path if path.is_absolute() else (root / path).resolve()}"


def _overrides(model: _WorkspaceFile) -> dict[str, Any]:
    values: dict[str, Any] = {
        "base_url": ",".join(model.models.endpoints) or None,
        "model_main": model.models.main,
        "model_think": model.models.think,
        "model_sql_think": model.models.sql_think,
        "seed": model.models.seed,
        "as_of": model.run.as_of,
        "sql_timeout_s": model.database.timeout_s,
        "sql_row_cap": model.database.row_cap,
    }
    return {key: value for key, value in values.items() if value is not None}


SETTING_KEYS = {
    "database_url": "database.url",
    "sql_timeout_s": "database.timeout_s",
    "sql_row_cap": "database.row_cap",
    "base_url": "models.endpoints",
    "model_main": "models.main",
    "model_think": "models.think",
    "model_sql_think": "models.sql_think",
    "seed": "models.seed",
    "as_of": "run.as_of",
    "prompts_dir": "paths.prompts",
    "cases_dir": "paths.cases",
    "schema_file": "paths.schema",
    "schema_notes": "paths.schema_notes",
}
"""The ``workbench.toml`` key of each setting the file sets (``Workspace.settings_values``)."""


def setting_source(root: Path, setting: str) -> str:
    """Where the workspace file in ``root`` sets ``setting``: ``path:line: key``.

    Why: a value from the file that the settings still refuse must be blamed on the file's
    line, not on the ``WORKBENCH_*`` variable of the same setting, which the user never set.
    """
    path = root / WORKSPACE_FILE
    key = SETTING_KEYS.get(setting, setting)
    try:
        line = key_line(path.read_text(encoding="utf-8"), key.split("."))
    except (OSError, UnicodeDecodeError):
        line = None
    return f"{path}:{line}: {key}" if line else f"{path}: {key}"


def key_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of the TOML key at ``loc`` (the deepest part of it written in the file).

    tomllib gives values without positions, so the lines are found by reading table headers
    (``[models]``) and ``key =`` lines, dotted keys included.
    """
    lines: dict[str, int] = {}
    table = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if header:
            table = _normalized_key(header[1])
            lines.setdefault(table, number)
            continue
        assignment = re.match(r"^([A-Za-z0-9_.\-\"' ]+?)\s*=", line)
        if assignment:
            key = _normalized_key(assignment[1])
            lines.setdefault(f"{table}.{key}" if table else key, number)
    parts = [str(part) for part in loc]
    while parts:
        found = lines.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


def _normalized_key(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


# -- a new workspace ------------------------------------------------------------------------


def workspace_toml(name: str, database_url: str = DEMO_DATABASE) -> str:
    """The text of a new ``workbench.toml``, every setting explained."""
    return f'''# A workspace of the Text2SQL workbench: python -m workbench --workspace . info
# Environment settings (WORKBENCH_*) override what is written here.

# The id every run, prompt version and smoke result of this workspace is stored under.
name = "{name}"
description = ""

[database]
# postgresql://USER@HOST:PORT/DATABASE (a read-only role; the password comes from PGPASSWORD
# or ~/.pgpass, never from this file), duckdb:///PATH.duckdb (relative to this folder), or
# "demo" (the shipped demo database).
url = "{database_url}"
# timeout_s = 10      # per query (WORKBENCH_SQL_TIMEOUT_S)
# row_cap = 10000     # rows kept per query (WORKBENCH_SQL_ROW_CAP)

[models]
# OpenAI-compatible base URLs ending in /v1 (vLLM); several form a pool. Empty: the
# workbench runs its own local server.
endpoints = []
# main = "qwen3"        # served model name per role (WORKBENCH_MODEL_MAIN, ...)
# think = "qwen3"
# sql_think = "sql"     # e.g. a LoRA adapter for the SQL stage
# seed = 0

[run]
# as_of = 2026-03-31    # the date relative dates resolve against, unless a case says otherwise

[paths]
prompts = "prompts"     # the stage prompts, gates.yaml, budget.yaml
cases = "cases"         # the smoke cases and tags.yaml
schema = "schema.md"    # optional hand-written {{{{schema}}}}; read from the database when absent
schema_notes = "schema.yaml"  # optional: tables and columns left out of the schema, descriptions
'''


def slug(text: str) -> str:
    """A workspace name made from a folder name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:63] or "workspace"
    return name if name != DEMO_NAME else f"{DEMO_NAME}-copy"


@dataclass(frozen=True)
class Template:
    """Where a new workspace's files come from: the starter set (prompts that speak of no
    domain, an empty example bank, the tag list and the format docs) or the demo's."""

    prompts: Path
    cases: Path


def init_workspace(folder: str | Path, template: Template, *, name: str | None = None) -> Workspace:
    """Create a workspace in ``folder`` (which may exist but must not hold one), its
    ``prompts/`` and ``cases/`` copied from ``template``, ready to edit.

    Raises:
        WorkspaceError: a file it would write exists already.
    """
    root = Path(folder).expanduser()
    targets = [root / WORKSPACE_FILE, root / "prompts", root / "cases"]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise WorkspaceError(
            "would overwrite what is there; choose an empty folder or move it away",
            path=existing[0],
        )
    name = name or slug(root.resolve().name)
    if not re.match(NAME_PATTERN, name) or name == DEMO_NAME:
        raise WorkspaceError(
            f"{name!r} cannot name a workspace: lowercase letters, digits, '.', '_', '-', "
            f"not {DEMO_NAME!r}",
            path=str(root),
        )
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template.prompts, root / "prompts")
    shutil.copytree(template.cases, root / "cases")
    (root / WORKSPACE_FILE).write_text(workspace_toml(name), encoding="utf-8")
    _ignore_data_dir(root)
    return load_workspace(root)


GITIGNORE = f"""\
# The workbench's store (runs, baselines, estimates, the demo database): local state, not source.
{DATA_DIR_NAME}/
"""


def _ignore_data_dir(root: Path) -> None:
    """Keep the data directory (``<workspace>/.workbench``) out of git."""
    path = root / ".gitignore"
    if not path.exists():
        path.write_text(GITIGNORE, encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    if not any(line.strip().strip("/") == DATA_DIR_NAME for line in text.splitlines()):
        path.write_text(text + ("" if text.endswith("\n") or not text else "\n") + GITIGNORE)
