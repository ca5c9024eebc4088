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
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError, SQLExecutionError
from workbench.settings import Settings

DEMO_SUBDIR = "demo"

LIST_VALUES_UP_TO = 12
"""A text column with at most this many distinct values has them all listed."""
LIST_NAMES_UP_TO = 40
"""A ``*_name`` column of a small lookup table (tests, labs) is listed up to this many."""
EXAMPLE_VALUES = 2
"""A text column with more distinct values gets this many examples."""
EXAMPLE_MAX_CHARS = 40
OPEN_WAIT_S = 10.0
"""How long a reader waits for a conflicting in-process connection to close."""


@dataclass(frozen=True)
class DemoBuild:
    """What ``build_demo_database`` did."""

    path: Path
    built: bool  # False: an existing file was reused
    seconds: float
    size_bytes: int
    counts: dict[str, int]  # rows per table


def generator_path() -> Path:
    """The generator's source file (part of the cache key)."""
    from fixtures import labdb

    return Path(labdb.__file__)


def cache_key(seed: int, source: bytes) -> str:
    """Hash of the generator's source and the seed; names the cached file."""
    digest = hashlib.sha256(source)
    digest.update(f"\nseed={seed}".encode())
    return digest.hexdigest()[:16]


def demo_database_path(settings: Settings) -> Path:
    """Where the demo database for these settings lives (whether built or not)."""
    key = cache_key(settings.demo_seed, generator_path().read_bytes())
    return settings.data_dir / DEMO_SUBDIR / f"labdb-{key}.duckdb"


def ensure_demo_database(settings: Settings, *, force: bool = False) -> Path:
    """Build the demo database if it is missing (or ``force``); return its path."""
    path = demo_database_path(settings)
    if not force and path.is_file():
        return path
    return build_demo_database(settings, force=force).path


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
    import duckdb

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


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[object]:
    import duckdb

    from workbench.sql.execute import connect_readonly

    if not path.is_file():
        raise SQLExecutionError(
            f"no database at {path}; build the demo database with: python -m workbench db build"
        )
    # Every reader opens the file with the same hardened settings as query
    # execution: DuckDB refuses a second in-process connection with other settings.
    con = connect_readonly(path, wait_s=OPEN_WAIT_S)
    try:
        yield con
    except duckdb.Error as exc:
        raise SQLExecutionError(f"reading {path} failed: {exc}") from exc
    finally:
        con.close()


def _tables(con) -> list[str]:
    """Table names, referenced tables before the tables that reference them."""
    names = sorted(
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
    )
    needs = {name: set() for name in names}
    for table, referenced in con.execute(
        "SELECT table_name, referenced_table FROM duckdb_constraints() "
        "WHERE constraint_type = 'FOREIGN KEY'"
    ).fetchall():
        if table in needs and referenced in needs and referenced != table:
            needs[table].add(referenced)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= set(ordered)]
        # A reference cycle cannot be ordered; take the rest alphabetically.
        ordered.extend(ready[:1] or [n for n in names if n not in ordered])
    return ordered


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_counts(path: Path) -> dict[str, int]:
    """Row count of every table, in creation order (referenced tables first)."""
    with _read_only(path) as con:
        return {
            name: con.execute(f"SELECT COUNT(*) FROM {_quote(name)}").fetchone()[0]
            for name in _tables(con)
        }


def schema_description(path: Path) -> str:
    """Compact text of every table for a SQL-generation prompt's ``{{schema}}``.

    One block per table: its row count, then one line per column with type, key,
    foreign key, whether NULLs occur, and for text columns either every distinct
    value (when there are few) or a few examples.
    """
    with _read_only(path) as con:
        foreign = {
            (table, columns[0]): f"{ref_table}.{ref_columns[0]}"
            for table, columns, ref_table, ref_columns in con.execute(
                "SELECT table_name, constraint_column_names, referenced_table, "
                "referenced_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'FOREIGN KEY'"
            ).fetchall()
        }
        primary = {
            (table, columns[0])
            for table, columns in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
        blocks = []
        for table in _tables(con):
            rows = con.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]
            lines = [f"{table} ({rows:,} rows)"]
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            for column, data_type in columns:
                lines.append(
                    "  " + _describe_column(con, table, column, data_type, primary, foreign)
                )
            blocks.append("\n".join(lines))
        return "\n".join(blocks)


def _describe_column(con, table, column, data_type, primary, foreign) -> str:
    parts = [f"{column} {data_type}"]
    if (table, column) in primary:
        parts.append("primary key")
    if (table, column) in foreign:
        parts.append(f"-> {foreign[(table, column)]}")
    q_table, q_column = _quote(table), _quote(column)
    nulls, distinct = con.execute(
        f"SELECT COUNT(*) - COUNT({q_column}), COUNT(DISTINCT {q_column}) FROM {q_table}"
    ).fetchone()
    if nulls:
        parts.append("has NULLs")
    text = ", ".join(parts)
    if data_type != "VARCHAR" or (table, column) in foreign:
        return text
    if distinct <= LIST_VALUES_UP_TO or (column.endswith("_name") and distinct <= LIST_NAMES_UP_TO):
        values = con.execute(
            f"SELECT DISTINCT {q_column} FROM {q_table} WHERE {q_column} IS NOT NULL ORDER BY 1"
        ).fetchall()
        return f"{text}; values: " + ", ".join(_literal(v) for (v,) in values)
    examples = con.execute(
        f"SELECT {q_column} FROM {q_table} WHERE {q_column} IS NOT NULL "
        f"AND length({q_column}) BETWEEN 1 AND {EXAMPLE_MAX_CHARS} "
        f"GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT {EXAMPLE_VALUES}"
    ).fetchall()
    if not examples:
        return text
    return f"{text}; {distinct:,} distinct, e.g. " + ", ".join(_literal(v) for (v,) in examples)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
