"""The schema on PostgreSQL: the music store's two-column keys, NOT NULL and types as DDL both
engines accept, described as on DuckDB; warnings for what the role cannot see."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.postgres import PostgresCluster
from tests.sql.musicstore import DDL, build_duckdb, rows
from workbench.sql import DuckDBDatabase, PostgresDatabase, schema_statements, schema_texts

pytestmark = pytest.mark.postgres

READER = "music_ro"
"""A role of its own: the lab fixture creates the shared reader role, in whatever order."""


@pytest.fixture(scope="module")
def music(postgres: PostgresCluster) -> PostgresDatabase:
    """The music store in PostgreSQL, read by the read-only role, with a table it may not
    read and a schema off its search path."""
    postgres.admin("CREATE DATABASE music")
    with psycopg.connect(postgres.url("music"), autocommit=True) as connection:
        connection.execute(DDL)
        for table, values in rows().items():
            marks = ", ".join(["%s"] * len(values[0]))
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
        connection.execute("CREATE TABLE payroll (employee_id INTEGER, salary NUMERIC(10,2))")
        connection.execute("CREATE SCHEMA archive")
        connection.execute("CREATE TABLE archive.old_invoice (id INTEGER)")
    postgres.admin(f"CREATE ROLE {READER} LOGIN PASSWORD '{postgres.reader_password}'")
    for table in rows():
        postgres.admin(f"GRANT SELECT ON {table} TO {READER}", "music")
    return PostgresDatabase(postgres.url("music", user=READER))


def test_composite_keys_not_null_and_types_on_postgres(music: PostgresDatabase) -> None:
    text = schema_statements(music)
    lines = text.splitlines()
    start = lines.index("CREATE TABLE playlist_track (  -- 1,529 rows")
    assert lines[start + 1 : start + 5] == [
        "  playlist_id INTEGER REFERENCES playlist(playlist_id),",
        "  track_id INTEGER REFERENCES track(track_id),",
        "  PRIMARY KEY (playlist_id, track_id)",
        ");",
    ]
    assert (
        "  FOREIGN KEY (playlist_id, track_id) REFERENCES playlist_track (playlist_id, track_id)"
        in lines
    )
    assert "  total NUMERIC(10,2) NOT NULL" in lines
    assert "character varying" not in text and "VARCHAR(" not in text


def test_postgres_and_duckdb_describe_the_music_store_alike(
    music: PostgresDatabase, tmp_path: Path
) -> None:
    duck = schema_texts(build_duckdb(tmp_path / "store.duckdb"))
    texts = schema_texts(music)
    assert texts.schema_sql == duck.schema_sql
    assert texts.schema == duck.schema


def test_the_postgres_statements_run_on_duckdb_and_on_postgres(
    postgres: PostgresCluster, music: PostgresDatabase
) -> None:
    text = schema_statements(music)
    with duckdb.connect() as connection:
        connection.execute(text)
    postgres.admin("CREATE DATABASE music_copy")
    postgres.admin(text, "music_copy")
    postgres.admin(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}", "music_copy")
    copy = PostgresDatabase(postgres.url("music_copy", user=READER))

    def shape(schema):
        return [
            (t.name, t.primary_key, t.foreign_keys,
             [(c.name, c.data_type.split("(")[0], c.not_null) for c in t.columns])
            for t in schema.tables
        ]  # fmt: skip

    assert shape(copy.describe()) == shape(music.describe())


def test_what_the_role_cannot_see_is_a_warning(
    music: PostgresDatabase, postgres: PostgresCluster
) -> None:
    warnings = schema_texts(music).warnings
    assert warnings[0].startswith("table payroll: the role cannot read it")
    assert warnings[1].startswith(  # the role may not even use the schema
        "permission denied for schema archive (1 table(s): old_invoice): the role has no USAGE"
    )
    assert f"GRANT USAGE ON SCHEMA archive TO {READER}" in warnings[1]
    assert f"ALTER ROLE {READER} SET search_path = public, archive" in warnings[1]
    assert len(warnings) == 2
    # A schema the role may use but that is off its path: the milder warning.
    with psycopg.connect(postgres.url("music"), autocommit=True) as connection:
        connection.execute(f"GRANT USAGE ON SCHEMA archive TO {READER}")
    try:
        usable = PostgresDatabase(music.url).describe().warnings
        assert usable[1].startswith(
            "schema archive (1 table(s): old_invoice) is not on the search path (public)"
        )
    finally:
        with psycopg.connect(postgres.url("music"), autocommit=True) as connection:
            connection.execute(f"REVOKE USAGE ON SCHEMA archive FROM {READER}")
    assert "payroll" not in schema_statements(music)
    # Leaving the table out in the notes silences its warning.
    assert not any("payroll" in w for w in music.describe(frozenset({"payroll"})).warnings)


def test_the_demo_statements_from_duckdb_run_on_postgres(
    postgres: PostgresCluster, demo_database: Path
) -> None:
    postgres.admin("CREATE DATABASE demo_ddl")
    postgres.admin(schema_statements(DuckDBDatabase(demo_database)), "demo_ddl")
