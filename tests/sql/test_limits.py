"""The ceiling on SQL text: too long, nested too deeply or not Unicode is a clear SQLParseError
on every path that parses (check, parse, format, transpile), never a RecursionError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.labdb import build_lab_database
from workbench.errors import SQLParseError
from workbench.sql import DuckDBDatabase, check_readonly, format_sql, parse_sql, to_duckdb
from workbench.sql.limits import MAX_ARRAY_NESTING, MAX_NESTING, MAX_SQL_CHARS

ENTRY_POINTS: dict[str, Callable[[str], object]] = {
    "check": check_readonly,
    "parse": parse_sql,
    "format": format_sql,
    "transpile": to_duckdb,
}

NESTED: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "SELECT " + "(" * n + "1" + ")" * n,
    "NOT": lambda n: "SELECT " + "NOT " * n + "TRUE",
    "unary minus": lambda n: "SELECT " + "- " * n + "1",
    "CASE": lambda n: "SELECT " + "CASE WHEN TRUE THEN " * n + "1" + " END" * n,
    "subqueries": lambda n: "SELECT * FROM " + "(SELECT * FROM " * n + "labs" + ") t" * n,
    "scalar subqueries": lambda n: "SELECT " + "(SELECT " * n + "1" + ")" * n,
    "function calls": lambda n: "SELECT " + "abs(" * n + "1" + ")" * n,
    "ARRAY": lambda n: "SELECT " + "ARRAY[" * n + "1" + "]" * n,
    "lists": lambda n: "SELECT " + "[" * n + "1" + "]" * n,
    "structs": lambda n: "SELECT " + "{'a': " * n + "1" + "}" * n,
    "subscripts": lambda n: "SELECT x" + "[1]" * n + " FROM t",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("shape", NESTED)
def test_deep_nesting_is_a_clear_error_on_every_path(shape: str, entry: str) -> None:
    sql = NESTED[shape](60)
    with pytest.raises(SQLParseError, match="nest"):
        ENTRY_POINTS[entry](sql)


@pytest.mark.parametrize(
    "shape", ["parentheses", "NOT", "CASE", "subqueries", "function calls", "structs"]
)
def test_nesting_up_to_the_limit_is_checked_and_transpiled(shape: str) -> None:
    sql = NESTED[shape](MAX_NESTING - 1)  # the SELECT's own level is not counted; keep margin
    assert to_duckdb(sql)
    check_readonly(sql)


def test_array_nesting_up_to_its_limit_passes() -> None:
    assert to_duckdb(NESTED["ARRAY"](MAX_ARRAY_NESTING))
    with pytest.raises(SQLParseError, match="ARRAY"):
        parse_sql(NESTED["ARRAY"](MAX_ARRAY_NESTING + 1))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a" + ".b" * 3000 + " FROM t",  # qualified names: not counted as levels
        "SELECT 1" + "::int" * 3000,  # casts
    ],
    ids=["dots", "casts"],
)
def test_a_recursion_error_anywhere_becomes_the_same_error(sql: str) -> None:
    """Chains the token count does not see: sqlglot parses them in a loop but writes them out
    recursively, so formatting and transpiling hit Python's recursion limit; that ends as the
    same parse error, never a RecursionError."""
    check_readonly(sql)
    for entry in (format_sql, to_duckdb):
        with pytest.raises(SQLParseError, match="nested too deeply"):
            entry(sql)


def test_sql_over_the_length_limit_is_refused_before_parsing() -> None:
    # A valid query, just long: many conditions a parser would spend seconds on.
    conditions = " OR ".join(f"id = {i}" for i in range(MAX_SQL_CHARS // 8))
    sql = f"SELECT id FROM labs WHERE {conditions}"
    assert len(sql) > MAX_SQL_CHARS
    for entry in ENTRY_POINTS.values():
        with pytest.raises(SQLParseError, match=f"at most {MAX_SQL_CHARS:,}"):
            entry(sql)


def test_sql_at_the_length_limit_is_checked() -> None:
    sql = "SELECT 1 AS a -- " + "x" * (MAX_SQL_CHARS - 17)
    assert len(sql) == MAX_SQL_CHARS
    check_readonly(sql)


@pytest.mark.parametrize("sql", ["SELECT '\udcff' AS s", "SELECT 1 -- \ud800"])
def test_sql_that_is_not_valid_unicode_is_a_parse_error(sql: str) -> None:
    with pytest.raises(SQLParseError, match="not valid Unicode"):
        check_readonly(sql)


def test_running_reports_the_same_errors_from_its_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    database = DuckDBDatabase(build_lab_database(tmp_path_factory.mktemp("limits") / "lab.duckdb"))
    with pytest.raises(SQLParseError, match="nested too deeply"):
        database.run(NESTED["parentheses"](60))
    with pytest.raises(SQLParseError, match="ARRAY"):
        database.run(NESTED["ARRAY"](40))
    with pytest.raises(SQLParseError, match=f"at most {MAX_SQL_CHARS:,}"):
        database.run("SELECT 1 -- " + "x" * MAX_SQL_CHARS)
    assert database.run("SELECT count(*) FROM labs").rows == ((4,),)
