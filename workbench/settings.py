"""Settings: one object, read once from ``WORKBENCH_*`` environment variables.

Everything that holds state (the demo database, the store, the converted local
model, server logs) lives under ``data_dir`` so that a test can point the whole
workbench at a temporary directory.

Why the data directory is anchored to the workspace and not to the current directory: the
command line started in the workspace folder and the app started from the clone must find
one history, not two. So ``data_dir`` defaults to ``<workspace folder>/.workbench`` (the shipped
demo's: ``<project root>/.workbench``), and a relative ``WORKBENCH_DATA_DIR`` is resolved once,
when the settings are read, against that same folder.

A workspace (``workbench.workspace``) sets some of these from its ``workbench.toml``;
``load_settings`` reads it, and an environment variable still wins over the file.

A value that cannot work is refused when the settings are read, naming the variable:
a timeout must be a positive, finite number of seconds (0 would switch it off), a cap at
least 1, a URL must parse. A ``WORKBENCH_*`` variable that names no setting is most often
a typo that would silently leave the default in force, so ``unknown_variables`` finds
them for the command line and the pages to warn about.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from workbench.bounds import RowCap, Seconds, Seed
from workbench.errors import ConfigError
from workbench.urls import DEMO_DATABASE, check_database_url, check_endpoint
from workbench.workspace import DATA_DIR_NAME, DEMO_NAME, load_workspace, setting_source

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the package was imported from (holds prompts/ and fixtures/)."""

ModelRole = Literal["main", "think", "sql_think"]

LOCAL_MODEL_NAME = "smollm2-135m-instruct"

ENV_PREFIX = "WORKBENCH_"
OTHER_VARIABLES_PREFIX = "WORKBENCH_TEST_"
"""Variables read by the test suite, not by the workbench (``WORKBENCH_TEST_BASE_URL``)."""


class Settings(BaseSettings):
    """Every knob of the workbench. Environment: ``WORKBENCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # The workspace: its folder (None: the shipped demo), and the id its records carry.
    workspace: Path | None = None
    workspace_name: str = DEMO_NAME

    # Where things live.
    data_dir: Path = Field(
        default=Path(DATA_DIR_NAME),
        description="runs, baselines, estimates, the demo database; relative: to the "
        "workspace folder (the demo: the project root)",
    )
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    fixtures_dir: Path = PROJECT_ROOT / "fixtures"
    cases_dir: Path | None = Field(
        default=None, description="the smoke cases; default: fixtures_dir/smoke"
    )
    schema_file: Path | None = Field(
        default=None, description="a hand-written {{schema}} that wins when the file exists"
    )
    schema_notes: Path | None = Field(
        default=None,
        description="schema.yaml: tables and columns the model is not shown, and descriptions",
    )
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite in data_dir",
    )

    # The target database and SQL execution.
    database_url: str = Field(
        default=DEMO_DATABASE,
        description="postgresql://USER@HOST:PORT/DB, duckdb:///PATH.duckdb, or demo",
    )
    demo_seed: int = 20260331
    demo_variants: int = Field(
        default=3,
        ge=0,
        le=20,
        description="demo databases with other seeds a verdict is also checked on (0: none)",
    )
    as_of: date = date(2026, 3, 31)
    sql_timeout_s: Seconds = 10.0
    sql_row_cap: RowCap = 10_000

    # The model server. Empty base_url: the workbench manages a local server.
    base_url: str = Field(
        default="",
        description="OpenAI-style URL ending in /v1; several separated by commas form a pool",
    )
    api_key: str = "EMPTY"
    model_main: str = Field(default="", description="served model name; empty: the local model")
    model_think: str = Field(default="", description="served model name; empty: the local model")
    model_sql_think: str = Field(
        default="", description="served model name; empty: the local model"
    )
    local_model: str = Field(
        default=LOCAL_MODEL_NAME,
        description="what the cpu profile serves: a name from `python -m workbench models`",
    )
    seed: Seed = 0
    connect_timeout_s: Seconds = 5.0
    request_timeout_s: Seconds = 300.0
    max_retries: int = Field(default=2, ge=0)

    # The managed server (see workbench.llm.server).
    server_profile: Literal["cpu", "gpu"] = "cpu"
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=1, le=65535)
    server_dtype: Literal["bfloat16", "float32", "float16", "auto"] = "float32"
    server_max_num_seqs: int = Field(default=4, ge=1)
    server_enforce_eager: bool = True
    server_prefix_caching: bool = True
    server_batch_invariant: bool = False
    server_start_timeout_s: Seconds = 600.0
    server_autostart: bool = True
    """Start the managed local server when a page needs it and it is down."""
    server_max_model_len: int = Field(
        default=8192,
        ge=256,
        description="--max-model-len (capped at the local model's context); Qwen's 32,768 "
        "would crowd the KV cache",
    )
    server_kv_cache_gib: float = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="memory reserved for the KV cache (cpu: in RAM)",
    )
    server_gpu_model: str = Field(
        default="Qwen/Qwen3-32B-AWQ", description="what the gpu profile serves (path or repo id)"
    )
    server_lora_modules: str = Field(
        default="", description="gpu profile: LoRA adapters as name=path, comma-separated"
    )
    model_dir: Path | None = Field(
        default=None,
        description="where the local model is converted once; default: data_dir/models",
    )

    # Who edits prompts.
    author: str = "engineer"

    @model_validator(mode="before")
    @classmethod
    def _anchor_data_dir(cls, values: Any) -> Any:
        """A relative data directory is the workspace's (the demo's: the project root's)."""
        if not isinstance(values, dict):
            return values
        path = Path(values.get("data_dir") or DATA_DIR_NAME).expanduser()
        if not path.is_absolute():
            folder = values.get("workspace")
            path = data_anchor(Path(folder) if folder else None) / path
        return values | {"data_dir": path}

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        for url in _split_urls(value):
            check_endpoint(url)
        return value

    @field_validator("server_host")
    @classmethod
    def _check_server_host(cls, value: str) -> str:
        """A host name or address only: the managed server's URL is built from it, and user
        info or a path here would pass the endpoint checks by the back door."""
        if not value or re.search(r"[@/?#\s]", value):
            raise ValueError(
                "is not a host name or address (it holds '@', '/', '?', '#' or a space); "
                "use e.g. 127.0.0.1 or gpu-box, and put a key in WORKBENCH_API_KEY"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return check_database_url(value or DEMO_DATABASE)

    @property
    def smoke_cases_dir(self) -> Path:
        """Where the smoke cases (and ``tags.yaml``) live."""
        return self.cases_dir or self.fixtures_dir / "smoke"

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                make_url(value)
            except ArgumentError as exc:
                raise ValueError(
                    f"{value!r} is not an SQLAlchemy URL ({exc}); use e.g. "
                    "postgresql+psycopg://user@host/db, or leave it unset for SQLite"
                ) from exc
        return value

    @property
    def managed_server(self) -> bool:
        """True when no base URL is configured and the workbench runs its own server."""
        return not _split_urls(self.base_url)

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The pool of OpenAI-compatible base URLs (the managed server's when unset)."""
        urls = _split_urls(self.base_url)
        if urls:
            return urls
        return (f"http://{self.server_host}:{self.server_port}/v1",)

    def model_for(self, role: ModelRole) -> str:
        """The served model name for a model role (the local model's when unset)."""
        name = {
            "main": self.model_main,
            "think": self.model_think,
            "sql_think": self.model_sql_think,
        }[role]
        return name or self.local_model

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.data_dir / 'workbench.sqlite').resolve()}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed and return it.

        Raises:
            ConfigError: it cannot be created (a file is in the way, no permission).
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"WORKBENCH_DATA_DIR={self.data_dir} cannot be used: {exc.strerror or exc}; "
                "point it at a directory you can write"
            ) from exc
        return self.data_dir


def data_anchor(workspace: Path | None) -> Path:
    """What a relative data directory is relative to: the workspace folder, else the project root."""
    return workspace.expanduser().resolve() if workspace is not None else PROJECT_ROOT


def _split_urls(value: str) -> tuple[str, ...]:
    return tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``WORKBENCH_*`` variable that names no setting, with the nearest one."""
    environ = os.environ if environ is None else environ
    known = [name.upper() for name in Settings.model_fields]
    warnings = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name.startswith(OTHER_VARIABLES_PREFIX):
            continue
        field = name.removeprefix(ENV_PREFIX)
        if field in known:
            continue
        near = difflib.get_close_matches(field, known, n=1, cutoff=0.7)
        hint = (
            f"; did you mean {ENV_PREFIX}{near[0]}?"
            if near
            else "; python -m workbench info lists the settings"
        )
        warnings.append(f"{name} is not a setting and is ignored{hint}")
    return warnings


def load_settings(
    workspace: Path | None = None, *, use_workspace: bool = True, **overrides: object
) -> Settings:
    """Read settings from the workspace's ``workbench.toml`` and the environment.

    Args:
        workspace: the workspace folder (``--workspace``); default ``WORKBENCH_WORKSPACE``,
            and without either the shipped demo.
        use_workspace: False reads no workspace at all (``init`` makes one).
        overrides: fields set in code; they win over both.

    Raises:
        ConfigError: a bad setting, named.
        WorkspaceError: the workspace or its ``workbench.toml`` is missing or malformed.
    """
    sources = {key: f"{key} (set by the app)" for key in overrides}
    try:
        if not use_workspace:
            return Settings(**(overrides | {"workspace": None}))  # type: ignore[arg-type]
        folder = workspace or Settings(**overrides).workspace  # type: ignore[arg-type]
        if folder is None:
            return Settings(**overrides)  # type: ignore[arg-type]
        loaded = load_workspace(folder)
        kept = {
            key: value
            for key, value in loaded.settings_values().items()
            if key not in overrides and (key == "workspace" or not _in_environment(key))
        }
        sources |= {key: setting_source(loaded.root, key) for key in kept}
        return Settings(**(kept | overrides))  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{_source(err['loc'], sources)}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


def _source(loc: tuple[int | str, ...], sources: Mapping[str, str]) -> str:
    """Who set the refused value: the workspace file's line, the app, else its variable."""
    field = str(loc[0]) if loc else ""
    return sources.get(field) or f"{ENV_PREFIX}{'_'.join(str(p) for p in loc).upper()}"


def _in_environment(field: str) -> bool:
    return f"WORKBENCH_{field}".upper() in {name.upper() for name in os.environ}


def environment_overrides(settings: Settings) -> dict[str, Any]:
    """The fields a workspace file sets that the environment overrides (for ``info``)."""
    if settings.workspace is None:
        return {}
    from_file = load_workspace(settings.workspace).settings_values()
    return {
        key: getattr(settings, key)
        for key in from_file
        if key != "workspace" and _in_environment(key)
    }
