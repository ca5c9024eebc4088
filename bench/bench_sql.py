"""What the SQL layer costs per query, and how the comparator scales with result size.

``run_query`` opens a fresh read-only connection for every query, so a hostile query can never
inherit a session another one changed; the benchmark shows what that costs next to the check and
the transpile, and next to the bare DuckDB query on an open connection. It runs in a worker
process held to the OS's limits: the benchmark shows what the process boundary adds to a query
(a reused worker) and what starting a worker costs (after a timeout kills one). Extracting the
SQL from a long answer must grow with the answer's length, not its square. Times are the best of
several rounds in one process; the ratios hold across machines better than the absolute numbers.
"""

from __future__ import annotations

import contextlib
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.labdb import build_lab_database
from workbench.errors import SQLParseError
from workbench.sql import (
    QueryResult,
    check_readonly,
    compare_results,
    extract_sql,
    run_query,
    tree_to_duckdb,
)
from workbench.sql.execute import execute_query
from workbench.sql.worker import QueryRequest, close_workers

QUERY = (
    "SELECT ph.physician_name, COUNT(*) AS n FROM results r JOIN orders o ON r.order_id = o.id "
    "JOIN physicians ph ON o.physician_id = ph.id WHERE r.status = 'ABNORMAL' "
    "GROUP BY ph.physician_name HAVING COUNT(*) >= 3 ORDER BY n DESC"
)


def best_seconds(work: Callable[[], object], number: int, repeat: int = 5) -> float:
    return min(timeit.repeat(work, number=number, repeat=repeat)) / number


def request(sql: str, database: Path) -> QueryRequest:
    """What ``run_query`` sends its worker, to run the same query in this process."""
    return QueryRequest(sql, str(database), timeout_s=10, row_cap=10_000, dialect="postgres")


def _refused(call: Callable[[], object]) -> None:
    with contextlib.suppress(SQLParseError):
        call()


def result(rows: list[tuple]) -> QueryResult:
    return QueryResult("q", "q", ("a", "b", "c"), tuple(rows), len(rows), False, 0.0)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = build_lab_database(Path(folder) / "lab.duckdb")
        whole = best_seconds(lambda: run_query(QUERY, database), number=10)
        in_process = best_seconds(lambda: execute_query(request(QUERY, database)), number=10)
        tiny = best_seconds(lambda: run_query("SELECT 1", database), number=50)
        tiny_here = best_seconds(lambda: execute_query(request("SELECT 1", database)), number=50)
        fresh = best_seconds(lambda: (close_workers(), run_query("SELECT 1", database)), 1, 3)
        trip = best_seconds(lambda: _refused(lambda: run_query("", database)), number=200)
        trip_here = best_seconds(
            lambda: _refused(lambda: execute_query(request("", database))), 200
        )
        check = best_seconds(lambda: check_readonly(QUERY), number=50)
        tree = check_readonly(QUERY)
        transpile = best_seconds(lambda: tree_to_duckdb(tree), number=50)
        sql = tree_to_duckdb(tree)
        connection = duckdb.connect(str(database), read_only=True)
        bare = best_seconds(lambda: connection.execute(sql).fetchall(), number=50)
        connection.close()
    print("one query on the test database")
    print(f"  run_query, all of it        {whole * 1e3:8.2f} ms")
    print(f"  of which the safety check   {check * 1e3:8.2f} ms ({check / whole:.0%})")
    print(f"  of which the transpile      {transpile * 1e3:8.2f} ms ({transpile / whole:.0%})")
    print(f"  the bare query, open conn.  {bare * 1e3:8.2f} ms ({whole / bare:.0f}x less)")
    print("the worker process, per query")
    print(f"  the same query in process   {in_process * 1e3:8.2f} ms")
    print(
        f"  overhead of the worker      {(whole - in_process) * 1e3:8.2f} ms ({whole / in_process:.2f}x)"
    )
    print(f"  SELECT 1: worker / process  {tiny * 1e3:8.2f} ms / {tiny_here * 1e3:.2f} ms")
    print(f"  first query, fresh worker   {fresh * 1e3:8.2f} ms (after a timeout kills one)")
    print(
        f"  round trip alone            {(trip - trip_here) * 1e3:8.3f} ms (an empty query, refused)"
    )

    print("extract_sql: a query followed by N lines of prose")
    per_line = None
    for lines in (500, 1_000, 3_000):
        answer = "Here is the query:\nSELECT lab_name\nFROM labs\n" + "".join(
            f"Line {i} explains why the query counts every lab once.\n" for i in range(lines)
        )
        seconds = best_seconds(lambda a=answer: extract_sql(a), number=1, repeat=3)
        per_line = per_line or seconds / lines
        print(
            f"  {lines:>5} lines: {seconds * 1e3:8.1f} ms; per line "
            f"{seconds / lines / per_line:.2f}x the 500-line cost"
        )

    print("comparator, 3 columns, rows shuffled")
    base = None
    for size in (1_000, 10_000, 50_000):
        rows = [(i, i * 0.1, f"name {i % 97}") for i in range(size)]
        shuffled = rows[1::2] + rows[::2]
        near = [(a, b * (1 + 1e-12), c) for a, b, c in shuffled]
        same = best_seconds(
            lambda r=rows, s=shuffled: compare_results(result(r), result(s), ordered=False), 1, 3
        )
        tolerant = best_seconds(
            lambda r=rows, s=near: compare_results(result(r), result(s), ordered=False), 1, 3
        )
        base = base or same / size
        print(
            f"  {size:>6} rows: exact {same * 1e3:8.1f} ms, within tolerance "
            f"{tolerant * 1e3:8.1f} ms ({tolerant / same:.1f}x); "
            f"per row {same / size / base:.2f}x the 1,000-row cost"
        )


if __name__ == "__main__":
    main()
