"""SQL: the safety check, execution on a database, and the comparator that judges results.

- ``check``: parse, refuse anything but one read-only query, format, transpile;
- ``limits``: the ceiling on SQL from text to rows (length, nesting, time, memory, bytes);
- ``functions``: which functions a query may call (an allow-list behind a deny-list);
- ``extract``: the query in a model's answer;
- ``limits``, ``functions``: the ceilings on SQL text and the functions a query may call;
- ``execute``: ``Database`` (the interface every caller holds), ``DuckDBDatabase`` and
  ``run_query``; ``worker``: the process a DuckDB query runs in, held to the OS's limits;
- ``postgres``: ``PostgresDatabase``, queries run natively under PostgreSQL's own guards;
- ``target``: the database the settings name (``open_database``);
- ``accuracy``: does a prediction return what the gold returns (``compare_results``),
  built on ``values`` (equality within tolerance, multisets), ``columns``
  (matching columns by their values) and ``ordering`` (ORDER BY keys and ties);
- ``judge``: the gold run once per database (``run_gold``), predictions judged against it
  on the main database and its variants (``judge``, ``judge_on_variants``,
  ``compare_queries``), results larger than the row cap streamed (``large``);
- ``division``: PostgreSQL's integer division kept in the transpiled query;
- ``catalog``: what a database's catalog holds (tables, columns, types, keys), read from it;
  ``profile``: what its data holds (row counts, NULLs, the values of lookup columns);
  ``typenames``: types spelled so that both engines accept them;
- ``schema``: the ``{{schema}}`` and ``{{schema_sql}}`` texts and row counts;
  ``schemanotes``: the workspace's ``schema.yaml`` (tables and columns left out, described);
- ``demo``: the demo database, built on demand and cached by content; ``variants``: the
  same generator with other seeds, for judging on several databases.
"""

from __future__ import annotations

from workbench.sql.accuracy import Verdict, compare_results
from workbench.sql.catalog import ColumnInfo, DatabaseSchema, ForeignKey, TableInfo
from workbench.sql.check import (
    check_readonly,
    duckdb_problem,
    format_sql,
    parse_sql,
    to_duckdb,
    tree_to_duckdb,
)
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
    warm_up,
)
from workbench.sql.extract import extract_sql
from workbench.sql.judge import (
    GoldCache,
    GoldResult,
    compare_queries,
    held_open,
    judge,
    judge_on_variants,
    judge_result,
    run_gold,
)
from workbench.sql.limits import MAX_CELL_BYTES, MAX_RESULT_BYTES, MAX_SQL_CHARS
from workbench.sql.ordering import gold_is_ordered, limit_tie_breaks
from workbench.sql.postgres import PostgresDatabase, redact
from workbench.sql.schema import (
    SchemaTexts,
    read_schema,
    render_schema,
    render_statements,
    require_tables,
    schema_description,
    schema_statements,
    schema_texts,
    table_counts,
)
from workbench.sql.schemanotes import NO_NOTES, SchemaNotes, load_schema_notes
from workbench.sql.target import (
    database_at,
    database_dialect,
    database_label,
    open_database,
    workspace_schema,
)
from workbench.sql.variants import (
    Variant,
    build_variant_databases,
    demo_variants,
    variant_seeds,
    variants_for,
)
from workbench.sql.worker import warm_workers

__all__ = [
    "MAX_CELL_BYTES",
    "MAX_RESULT_BYTES",
    "MAX_SQL_CHARS",
    "NO_NOTES",
    "ColumnInfo",
    "Database",
    "DatabaseSchema",
    "DemoBuild",
    "DemoLoad",
    "DuckDBDatabase",
    "ForeignKey",
    "GoldCache",
    "GoldResult",
    "PostgresDatabase",
    "QueryResult",
    "SchemaNotes",
    "SchemaTexts",
    "TableInfo",
    "Variant",
    "Verdict",
    "build_demo_database",
    "build_variant_databases",
    "check_readonly",
    "compare_queries",
    "compare_results",
    "connect_readonly",
    "database_at",
    "database_dialect",
    "database_label",
    "demo_database",
    "demo_database_path",
    "demo_variants",
    "ensure_demo_database",
    "extract_sql",
    "format_sql",
    "gold_is_ordered",
    "held_open",
    "judge",
    "judge_on_variants",
    "judge_result",
    "limit_tie_breaks",
    "load_demo_postgres",
    "load_schema_notes",
    "open_database",
    "parse_sql",
    "read_schema",
    "redact",
    "render_schema",
    "render_statements",
    "require_tables",
    "run_gold",
    "run_query",
    "schema_description",
    "schema_statements",
    "schema_texts",
    "table_counts",
    "to_duckdb",
    "tree_to_duckdb",
    "duckdb_problem",
    "variant_seeds",
    "variants_for",
    "warm_up",
    "warm_workers",
    "workspace_schema",
]
