"""Which functions a query may call: an allow-list, with a deny-list in front of it.

A function sqlglot knows (it parses the call into a typed class such as ``exp.Count``) computes on
values and is allowed, unless its name is on the deny-list. A function sqlglot does not know
(``exp.Anonymous``) is allowed only when ``ALLOWED_FUNCTIONS`` names it: DuckDB keeps adding
functions that reach files, settings or global state (the ``parquet_*`` metadata family,
``which_secret``, ``sleep_ms``, logging switches), and a list of what is allowed does not have to
know about them to refuse them. The deny-list still matters for the token check, which runs
before parsing and sees only ``name(``.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

DENIED_FUNCTIONS = frozenset(
    {
        # DuckDB: files, URLs, other databases, secrets, the environment.
        "read_csv",
        "read_csv_auto",
        "read_text",
        "read_blob",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_xlsx",
        "glob",
        "sniff_csv",
        "delta_scan",
        "iceberg_scan",
        "iceberg_metadata",
        "iceberg_snapshots",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "postgres_query",
        "postgres_execute",
        "mysql_scan",
        "mysql_query",
        "mysql_execute",
        "query",
        "query_table",
        "json_execute_serialized_sql",
        "st_read",
        "httpfs",
        "http_get",
        "http_post",
        "duckdb_secrets",
        "load_aws_credentials",
        "getenv",
        "nextval",
        "setval",
        "checkpoint",
        "force_checkpoint",
        # PostgreSQL: server files and side channels.
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "dblink",
        "dblink_exec",
        "pg_sleep",
        "set_config",
        "pg_terminate_backend",
        "pg_cancel_backend",
    }
)
"""Functions that reach outside the database or change its state, by lower-case name."""

DENIED_PREFIXES = ("read_", "pg_read", "pg_ls", "lo_")
DENIED_SUFFIXES = ("_scan", "_attach", "_query", "_execute")

ALLOWED_FUNCTIONS = frozenset(
    {
        # Dates and times.
        "age",
        "century",
        "decade",
        "epoch",
        "epoch_ms",
        "epoch_ns",
        "epoch_us",
        "era",
        "isoyear",
        "make_date",
        "millennium",
        "strftime",
        "strptime",
        "time_bucket",
        "timezone",
        "to_hours",
        "to_minutes",
        "to_months",
        "to_seconds",
        "to_years",
        "today",
        "yearweek",
        # Numbers.
        "bit_count",
        "even",
        "fdiv",
        "fmod",
        "gcd",
        "greatest_common_divisor",
        "lcm",
        "least_common_multiple",
        "nextafter",
        "round_even",
        "signbit",
        # Text.
        "damerau_levenshtein",
        "format_bytes",
        "hamming",
        "ilike_escape",
        "jaccard",
        "jaro_similarity",
        "like_escape",
        "mismatches",
        "nfc_normalize",
        "octet_length",
        "prefix",
        "printf",
        "regexp_matches",
        "regexp_split_to_array",
        "regexp_split_to_table",
        "strip_accents",
        "suffix",
        # JSON.
        "array_to_json",
        "json_array_length",
        "json_extract_string",
        "json_object",
        "row_to_json",
        "to_json",
        # Lists.
        "cardinality",
        "list_aggregate",
        "list_contains",
        "list_distinct",
        "list_has",
        "list_has_all",
        "list_has_any",
        "list_position",
        "list_reverse",
        "list_slice",
        "list_sort",
        "list_sum",
        "list_unique",
        "list_value",
        "range",
        # Aggregates.
        "entropy",
        "favg",
        "fsum",
        "geomean",
        "geometric_mean",
        "hash",
        "histogram",
        "mad",
        "product",
        "quantile_cont",
        "quantile_disc",
    }
)
"""Functions sqlglot has no class for that a query may still call: pure computations on values.

Everything else sqlglot does not know is refused (``sleep_ms``, ``which_secret``, the
``parquet_*`` and ``duckdb_*`` families, settings and variables, ...)."""


def function_names(node: exp.Func) -> set[str]:
    """Every lower-case name a function node is known by."""
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {name.lower() for name in type(node).sql_names()} | {node.key.lower()}


def is_denied_function(name: str) -> bool:
    """True for a function that reaches outside the query (files, network, settings, sequences)."""
    name = name.lower()
    return (
        name in DENIED_FUNCTIONS
        or name.startswith(DENIED_PREFIXES)
        or name.endswith(DENIED_SUFFIXES)
    )


def is_allowed_unknown_function(name: str, dialect: str) -> bool:
    """A call sqlglot parsed without a class of its own: allowed when listed.

    A name sqlglot does know still arrives here when it is qualified (``main.abs(x)``).
    """
    name = name.lower()
    if is_denied_function(name):
        return False
    known = sqlglot.Dialect.get_or_raise(dialect).parser_class.FUNCTIONS
    return name in ALLOWED_FUNCTIONS or name.upper() in known
