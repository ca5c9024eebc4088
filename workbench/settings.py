"""Settings: one object, read once from ``WORKBENCH_*`` environment variables.

Everything that holds state (the demo database, the store, the converted local
model, server logs) lives under ``data_dir`` so that a test can point the whole
workbench at a temporary directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workbench.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the package was imported from (holds prompts/ and fixtures/)."""

ModelRole = Literal["main", "think", "sql_think"]

LOCAL_MODEL_NAME = "smollm2-135m-instruct"


class Settings(BaseSettings):
    """Every knob of the workbench. Environment: ``WORKBENCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="forbid", frozen=True)

    # Where things live.
    data_dir: Path = Path(".workbench")
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    fixtures_dir: Path = PROJECT_ROOT / "fixtures"
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite in data_dir",
    )

    # The demo database and SQL execution.
    demo_seed: int = 20260331
    as_of: date = date(2026, 3, 31)
    sql_timeout_s: float = 10.0
    sql_row_cap: int = 10_000

    # The model server. Empty base_url: the workbench manages a local server.
    base_url: str = Field(
        default="",
        description="OpenAI-style URL ending in /v1; several separated by commas form a pool",
    )
    api_key: str = "EMPTY"
    model_main: str = LOCAL_MODEL_NAME
    model_think: str = LOCAL_MODEL_NAME
    model_sql_think: str = LOCAL_MODEL_NAME
    seed: int = 0
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 300.0
    max_retries: int = 2

    # The managed server (see workbench.llm.server).
    server_profile: Literal["cpu", "gpu"] = "cpu"
    server_host: str = "127.0.0.1"
    server_port: int = 8000
    server_dtype: Literal["bfloat16", "float32", "float16", "auto"] = "float32"
    server_max_num_seqs: int = 4
    server_enforce_eager: bool = True
    server_prefix_caching: bool = True
    server_batch_invariant: bool = False
    server_start_timeout_s: float = 600.0
    server_autostart: bool = True
    """Start the managed local server when a page needs it and it is down."""
    server_kv_cache_gib: float = Field(
        default=1.0, gt=0, description="memory reserved for the KV cache (cpu: in RAM)"
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

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        for url in _split_urls(value):
            if not url.startswith(("http://", "https://")):
                raise ValueError(
                    f"{url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000/v1"
                )
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
        """The served model name for a model role."""
        return {
            "main": self.model_main,
            "think": self.model_think,
            "sql_think": self.model_sql_think,
        }[role]

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.data_dir / 'workbench.sqlite').resolve()}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def _split_urls(value: str) -> tuple[str, ...]:
    return tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value raises ConfigError naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"WORKBENCH_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
