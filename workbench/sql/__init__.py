"""SQL: the safety check, execution on a database, and the comparator that judges results.

- ``check``: parse, refuse anything but one read-only query, format, transpile;
- ``limits``: the ceiling on SQL from text to rows (length, nesting, time, memory, bytes);
- ``functions``: which functions a query may call (an allow-list behind a deny-list);
- ``extract``: the query in a model's answer;
- ``execute``: ``Database`` (a file with its limits) and ``run_query``;
- ``worker``: the process a query runs in, held to the OS's limits;
- ``accuracy``: does a prediction return what the gold returns (``compare_results``),
  built on ``values`` (equality within tolerance, multisets) and ``columns``
  (matching columns by their values);
- ``schema``: tables, row counts and the ``{{schema}}`` text, read from the database;
- ``demo``: the demo database, built on demand and cached by content.
"""

from __future__ import annotations

from workbench.sql.accuracy import Verdict, compare_queries, compare_results, gold_is_ordered
from workbench.sql.check import check_readonly, format_sql, parse_sql, to_duckdb, tree_to_duckdb
from workbench.sql.demo import (
    DemoBuild,
    build_demo_database,
    demo_database,
    demo_database_path,
    ensure_demo_database,
)
from workbench.sql.execute import Database, QueryResult, connect_readonly, run_query
from workbench.sql.extract import extract_sql
from workbench.sql.limits import MAX_CELL_BYTES, MAX_RESULT_BYTES, MAX_SQL_CHARS
from workbench.sql.schema import schema_description, table_counts

__all__ = [
    "MAX_CELL_BYTES",
    "MAX_RESULT_BYTES",
    "MAX_SQL_CHARS",
    "Database",
    "DemoBuild",
    "QueryResult",
    "Verdict",
    "build_demo_database",
    "check_readonly",
    "compare_queries",
    "compare_results",
    "connect_readonly",
    "demo_database",
    "demo_database_path",
    "ensure_demo_database",
    "extract_sql",
    "format_sql",
    "gold_is_ordered",
    "parse_sql",
    "run_query",
    "schema_description",
    "table_counts",
    "to_duckdb",
    "tree_to_duckdb",
]
