"""Shared fixtures: isolated settings, the scripted OpenAI-compatible server, the real one."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripted_server import ScriptedServer
from workbench.errors import WorkbenchError
from workbench.llm.localmodel import INSTALL_HINT, local_profile_missing
from workbench.llm.server import ServerManager
from workbench.settings import Settings

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
