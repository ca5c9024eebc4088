"""SQL: the safety check, execution on a database, and the comparator that judges results.

- ``check``: parse, refuse anything but one read-only query, format, transpile;
- ``extract``: the query in a model's answer;
- ``execute``: ``Database`` (the interface every caller holds), ``DuckDBDatabase`` and
  ``run_query``;
- ``postgres``: ``PostgresDatabase``, queries run natively under PostgreSQL's own guards;
- ``target``: the database the settings name (``open_database``);
- ``accuracy``: does a prediction return what the gold returns (``compare_results``),
  built on ``values`` (equality within tolerance, multisets) and ``columns``
  (matching columns by their values);
- ``catalog``: what a database holds (tables, columns, keys, values), read from it;
- ``schema``: the ``{{schema}}`` text and row counts;
- ``demo``: the demo database, built on demand and cached by content.
"""

from __future__ import annotations

from workbench.sql.accuracy import Verdict, compare_queries, compare_results, gold_is_ordered
from workbench.sql.catalog import ColumnInfo, TableInfo
from workbench.sql.check import check_readonly, format_sql, parse_sql, to_duckdb, tree_to_duckdb
from workbench.sql.demo import (
    DemoBuild,
    DemoLoad,
    build_demo_database,
    demo_database,
    demo_database_path,
    ensure_demo_database,
    load_demo_postgres,
)
from workbench.sql.execute import (
    Database,
    DuckDBDatabase,
    QueryResult,
    connect_readonly,
    run_query,
)
from workbench.sql.extract import extract_sql
from workbench.sql.postgres import PostgresDatabase, redact
from workbench.sql.schema import render_schema, schema_description, table_counts
from workbench.sql.target import database_at, database_label, open_database

__all__ = [
    "ColumnInfo",
    "Database",
    "DemoBuild",
    "DemoLoad",
    "DuckDBDatabase",
    "PostgresDatabase",
    "QueryResult",
    "TableInfo",
    "Verdict",
    "build_demo_database",
    "check_readonly",
    "compare_queries",
    "compare_results",
    "connect_readonly",
    "database_at",
    "database_label",
    "demo_database",
    "demo_database_path",
    "ensure_demo_database",
    "extract_sql",
    "format_sql",
    "gold_is_ordered",
    "load_demo_postgres",
    "open_database",
    "parse_sql",
    "redact",
    "render_schema",
    "run_query",
    "schema_description",
    "table_counts",
    "to_duckdb",
    "tree_to_duckdb",
]
