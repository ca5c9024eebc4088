"""Queries run in a worker process held to the OS's limits: memory, time and bytes.

Each test is a query that DuckDB's own interrupt or memory limit does not stop, or a result
too big to hand back whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.labdb import build_lab_database
from workbench.errors import SQLExecutionError
from workbench.sql import DuckDBDatabase, warm_up
from workbench.sql.limits import MAX_CELL_BYTES, MAX_RESULT_BYTES


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> DuckDBDatabase:
    return DuckDBDatabase(build_lab_database(tmp_path_factory.mktemp("worker") / "lab.duckdb"))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('x', 2000000000) AS s",  # one huge string, past DuckDB's memory limit
        "SELECT range(100000000) AS l",  # a list of 100M numbers
    ],
)
def test_a_value_too_big_for_memory_is_an_error_and_the_next_query_runs(
    database: DuckDBDatabase, sql: str
) -> None:
    # The memory cap must be what stops it: 1.4-4 s when idle, but past the default 10 s
    # timeout once on a loaded 2-core machine, so the clock is set far out of the way.
    roomy = DuckDBDatabase(database.path, timeout_s=120)
    with pytest.raises(SQLExecutionError, match="more memory than a query may use"):
        roomy.run(sql)
    assert roomy.run("SELECT count(*) FROM labs").rows == ((4,),)


def test_work_that_ignores_the_interrupt_is_stopped_by_killing_its_worker(
    database: DuckDBDatabase,
) -> None:
    # One md5 over 800 MB: about 2 s of work that DuckDB does not interrupt, well past the
    # kill at 0.1 s + KILL_GRACE_S (400 MB took about as long as that deadline and raced it).
    slow = DuckDBDatabase(database.path, timeout_s=0.1)
    with pytest.raises(
        SQLExecutionError, match=r"timed out after 0.1 s \(its worker was stopped\)"
    ):
        slow.run("SELECT md5(repeat('x', 800000000)) AS h")
    assert slow.run("SELECT 1 AS one").rows == ((1,),)


def test_a_cell_over_the_byte_cap_is_cut_and_the_result_marked(database: DuckDBDatabase) -> None:
    result = database.run("SELECT repeat('ab', 3000000) AS s, 1 AS n")
    assert len(result.rows[0][0]) == MAX_CELL_BYTES
    assert result.rows[0][1] == 1
    assert (result.truncated, result.cut_by) == (True, "cell bytes")


def test_a_list_cell_over_the_byte_cap_is_described_not_returned(database: DuckDBDatabase) -> None:
    result = database.run("SELECT range(2000000) AS l")
    assert isinstance(result.rows[0][0], str) and "too large" in result.rows[0][0]
    assert result.cut_by == "cell bytes"


def test_rows_stop_once_the_result_holds_its_byte_cap(database: DuckDBDatabase) -> None:
    cell = 500_000
    result = database.run(f"SELECT repeat('x', {cell}) AS s FROM range(200)")
    assert result.truncated and result.cut_by == "result bytes"
    assert 0 < result.row_count < 200
    assert result.row_count * cell <= MAX_RESULT_BYTES


def test_the_row_cap_still_says_it_cut(database: DuckDBDatabase) -> None:
    result = DuckDBDatabase(database.path, row_cap=5).run("SELECT id FROM orders")
    assert (result.row_count, result.truncated, result.cut_by) == (5, True, "rows")
    whole = DuckDBDatabase(database.path, row_cap=4).run("SELECT id FROM labs")
    assert (whole.row_count, whole.truncated, whole.cut_by) == (4, False, None)


def test_queries_from_several_threads_each_get_an_answer(database: DuckDBDatabase) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(
            pool.map(lambda i: database.run(f"SELECT {i} + count(*) FROM labs").rows, range(12))
        )
    assert counts == [((i + 4,),) for i in range(12)]


def test_a_missing_database_is_reported_from_the_worker(tmp_path: Path) -> None:
    with pytest.raises(SQLExecutionError, match="db build"):
        DuckDBDatabase(tmp_path / "absent.duckdb").run("SELECT 1")


def test_warmed_workers_start_without_waiting_and_answer_the_next_queries(
    database: DuckDBDatabase,
) -> None:
    from workbench.sql import worker

    pool = worker._pool()
    pool.close()
    warm_up(database, 2)
    starting = list(pool._idle)
    assert len(starting) == 2
    assert not any(w.ready for w in starting)  # started, not waited for
    assert database.run("SELECT count(*) FROM labs").rows == ((4,),)
    assert all(w in starting for w in pool._idle)  # the query took a warmed worker
    warm_up(database, 50)
    assert len(pool._idle) == worker.MAX_IDLE_WORKERS
    pool._idle[0].process.kill()
    pool._idle[0].process.wait()
    warm_up(database, 1)  # an ended worker is replaced, not counted
    assert all(w.process.poll() is None for w in pool._idle)
    pool.close()


def test_a_postgres_database_needs_no_worker() -> None:
    from workbench.sql import PostgresDatabase, worker

    pool = worker._pool()
    pool.close()
    warm_up(PostgresDatabase("postgresql://nobody@127.0.0.1:9/none"), 3)
    assert pool._idle == []
