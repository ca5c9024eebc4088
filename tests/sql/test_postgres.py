"""PostgreSQL as the target database, on a real server: native SQL, its own guards, its errors."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from fixtures import labdb
from tests.conftest import PostgresLab
from tests.postgres import PostgresCluster
from tests.sql.test_check import HOSTILE, WORKED_EXAMPLE
from workbench.cases import load_cases
from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    SQLExecutionError,
    SQLRefused,
)
from workbench.settings import Settings
from workbench.sql import (
    DuckDBDatabase,
    PostgresDatabase,
    compare_results,
    gold_is_ordered,
    open_database,
    schema_description,
    schema_statements,
)

pytestmark = pytest.mark.postgres

SMOKE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "smoke"


@pytest.fixture(scope="module")
def database(postgres_lab: PostgresLab) -> PostgresDatabase:
    return PostgresDatabase(postgres_lab.url)


def fingerprint(lab: PostgresLab) -> list[tuple]:
    """Every table's row count and a hash of its rows, and the tables and roles that exist."""
    with psycopg.connect(lab.admin_url) as connection:
        tables = [
            (name,)
            for (name,) in connection.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = "
                "'public'::regnamespace ORDER BY 1"
            )
        ]
        sums = [
            connection.execute(
                f"SELECT '{name}', COUNT(*), SUM(hashtext(t::text)) FROM {name} t"
            ).fetchone()
            for name in labdb.TABLES
        ]
        roles = connection.execute("SELECT rolname FROM pg_roles ORDER BY 1").fetchall()
    return tables + sums + roles


def test_the_papers_query_runs_natively_and_gives_the_papers_table(
    database: PostgresDatabase,
) -> None:
    result = database.run(WORKED_EXAMPLE)
    assert result.executed_sql == WORKED_EXAMPLE  # as written: no transpiling on PostgreSQL
    assert result.columns == ("physician_name", "abnormal_cbc_count")
    assert list(result.rows) == list(labdb.WORKED_EXAMPLE.items())
    assert result.truncated is False and result.elapsed_ms > 0


def test_the_label_never_shows_a_password(
    postgres: PostgresCluster, postgres_lab: PostgresLab
) -> None:
    label = PostgresDatabase(postgres_lab.url).label
    assert label == postgres.url("lab", user="workbench_ro", password="***")
    assert postgres.reader_password not in label


def test_rows_are_cut_at_the_row_cap(database: PostgresDatabase) -> None:
    capped = replace(database, row_cap=10)
    result = capped.run("SELECT id FROM orders ORDER BY id")
    assert (result.row_count, result.truncated, result.rows[-1]) == (10, True, (10,))
    exact = capped.run("SELECT id FROM orders WHERE id <= 10")
    assert (exact.row_count, exact.truncated) == (10, False)


def test_an_empty_result_still_has_its_columns(database: PostgresDatabase) -> None:
    result = database.run("SELECT lab_name, region FROM labs WHERE false")
    assert (result.columns, result.rows, result.truncated) == (("lab_name", "region"), (), False)


def test_a_long_query_is_stopped_by_the_statement_timeout(database: PostgresDatabase) -> None:
    endless = "SELECT count(*) FROM generate_series(1, 100000000000) a"
    with pytest.raises(SQLExecutionError, match=r"timed out after 0.3 s.*WORKBENCH_SQL_TIMEOUT_S"):
        replace(database, timeout_s=0.3).run(endless)


def test_errors_of_the_database_name_the_problem(database: PostgresDatabase) -> None:
    with pytest.raises(SQLExecutionError, match='relation "no_such_table" does not exist'):
        database.run("SELECT * FROM no_such_table")
    with pytest.raises(SQLExecutionError, match="PostgreSQL rejected"):
        database.run("SELECT no_such_column FROM labs")


def test_duckdb_dialect_is_transpiled_to_postgres(database: PostgresDatabase) -> None:
    result = database.run("FROM labs SELECT lab_name WHERE id = 2", dialect="duckdb")
    assert result.executed_sql == "SELECT lab_name FROM labs WHERE id = 2"
    assert len(result.rows) == 1


def test_hostile_sql_never_runs_and_nothing_changes(
    database: PostgresDatabase, postgres_lab: PostgresLab, tmp_path: Path
) -> None:
    before = fingerprint(postgres_lab)
    for sql, _reason in HOSTILE:
        with pytest.raises(SQLRefused):
            database.run(sql.replace("/tmp/", f"{tmp_path}/"))
    assert fingerprint(postgres_lab) == before
    assert list(tmp_path.iterdir()) == []


WRITES = [
    ("INSERT INTO labs (id, lab_name, city, state, region, opened_on) "
     "VALUES (99, 'x', 'x', 'x', 'x', '2020-01-01')", "read-only transaction"),
    ("UPDATE results SET status = 'NORMAL'", "read-only transaction"),
    ("DELETE FROM results", "read-only transaction"),
    ("TRUNCATE results", "read-only transaction"),
    ("CREATE TABLE stolen AS SELECT * FROM patients", "read-only transaction"),
    ("DROP TABLE results", "read-only transaction"),
    ("ALTER TABLE labs ADD COLUMN x int", "read-only transaction"),
    ("SELECT * FROM labs FOR UPDATE", "read-only transaction"),
    ("COPY labs FROM STDIN", "read-only transaction"),
    ("SELECT nextval('writes_seq')", "read-only transaction"),
    ("SELECT 1; DELETE FROM results", "multiple commands"),
    ("SET TRANSACTION READ WRITE", "must be set before any query"),
    ("COPY labs TO '/tmp/workbench-stolen.csv'", "pg_write_server_files"),
]  # fmt: skip


@pytest.fixture(scope="module")
def owner_url(postgres: PostgresCluster, postgres_lab: PostgresLab) -> str:
    """A role that may write every table (not a superuser): only the transaction stops it."""
    postgres.admin("CREATE ROLE lab_writer LOGIN PASSWORD 'writer'")
    postgres.admin("GRANT ALL ON ALL TABLES IN SCHEMA public TO lab_writer", "lab")
    postgres.admin("CREATE SEQUENCE IF NOT EXISTS writes_seq", "lab")
    postgres.admin("GRANT ALL ON SEQUENCE writes_seq TO lab_writer", "lab")
    return postgres.url("lab", user="lab_writer", password="writer")


@pytest.mark.parametrize(("statement", "message"), WRITES, ids=[w[0][:30] for w in WRITES])
def test_the_connection_itself_refuses_to_write(
    owner_url: str, postgres_lab: PostgresLab, statement: str, message: str
) -> None:
    """Defence in depth: SQL that slipped past the check, from a role that may write."""
    before = fingerprint(postgres_lab)
    with (
        PostgresDatabase(owner_url).connect() as connection,
        pytest.raises(psycopg.Error, match=message),
    ):
        list(connection.cursor().stream(statement))
    assert fingerprint(postgres_lab) == before
    assert not Path("/tmp/workbench-stolen.csv").exists()


def test_a_role_that_can_write_files_is_refused(postgres_lab: PostgresLab) -> None:
    with pytest.raises(ConfigError, match=r"wb_admin.*read-only role"):
        PostgresDatabase(postgres_lab.admin_url).run("SELECT 1")


# -- bad input: a clear error naming the setting and the fix ----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_database_that_is_down_is_unavailable_and_says_where(tmp_path: Path) -> None:
    url = f"postgresql://reader@127.0.0.1:{free_port()}/lab"
    settings = Settings(data_dir=tmp_path, database_url=url)
    with pytest.raises(DatabaseUnavailable, match=r"Is it running.*WORKBENCH_DATABASE_URL"):
        open_database(settings).run("SELECT 1")


def test_a_missing_password_says_where_to_put_it(
    postgres: PostgresCluster, postgres_lab: PostgresLab
) -> None:
    url = postgres.url("lab", user="workbench_ro", password=None)
    with pytest.raises(ConfigError, match=r"asks for a password.*PGPASSWORD.*~/.pgpass"):
        PostgresDatabase(url).run("SELECT 1")


def test_a_wrong_password_or_database_names_the_setting(
    postgres: PostgresCluster, postgres_lab: PostgresLab
) -> None:
    wrong = postgres.url("lab", user="workbench_ro", password="wrong")
    with pytest.raises(ConfigError, match=r"refused the password for user 'workbench_ro'"):
        PostgresDatabase(wrong, setting="database.url in ws/workbench.toml").run("SELECT 1")
    nowhere = postgres.url("no_such_db", user="workbench_ro")
    with pytest.raises(ConfigError, match=r'database "no_such_db" does not exist.*fix --database'):
        PostgresDatabase(nowhere, setting="--database").run("SELECT 1")
    assert "wrong" not in PostgresDatabase(wrong).label


def test_a_wrong_password_in_pgpassword_says_to_check_it_there(
    postgres: PostgresCluster, postgres_lab: PostgresLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "wrong")
    url = postgres.url("lab", user="workbench_ro", password=None)
    with pytest.raises(ConfigError) as caught:
        PostgresDatabase(url, setting="database.url in ws/workbench.toml").run("SELECT 1")
    assert str(caught.value).endswith("check the one in PGPASSWORD or ~/.pgpass")


def test_a_malformed_url_is_refused_before_connecting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://a@b/e?x")
    with pytest.raises(ConfigError, match="WORKBENCH_DATABASE_URL"):
        open_database(settings)


# -- what it holds ------------------------------------------------------------------------


def test_postgres_and_duckdb_holding_the_same_rows_are_described_alike(
    database: PostgresDatabase, postgres_lab: PostgresLab
) -> None:
    def shape(schema):
        return [
            (t.name, t.rows, t.primary_key, t.foreign_keys,
             [(c.name, c.not_null, c.has_nulls, c.distinct, c.values, c.cut, c.examples)
              for c in t.columns])
            for t in schema.tables
        ]  # fmt: skip

    duck = DuckDBDatabase(postgres_lab.duckdb).describe()
    assert shape(database.describe()) == shape(duck)
    assert database.table_counts() == DuckDBDatabase(postgres_lab.duckdb).table_counts()
    text = schema_description(database)
    assert (
        "results (" in text
        and "status TEXT, has NULLs; values: 'ABNORMAL', 'CRITICAL', 'NORMAL'" in text
    )


def test_the_schema_statements_are_ddl_postgresql_accepts(
    postgres: PostgresCluster, database: PostgresDatabase
) -> None:
    statements = schema_statements(database)
    assert "  status TEXT,  -- NULLs occur; values: 'ABNORMAL', 'CRITICAL', 'NORMAL'" in (
        statements.splitlines()
    )
    postgres.admin("CREATE DATABASE ddl_copy")
    postgres.admin(statements, "ddl_copy")
    postgres.admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO workbench_ro", "ddl_copy")
    copy = PostgresDatabase(postgres.url("ddl_copy", user="workbench_ro"))

    def tables(described):
        return [
            (t.name, t.primary_key, t.foreign_keys,
             [(c.name, c.data_type, c.not_null) for c in t.columns])
            for t in described.tables
        ]  # fmt: skip

    assert tables(copy.describe()) == tables(database.describe())


def test_a_changed_schema_is_read_afresh(
    postgres: PostgresCluster, postgres_lab: PostgresLab
) -> None:
    postgres.admin("CREATE DATABASE scratch")
    postgres.admin("CREATE TABLE codes (id int PRIMARY KEY, code text)", "scratch")
    postgres.admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO workbench_ro", "scratch")
    database = PostgresDatabase(postgres.url("scratch", user="workbench_ro"))
    assert "  code TEXT" in schema_description(database)
    postgres.admin("ALTER TABLE codes ADD COLUMN label text", "scratch")
    assert "  label TEXT" in schema_description(database)


def test_a_hand_written_schema_wins(database: PostgresDatabase, tmp_path: Path) -> None:
    curated = tmp_path / "schema.md"
    curated.write_text("results: one row per result; status is ABNORMAL, NORMAL or CRITICAL\n")
    assert schema_description(database, curated=curated).startswith("results: one row")
    assert schema_description(database, curated=tmp_path / "absent.md").startswith("departments")


# -- the shipped suite on both engines ------------------------------------------------------


def test_every_gold_query_agrees_on_postgres_and_on_duckdb_through_the_transpiler(
    database: PostgresDatabase, postgres_lab: PostgresLab
) -> None:
    """PostgreSQL is the reference: each disagreement is a transpiler bug (sql/check.py)."""
    duckdb = DuckDBDatabase(postgres_lab.duckdb)
    cases = load_cases(SMOKE_DIR)
    disagreements = []
    for case in cases:
        native, transpiled = database.run(case.gold_sql), duckdb.run(case.gold_sql)
        verdict = compare_results(native, transpiled, ordered=gold_is_ordered(case.gold_sql))
        if not verdict.equivalent:
            disagreements.append(f"{case.id}: {verdict.reason}")
    assert disagreements == []
    assert len(cases) >= 150
