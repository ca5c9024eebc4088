"""Which functions a query may call: sqlglot's known functions minus a deny-list, plus a short
list of the ones it does not know; anything else is refused before it runs."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from workbench.errors import SQLRefused
from workbench.sql import check_readonly
from workbench.sql.functions import ALLOWED_FUNCTIONS, is_allowed_unknown_function

UNLISTED = [
    # DuckDB functions that reach files, settings or global state, and were never listed.
    "SELECT * FROM parquet_file_metadata('x.parquet')",
    "SELECT * FROM parquet_bloom_probe('x.parquet', 'a', 1)",
    "SELECT * FROM which_secret('s3://bucket/x', 's3')",
    "SELECT sleep_ms(100000)",
    "SELECT current_setting('threads')",
    "SELECT getvariable('x')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_logs()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM pragma_version()",
    "SELECT json_serialize_sql('SELECT 1')",
    "SELECT * FROM test_all_types()",
]


@pytest.mark.parametrize("sql", UNLISTED)
def test_a_function_nobody_listed_is_refused(sql: str) -> None:
    with pytest.raises(SQLRefused, match="refused: function"):
        check_readonly(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT abs(-1), round(2.5), coalesce(NULL, 1), date_trunc('month', DATE '2026-01-15')",
        "SELECT main.abs(-1)",  # qualified: sqlglot leaves it unknown, but it knows abs
        "SELECT count(*) FROM range(10) t",
        "SELECT age(TIMESTAMP '2026-03-31', TIMESTAMP '2020-01-01')",
        "SELECT make_date(2026, 3, 31), octet_length('abc')",
        "SELECT quantile_cont(x, 0.5) FROM (VALUES (1), (2)) v(x)",
    ],
)
def test_known_and_listed_functions_pass(sql: str) -> None:
    check_readonly(sql)


def test_every_listed_function_is_unknown_to_sqlglot_and_exists_in_duckdb() -> None:
    """The list is for what sqlglot leaves unknown in PostgreSQL (a known name on it would be
    dead weight) and every entry is a real DuckDB function (no typo passes as allowed)."""
    known = sqlglot.Dialect.get_or_raise("postgres").parser_class.FUNCTIONS
    with duckdb.connect() as connection:
        duckdb_names = {
            row[0]
            for row in connection.execute("SELECT function_name FROM duckdb_functions()").fetchall()
        }
    assert sorted(n for n in ALLOWED_FUNCTIONS if n.upper() in known) == []
    assert sorted(ALLOWED_FUNCTIONS - duckdb_names) == []


def test_a_denied_name_is_refused_even_when_listed_as_known() -> None:
    assert not is_allowed_unknown_function("read_text", "postgres")
    assert not is_allowed_unknown_function("my_scan", "duckdb")
    assert is_allowed_unknown_function("age", "postgres")
