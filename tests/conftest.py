"""Shared fixtures: isolated settings, the scripted OpenAI-compatible server, the real one,
and a real PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres import PostgresCluster, create_reader, start_cluster
from tests.scripted_server import ScriptedServer
from workbench.errors import WorkbenchError
from workbench.llm.localmodel import INSTALL_HINT, local_profile_missing
from workbench.llm.server import ServerManager
from workbench.settings import Settings

pytest_plugins = ["pytester", "tests.failure_reports"]

# Pages and apps under test never start the embedded model server by themselves:
# the integration fixture below starts it once per session, deliberately.
os.environ.setdefault("WORKBENCH_SERVER_AUTOSTART", "false")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory, also exported for code that reads the environment."""
    path = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(path))
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Default settings whose data directory holds the session's demo databases."""
    return Settings(data_dir=tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def demo_database(demo_settings: Settings) -> Path:
    """The demo database with the default seed, built once per test session."""
    from workbench.sql.demo import ensure_demo_database

    return ensure_demo_database(demo_settings)


@pytest.fixture(scope="session")
def demo_variants(demo_settings: Settings, demo_database: Path) -> tuple:
    """The demo database's variants (other seeds), built once per test session."""
    from workbench.sql.variants import demo_variants

    return demo_variants(demo_settings)


@pytest.fixture
def installed_demo(settings: Settings, demo_database: Path, demo_variants: tuple) -> Path:
    """The session's demo database and its variants copied where ``settings`` looks for them,
    so a run judges on the variants without building them again; the demo database's path."""
    from workbench.sql.demo import demo_database_path

    target = demo_database_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for path in (demo_database, *(v.database.path for v in demo_variants)):
        shutil.copy(path, target.parent / path.name)
    return target


# -- a real PostgreSQL server, one throw-away cluster per session -----------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of its own (initdb in a temporary folder, a free port), stopped
    and removed at the end of the session."""
    try:
        cluster = start_cluster()
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.fail(f"the PostgreSQL tests need a PostgreSQL server: {exc}", pytrace=False)
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)


@dataclass(frozen=True)
class PostgresLab:
    """The demo data in PostgreSQL: ``url`` logs in as the read-only role, ``admin_url`` as
    the superuser; ``duckdb`` is the DuckDB file holding the same rows."""

    url: str
    admin_url: str
    duckdb: Path


@pytest.fixture(scope="session")
def postgres_lab(
    postgres: PostgresCluster, demo_database: Path, tmp_path_factory: pytest.TempPathFactory
) -> PostgresLab:
    """The demo database loaded into PostgreSQL once per session (``db build --postgres``)."""
    from workbench.sql.demo import load_demo_postgres

    postgres.admin("CREATE DATABASE lab")
    settings = Settings(data_dir=demo_database.parent.parent)
    load_demo_postgres(settings, postgres.url("lab"))
    return PostgresLab(create_reader(postgres, "lab"), postgres.url("lab"), demo_database)


@pytest.fixture
def lab_url(postgres: PostgresCluster, postgres_lab: PostgresLab, monkeypatch) -> str:
    """The lab database's URL for the read-only role, its password in PGPASSWORD: what a
    workspace's database.url holds when set up as README says."""
    monkeypatch.setenv("PGPASSWORD", postgres.reader_password)
    return postgres.url("lab", user="workbench_ro", password=None)


def use_database(workspace: Path, url: str) -> None:
    """Set a workspace's ``database.url`` (``workbench init`` writes ``demo``)."""
    toml = workspace / "workbench.toml"
    toml.write_text(toml.read_text().replace('url = "demo"', f'url = "{url}"', 1))


# -- the real local model server (integration tests) ------------------------------
@pytest.fixture(scope="session")
def local_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerManager | None]:
    """The real vLLM server, started once per session (None when WORKBENCH_TEST_BASE_URL is set).

    The converted model is cached under pytest's cache dir (or WORKBENCH_MODEL_DIR)
    so only the first session pays for the conversion.
    """
    if os.environ.get("WORKBENCH_TEST_BASE_URL"):
        yield None
        return
    missing = local_profile_missing()
    if missing:
        pytest.fail(
            f"integration tests need the local model server, but {', '.join(missing)} "
            f"is missing: {INSTALL_HINT}",
            pytrace=False,
        )
    model_dir = os.environ.get("WORKBENCH_MODEL_DIR") or request.config.cache.mkdir("models")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("model-server"),
        model_dir=Path(model_dir),
        base_url="",
        server_port=port,
    )
    manager = ServerManager(settings)
    try:
        manager.start(lambda message: print(f"[model server] {message}", flush=True))
    except WorkbenchError as exc:
        manager.stop()
        pytest.fail(f"the local model server did not start: {exc}", pytrace=False)
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def local_llm_url(local_server: ServerManager | None) -> str:
    """Base URL (…/v1) of a real model server serving LOCAL_MODEL_NAME."""
    if local_server is None:
        return os.environ["WORKBENCH_TEST_BASE_URL"].rstrip("/")
    return local_server.base_url
