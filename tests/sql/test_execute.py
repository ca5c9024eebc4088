"""Running queries: results, the row cap, the timeout, errors, and a database nothing can change."""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tests.labdb import build_lab_database
from tests.sql.test_check import BUSIEST_MONTH, HOSTILE, WORKED_EXAMPLE
from workbench.errors import SQLExecutionError, SQLParseError, SQLRefused
from workbench.sql.execute import QueryResult, connect_readonly, run_query


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lab_database(tmp_path_factory.mktemp("sql") / "lab.duckdb")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_counts(path: Path) -> dict[str, int]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        names = [row[0] for row in connection.execute("SHOW TABLES").fetchall()]
        return {n: connection.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        connection.close()


def test_run_query_returns_columns_rows_and_both_sqls(database: Path) -> None:
    sql = "SELECT id, lab_name FROM labs WHERE id <= 2 ORDER BY id"
    result = run_query(sql, database)
    assert result.sql == sql
    assert result.executed_sql == "SELECT id, lab_name FROM labs WHERE id <= 2 ORDER BY id"
    assert result.columns == ("id", "lab_name")
    assert result.rows == ((1, "Midwest Diagnostics"), (2, "Valley Lab"))
    assert result.row_count == 2
    assert result.truncated is False
    assert result.elapsed_ms > 0


def test_postgres_sql_is_transpiled_and_keeps_the_original(database: Path) -> None:
    sql = "SELECT '2026-01-15'::date - interval '1 day' AS d, 'a' || 'b' AS s"
    result = run_query(sql, database)
    assert result.sql == sql
    assert "CAST('2026-01-15' AS DATE)" in result.executed_sql
    assert result.rows == ((datetime(2026, 1, 14), "ab"),)


def test_the_papers_queries_run(database: Path) -> None:
    worked = run_query(WORKED_EXAMPLE, database)
    assert worked.columns == ("physician_name", "abnormal_cbc_count")
    busiest = run_query(BUSIEST_MONTH, database)
    assert busiest.columns == ("lab_name", "order_month", "total_orders")
    assert busiest.row_count == 4  # one busiest month per lab
    counts = [row[2] for row in busiest.rows]
    assert counts == sorted(counts, reverse=True)
    assert all(isinstance(row[1], date) for row in busiest.rows)


def test_turnaround_query_averages_intervals(database: Path) -> None:
    sql = (
        "SELECT l.lab_name, AVG(r.resulted_at - o.order_date) AS avg_turnaround FROM results r "
        "JOIN orders o ON r.order_id = o.id JOIN labs l ON o.lab_id = l.id "
        "JOIN tests t ON o.test_id = t.id WHERE l.lab_name IN ('Riverside Labs', 'Summit Diagnostics') "
        "AND t.test_name ILIKE '%cbc%' GROUP BY l.lab_name"
    )
    result = run_query(sql, database)
    assert {row[0] for row in result.rows} == {"Riverside Labs", "Summit Diagnostics"}
    assert all(row[1].total_seconds() > 0 for row in result.rows)


def test_row_cap_truncates_and_says_so(database: Path) -> None:
    result = run_query("SELECT id FROM orders ORDER BY id", database, row_cap=10)
    assert result.row_count == 10
    assert result.truncated is True
    assert result.rows[-1] == (10,)
    exact = run_query("SELECT id FROM orders WHERE id <= 10", database, row_cap=10)
    assert exact.truncated is False and exact.row_count == 10


def test_timeout_interrupts_a_long_query(database: Path) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) a"
    with pytest.raises(SQLExecutionError, match=r"timed out after 0.2 s.*WORKBENCH_SQL_TIMEOUT_S"):
        run_query(endless, database, timeout_s=0.2)


def test_database_errors_become_execution_errors(database: Path) -> None:
    with pytest.raises(SQLExecutionError, match="no_such_table"):
        run_query("SELECT * FROM no_such_table", database)
    with pytest.raises(SQLExecutionError, match="DuckDB rejected"):
        run_query("SELECT no_such_column FROM labs", database)


def test_missing_database_file_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(SQLExecutionError, match="db build"):
        run_query("SELECT 1", tmp_path / "absent.duckdb")


def test_to_frame_keeps_columns_and_rows(database: Path) -> None:
    frame = run_query("SELECT id, lab_name, region FROM labs ORDER BY id", database).to_frame()
    assert list(frame.columns) == ["id", "lab_name", "region"]
    assert len(frame) == 4
    assert frame.loc[3, "lab_name"] == "Summit Diagnostics"


def test_to_frame_of_an_empty_result_has_the_columns(database: Path) -> None:
    frame = run_query("SELECT id, lab_name FROM labs WHERE false", database).to_frame()
    assert list(frame.columns) == ["id", "lab_name"] and frame.empty


def test_query_result_is_frozen() -> None:
    result = QueryResult("SELECT 1", "SELECT 1", ("1",), ((1,),), 1, False, 0.1)
    with pytest.raises(AttributeError):
        result.row_count = 2  # type: ignore[misc]


@pytest.mark.parametrize(("sql", "reason"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_sql_never_runs_and_the_database_is_unchanged(
    database: Path, sql: str, reason: str
) -> None:
    before_digest, before_counts = file_digest(database), table_counts(database)
    with pytest.raises(SQLRefused):
        run_query(sql, database)
    assert file_digest(database) == before_digest
    assert table_counts(database) == before_counts


def test_parse_errors_surface_before_execution(database: Path) -> None:
    with pytest.raises(SQLParseError):
        run_query("SELECT FROM WHERE", database)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE TABLE x AS SELECT 1", "read-only"),
        ("DELETE FROM results", "read-only"),
        ("COPY results TO '{tmp}/out.csv'", "disabled by configuration"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM '/etc/passwd'", "passwd"),
        ("ATTACH '{tmp}/other.db'", "disabled by configuration"),
        ("INSTALL httpfs", "disabled by configuration"),
        ("SET enable_external_access = true", "locked"),
        ("RESET enable_external_access", "locked"),
    ],
)
def test_the_connection_itself_refuses_what_the_check_refuses(
    database: Path, tmp_path: Path, statement: str, message: str
) -> None:
    """Defence in depth: even SQL that slipped past the check cannot write or read files."""
    before = file_digest(database)
    connection = connect_readonly(database)
    try:
        with pytest.raises(duckdb.Error, match=message):
            connection.execute(statement.format(tmp=tmp_path))
    finally:
        connection.close()
    assert file_digest(database) == before
    assert not (tmp_path / "out.csv").exists()


def test_postgres_integer_division_is_kept_for_known_integer_columns(database: Path) -> None:
    """PostgreSQL's 7 / 2 is 3; DuckDB's is 3.5. The database's column types decide."""
    result = run_query(
        "SELECT o.id / o.lab_id AS q, o.id / 2.0 AS f FROM orders o WHERE o.id = 7", database
    )
    assert result.rows == ((7 // 2, 3.5),)  # order 7 is at lab 2
    rate = run_query(
        "SELECT SUM(CASE WHEN r.status = 'ABNORMAL' THEN 1 ELSE 0 END) / COUNT(*) FROM results r",
        database,
    )
    assert rate.rows == ((0,),)


def test_duckdb_dialect_runs_as_written(database: Path) -> None:
    result = run_query("FROM labs SELECT lab_name WHERE id = 2", database, dialect="duckdb")
    assert result.rows == (("Valley Lab",),)


def test_a_connection_with_other_settings_is_waited_for(database: Path) -> None:
    held = duckdb.connect(str(database), read_only=True)
    release = threading.Timer(0.2, held.close)
    release.start()
    try:
        assert run_query("SELECT count(*) FROM labs", database, timeout_s=60).rows == ((4,),)
    finally:
        release.cancel()
        held.close()


def test_a_connection_with_other_settings_that_stays_open_is_explained(database: Path) -> None:
    held = duckdb.connect(str(database), read_only=True)
    try:
        with pytest.raises(SQLExecutionError, match="connect_readonly"):
            connect_readonly(database)
    finally:
        held.close()


def test_connections_opened_the_same_way_coexist(database: Path) -> None:
    with connect_readonly(database) as first, connect_readonly(database) as second:
        assert first.execute("SELECT count(*) FROM labs").fetchone() == (4,)
        assert second.execute("SELECT count(*) FROM tests").fetchone() == (4,)
