"""How much memory a PostgreSQL result can take in the calling process: bounded by the caps.

A PostgreSQL result lands in the process that asked for it (the app's server), so its byte caps
are enforced where the bytes arrive (``workbench.sql.pgcaps``): the server cuts every cell over
its cap, the client stops at ``MAX_RESULT_BYTES`` and at the row cap. Each query runs in a
fresh subprocess against a throw-away cluster (``tests.postgres.start_cluster``); the
subprocess reports its peak resident memory (``ru_maxrss``) before and after the query. The
growth must stay within the bound: the kept rows (at most ``MAX_RESULT_BYTES``), one more row
of at most as much, and libpq's buffer for it, so ``BOUND_RESULTS`` times ``MAX_RESULT_BYTES``.
For contrast, the same kind of cell fetched by plain psycopg, with no cap, costs the process
its whole size, several times over.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from workbench.sql.limits import MAX_RESULT_BYTES

ROOT = Path(__file__).resolve().parents[1]
BOUND_RESULTS = 4
"""The growth of the process's peak memory stays below this many ``MAX_RESULT_BYTES``."""
SHAPES = [
    ("one 900 MB cell", "SELECT repeat('x', 900000000) AS s"),
    ("twenty 10 MB cells", "SELECT repeat('x', 10000000) AS s FROM generate_series(1, 20)"),
    ("fifty 2 MB cells", "SELECT repeat('x', 2000000) AS s FROM generate_series(1, 50)"),
    ("forty 2 MB cells in one row",
     "SELECT " + ", ".join(f"repeat('x', 2000000) AS c{i}" for i in range(40))),
    ("ten million rows", "SELECT 'row ' || g AS s FROM generate_series(1, 10000000) g"),
]  # fmt: skip
UNCAPPED = ("one 200 MB cell, plain psycopg (no cap)", "SELECT repeat('x', 200000000) AS s")


def child(url: str, sql: str, capped: bool) -> None:
    """In the subprocess: one warm-up query, then ``sql``; print what it cost, as JSON."""
    import psycopg

    from workbench.sql.postgres import PostgresDatabase

    database = PostgresDatabase(url, timeout_s=300)
    database.run("SELECT 'warm' AS s")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    if capped:
        result = database.run(sql)
        rows, cut_by = result.row_count, result.cut_by
    else:
        with psycopg.connect(url) as connection:
            rows, cut_by = len(connection.execute(sql).fetchall()), None
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "after": after, "rows": rows, "cut_by": cut_by,
                      "seconds": seconds}))  # fmt: skip


def measure(url: str, sql: str, *, capped: bool = True) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_pgcaps", "--child", url, sql, str(capped)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from tests.postgres import create_reader, start_cluster

    cluster = start_cluster()
    try:
        cluster.admin("CREATE DATABASE bench")
        url = create_reader(cluster, "bench")
        print(f"peak resident memory of the calling process, bound {BOUND_RESULTS} x "
              f"MAX_RESULT_BYTES = {BOUND_RESULTS * MAX_RESULT_BYTES / 2**20:.0f} MiB of growth")  # fmt: skip
        worst = 0.0
        for label, sql in SHAPES:
            worst = max(worst, report(label, measure(url, sql)))
        report(UNCAPPED[0], measure(url, UNCAPPED[1], capped=False))
        verdict = "within" if worst <= BOUND_RESULTS * MAX_RESULT_BYTES else "OVER"
        print(f"  worst growth under the caps {worst / 2**20:.0f} MiB: {verdict} the bound")
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def report(label: str, cost: dict[str, float]) -> float:
    growth = cost["after"] - cost["before"]
    print(
        f"  {label:<42} {cost['after'] / 2**20:7.0f} MiB peak, +{growth / 2**20:5.0f} MiB "
        f"({cost['rows']:,} rows, cut by {cost['cut_by']}, {cost['seconds']:.1f} s)"
    )
    return growth


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "True")
    else:
        main()
