"""What comparing a large result costs: time and peak Python memory, streamed against in memory.

Results larger than the row cap are compared in the database and merged in chunks
(``workbench.sql.large``), so the memory the comparison holds should not grow with the result.
The benchmark compares the demo database's results table (about 118,000 rows) with itself,
shuffled, at several sizes, and prints peak Python allocations (``tracemalloc``) next to the
in-memory comparison of the same rows. Ratios hold across machines better than absolute numbers.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from workbench.settings import Settings
from workbench.sql import DuckDBDatabase, compare_queries
from workbench.sql.large import compare_large

GOLD = "SELECT id, order_id, status, value, resulted_at FROM results WHERE id <= {n}"
PRED = "SELECT resulted_at, value, status, order_id, id FROM results WHERE id <= {n} ORDER BY value"


def measure(work: Callable[[], object]) -> tuple[float, float]:
    """Seconds and peak MiB of Python allocations for one call."""
    tracemalloc.start()
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    from workbench.sql.demo import ensure_demo_database

    with tempfile.TemporaryDirectory() as folder:
        path = ensure_demo_database(Settings(data_dir=Path(folder)))
        in_memory = DuckDBDatabase(path, row_cap=200_000, timeout_s=60)
        streamed = DuckDBDatabase(path, row_cap=1_000, timeout_s=60)
        print("results vs itself, five columns, shuffled")
        for n in (10_000, 40_000, 120_000):
            gold, pred = GOLD.format(n=n), PRED.format(n=n)
            memory_s, memory_mib = measure(lambda g=gold, p=pred: compare_queries(g, p, in_memory))
            stream_s, stream_mib = measure(lambda g=gold, p=pred: compare_large(g, p, streamed))
            print(
                f"  {n:>7} rows: in memory {memory_s:6.2f} s {memory_mib:7.1f} MiB; "
                f"streamed {stream_s:6.2f} s {stream_mib:7.1f} MiB "
                f"({stream_mib / memory_mib:.2f}x the memory)"
            )


if __name__ == "__main__":
    main()
