"""The byte and row caps of a PostgreSQL result, on a real server: the shapes of the probe
that once returned a 900 MB cell whole (``workbench.sql.pgcaps``)."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from tests.conftest import PostgresLab
from workbench.errors import SQLExecutionError
from workbench.sql import DuckDBDatabase, PostgresDatabase, compare_results
from workbench.sql.limits import MAX_CELL_BYTES, MAX_RESULT_BYTES
from workbench.sql.pgcaps import Column, bare_query, capped_query, cell_cap

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database(postgres_lab: PostgresLab) -> PostgresDatabase:
    return PostgresDatabase(postgres_lab.url)


def test_a_huge_cell_is_cut_on_the_server_like_duckdb_cuts_it(
    database: PostgresDatabase, postgres_lab: PostgresLab
) -> None:
    sql = "SELECT repeat('ab', 3000000) AS s, 1 AS n"
    result = database.run(sql)
    assert (result.truncated, result.cut_by) == (True, "cell bytes")
    assert result.rows == (("ab" * (MAX_CELL_BYTES // 2), 1),)
    assert result.rows == DuckDBDatabase(postgres_lab.duckdb).run(sql).rows


def test_the_real_900_mb_cell_runs_out_of_time_on_the_server(database: PostgresDatabase) -> None:
    """Building it takes the server longer than a query may run; nothing reaches the client."""
    with pytest.raises(SQLExecutionError, match="timed out"):
        replace(database, timeout_s=0.5).run("SELECT repeat('x', 900000000) AS s")


@pytest.mark.parametrize("lead", ["", "a", "ab", "abc"])
def test_cut_text_never_splits_a_character(database: PostgresDatabase, lead: str) -> None:
    result = database.run(f"SELECT '{lead}' || repeat('é😀€', 200000) AS s")
    cut = result.rows[0][0]
    whole = lead + "é😀€" * 200000
    assert result.cut_by == "cell bytes" and whole.startswith(cut)
    assert MAX_CELL_BYTES - 4 < len(cut.encode()) <= MAX_CELL_BYTES


def test_bytes_are_cut_and_other_values_replaced_by_a_note(database: PostgresDatabase) -> None:
    result = database.run(
        "SELECT decode(repeat('ff', 2000000), 'hex') AS b, "
        "array_agg(g) AS l, 'short' AS t FROM generate_series(1, 300000) g"
    )
    blob, note, short = result.rows[0]
    assert blob == b"\xff" * MAX_CELL_BYTES
    assert note == f"[a int4[] of more than {MAX_CELL_BYTES:,} bytes, cut: too large to return]"
    assert short == "short" and result.cut_by == "cell bytes"


def test_many_large_cells_are_each_cut_and_the_result_stops_at_its_byte_cap(
    database: PostgresDatabase,
) -> None:
    twenty = database.run("SELECT repeat('x', 10000000) AS s FROM generate_series(1, 20)")
    assert (twenty.row_count, twenty.cut_by) == (20, "cell bytes")
    assert {len(row[0]) for row in twenty.rows} == {MAX_CELL_BYTES}
    many = database.run("SELECT repeat('x', 2000000) AS s FROM generate_series(1, 50)")
    assert (many.truncated, many.cut_by) == (True, "result bytes")
    assert many.row_count == MAX_RESULT_BYTES // MAX_CELL_BYTES


def test_one_wide_row_of_large_cells_stays_within_the_result_cap(
    database: PostgresDatabase,
) -> None:
    columns = ", ".join(f"repeat('x', 2000000) AS c{i}" for i in range(40))
    result = database.run(f"SELECT {columns}")
    (row,) = result.rows
    assert {len(cell) for cell in row} == {cell_cap(40)}
    assert sum(map(len, row)) <= MAX_RESULT_BYTES and result.cut_by == "cell bytes"


def test_a_huge_row_count_stops_at_the_row_cap(database: PostgresDatabase) -> None:
    numbers = database.run("SELECT g FROM generate_series(1, 10000000) g")
    assert (numbers.row_count, numbers.cut_by, numbers.rows[-1]) == (10_000, "rows", (10_000,))
    texts = replace(database, row_cap=10).run("SELECT 'x' || g FROM generate_series(1, 10000000) g")
    assert (texts.row_count, texts.cut_by, texts.rows[-1]) == (10, "rows", ("x10",))


NORMAL = """SELECT 1 AS a, 2 AS a, 'x'::text AS "odd ""q"" name", 2.50::numeric(4,2) AS n,
    12345678901234567890.5::numeric AS big, ARRAY[1, NULL, 3] AS l, ARRAY['a', 'b'] AS t,
    DATE '2020-01-02' AS d, TIMESTAMP '2020-01-02 03:04:05' AS ts, NULL::text AS nothing,
    NULL AS untyped, '\\x0001'::bytea AS b, '{"a": [1, 2]}'::jsonb AS j, 'ab'::char(4) AS c,
    0.5::float8 AS f, true AS yes, '10.0.0.1'::inet AS ip, g
FROM generate_series(1, 3) g
ORDER BY g DESC"""


def test_a_normal_result_is_returned_unchanged(
    database: PostgresDatabase, postgres_lab: PostgresLab
) -> None:
    result = database.run(NORMAL)
    with psycopg.connect(postgres_lab.url) as connection:
        cursor = connection.execute(NORMAL)
        names = tuple(d.name for d in cursor.description or ())
        rows = tuple(cursor.fetchall())
    assert (result.columns, result.rows) == (names, rows)
    assert [type(v).__name__ for v in result.rows[0]] == [type(v).__name__ for v in rows[0]]
    assert (result.truncated, result.cut_by) == (False, None)
    assert [row[-1] for row in result.rows] == [3, 2, 1]


def test_order_survives_the_wrapper(database: PostgresDatabase) -> None:
    sql = "SELECT 'v' || g AS v, g FROM generate_series(1, 5000) g ORDER BY md5(g::text)"
    result = database.run(sql)
    assert [row[1] for row in result.rows] == [
        g for g, _ in sorted(((g, _md5(g)) for g in range(1, 5001)), key=lambda p: p[1])
    ]
    assert compare_results(result, database.run(sql), ordered=True).equivalent


def _md5(number: int) -> str:
    import hashlib

    return hashlib.md5(str(number).encode()).hexdigest()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'x'::text AS s -- a comment at the very end",
        "SELECT 'x'::text AS s;",
        "SELECT 'x'::text AS s ;\n ;  ",
        "SELECT 'x'::text AS s /* a block comment */",
    ],
)
def test_queries_ending_in_a_comment_or_semicolon_still_run_wrapped(
    database: PostgresDatabase, sql: str
) -> None:
    assert database.run(sql).rows == (("x",),)


def test_the_query_stands_on_lines_of_its_own_in_the_wrapper() -> None:
    sql = "SELECT s FROM t -- ) AS q(c1) UNION SELECT secret FROM other; "
    wrapped = capped_query(sql, [Column("s", "text", "text")])
    assert "(\nSELECT s FROM t\n) AS q(c1)" in wrapped and "secret" not in wrapped
    assert bare_query("SELECT 1 ; -- end\n ;") == "SELECT 1"
    assert bare_query("SELECT ';' AS s") == "SELECT ';' AS s"


def test_a_result_of_numbers_only_runs_as_is(database: PostgresDatabase) -> None:
    result = database.run(
        "SELECT g, g * 2.0::float8 AS h, DATE '2020-01-01' + g FROM generate_series(1, 3) g"
    )
    assert result.rows[0][:2] == (1, 2.0) and result.cut_by is None
