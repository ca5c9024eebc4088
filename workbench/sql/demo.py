"""The demo database: built on demand, cached by content, always opened read-only.

Why the cache key is a hash of the generator's source plus the seed: the database is
a pure function of those two, so editing ``fixtures/labdb.py`` or changing
``WORKBENCH_DEMO_SEED`` yields a new file name and a rebuild, and nothing stale can be
served. Why the build writes a temporary file and renames it: a reader (a page, a
smoke run in another process) either sees no file or a complete one, never half of
one; a lock file keeps two builders from doing the same work twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from workbench.errors import ConfigError
from workbench.sql.execute import Database, DuckDBDatabase
from workbench.sql.postgres import check_url, connect_failure, redact
from workbench.sql.schema import table_counts

if TYPE_CHECKING:
    from workbench.settings import Settings

DEMO_SUBDIR = "demo"


@dataclass(frozen=True)
class DemoBuild:
    """What ``build_demo_database`` did."""

    path: Path
    built: bool  # False: an existing file was reused
    seconds: float
    size_bytes: int
    counts: dict[str, int]  # rows per table


def generator_path() -> Path:
    """The generator's source file (part of the cache key), found without importing it."""
    spec = importlib.util.find_spec("fixtures.labdb")
    if spec is None or spec.origin is None:
        raise ConfigError("the demo database generator (fixtures/labdb.py) is not installed")
    return Path(spec.origin)


def source_key(seed: int, source: bytes) -> str:
    """Hash of the generator's source and the seed; names the cached file."""
    digest = hashlib.sha256(source)
    digest.update(f"\nseed={seed}".encode())
    return digest.hexdigest()[:16]


def demo_database_path(settings: Settings) -> Path:
    """Where the demo database for these settings lives (whether built or not)."""
    key = source_key(settings.demo_seed, generator_path().read_bytes())
    return settings.data_dir / DEMO_SUBDIR / f"labdb-{key}.duckdb"


def ensure_demo_database(settings: Settings, *, force: bool = False) -> Path:
    """Build the demo database if it is missing (or ``force``); return its path."""
    path = demo_database_path(settings)
    if not force and path.is_file():
        return path
    return build_demo_database(settings, force=force).path


def demo_database(settings: Settings) -> Database:
    """The demo database (built when missing) with the settings' query limits."""
    return DuckDBDatabase.from_settings(settings, ensure_demo_database(settings))


@dataclass(frozen=True)
class DemoLoad:
    """What ``load_demo_postgres`` did."""

    database: str  # the URL, without its password
    seconds: float
    counts: dict[str, int]


def load_demo_postgres(settings: Settings, url: str, *, replace: bool = False) -> DemoLoad:
    """Load the demo data (built first when missing) into the PostgreSQL database at ``url``.

    Raises:
        ConfigError: the URL is malformed, the database refuses the login, or it already
            holds tables with the demo's names and ``replace`` is False.
        DatabaseUnavailable: the database cannot be reached.
    """
    from fixtures import labdb

    check_url(url, "--postgres")
    source = ensure_demo_database(settings)
    started = time.perf_counter()
    import psycopg

    try:
        counts = labdb.copy_to_postgres(source, url, replace=replace)
    except labdb.TablesExist as exc:
        raise ConfigError(
            f"{redact(url)} already has tables named like the demo's ({exc}): load the demo "
            "into an empty database (createdb lab_demo), or pass --force to replace them"
        ) from exc
    except psycopg.OperationalError as exc:
        raise connect_failure(exc, url, "--postgres") from exc
    except psycopg.Error as exc:
        raise ConfigError(f"loading the demo into {redact(url)} failed: {exc}") from exc
    return DemoLoad(redact(url), time.perf_counter() - started, counts)


def build_demo_database(settings: Settings, *, force: bool = False) -> DemoBuild:
    """Build (or reuse) the demo database, safely under concurrent callers.

    Raises:
        ConfigError: the data directory cannot be written, or the seed cannot
            produce the planted facts.
    """
    path = demo_database_path(settings)
    started = time.perf_counter()
    if not force and path.is_file():  # files only ever appear complete (renamed into place)
        seconds = time.perf_counter() - started
        return DemoBuild(path, False, seconds, path.stat().st_size, table_counts(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_suffix(".lock")):
            built = force or not path.exists()
            if built:
                _build_atomically(path, settings.demo_seed)
            seconds = time.perf_counter() - started
            size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(
            f"cannot build the demo database in {path.parent}: {exc}. "
            "Point WORKBENCH_DATA_DIR at a writable directory."
        ) from exc
    return DemoBuild(path, built, seconds, size, table_counts(path))


def _build_atomically(path: Path, seed: int) -> None:
    # The generator needs pandas and numpy: imported only when a build is due.
    from fixtures import labdb

    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.duckdb")
    leftovers = (temporary, temporary.with_name(temporary.name + ".wal"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    try:
        labdb.build(temporary, seed)
        os.replace(temporary, path)
    except RuntimeError as exc:
        raise ConfigError(f"WORKBENCH_DEMO_SEED={seed} cannot be used: {exc}") from exc
    except duckdb.Error as exc:
        raise ConfigError(f"building the demo database at {path} failed: {exc}") from exc
    finally:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (POSIX); elsewhere rely on rename."""
    try:
        import fcntl
    except ImportError:  # Windows: the atomic rename alone keeps readers safe
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
