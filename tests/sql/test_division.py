"""PostgreSQL's integer division through the transpiler, against values PostgreSQL returned.

Every expected value below was read from PostgreSQL 15 on a table ``t`` of the same shape
and rows as the DuckDB table built here (integer, bigint, smallint, numeric, double precision
and date columns; ``id`` 1 to 12).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from workbench.sql import run_query, to_duckdb
from workbench.sql.values import normalize_value, values_equal

TABLE = """
CREATE TABLE t AS
SELECT i::INTEGER AS id, i::BIGINT AS b, i::SMALLINT AS s, i::DECIMAL(18, 3) AS n,
       i::DOUBLE AS d, DATE '2025-01-01' + i::INTEGER AS dt
FROM range(1, 13) r(i)
"""

POSTGRES_SAYS = [
    ("SELECT SUM(id)/COUNT(id) FROM t", 6),
    ("SELECT SUM(b)/COUNT(b) FROM t", Decimal("6.5000000000000000")),
    ("SELECT SUM(s)/COUNT(*) FROM t", 6),
    ("SELECT id/5 FROM t WHERE id = 12", 2),
    ("SELECT b/5 FROM t WHERE id = 12", 2),
    ("SELECT MAX(b)/5 FROM t", 2),
    ("SELECT AVG(id)/2 FROM t", Decimal("3.2500000000000000")),
    ("SELECT COUNT(*)/5 FROM t", 2),
    ("SELECT EXTRACT(YEAR FROM dt)/2 FROM t WHERE id = 1", Decimal("1012.5000000000000000")),
    ("SELECT DATE_PART('year', dt)/2 FROM t WHERE id = 1", 1012.5),
    ("SELECT (MAX(dt) - MIN(dt))/7 FROM t", 1),
    ("SELECT (dt - DATE '2025-01-01')/2 FROM t WHERE id = 7", 3),
    ("SELECT SUM(CASE WHEN id > 3 THEN 1 ELSE 0 END)/COUNT(*) FROM t", 0),
    ("SELECT 100 * COUNT(*) FILTER (WHERE id > 3) / COUNT(*) FROM t", 75),
    ("SELECT n/7 FROM (SELECT COUNT(*) AS n FROM t) c", 1),
    ("WITH c AS (SELECT SUM(b) AS total FROM t) SELECT total/7 FROM c",
     Decimal("11.1428571428571429")),
    ("WITH c AS (SELECT SUM(id) AS total FROM t) SELECT total/7 FROM c", 11),
    ("SELECT x/2 FROM (VALUES (7)) v(x)", 3),
    ("SELECT (SELECT MAX(id) FROM t)/5", 2),
    ("SELECT ROUND(SUM(id)/COUNT(id), 2) FROM t", Decimal("6.00")),
    ("SELECT -7/2", -3),
    ("SELECT d/5 FROM t WHERE id = 12", 2.4),
    ("SELECT COALESCE(id, 0)/5 FROM t WHERE id = 12", 2),
    ("SELECT CASE WHEN id > 3 THEN id ELSE 0 END / 5 FROM t WHERE id = 12", 2),
    ("SELECT LENGTH('abcde')/2", 2),
    ("SELECT SUM(id) OVER ()/COUNT(*) OVER () FROM t LIMIT 1", 6),
    ("SELECT id/2.0 FROM t WHERE id = 7", Decimal("3.5000000000000000")),
    ("SELECT CAST(SUM(id) AS FLOAT)/COUNT(id) FROM t", 6.5),
    ("SELECT o.id/o.s FROM t AS o WHERE o.id = 12", 1),
    ("SELECT MIN(id)/MAX(id) FROM t", 0),
    ("SELECT n/2 FROM t WHERE id = 3", Decimal("1.5000000000000000")),
    ("SELECT (id + 1)/2 FROM t WHERE id = 6", 3),
    ("SELECT ABS(id - 20)/3 FROM t WHERE id = 1", 6),
    ("SELECT GREATEST(id, 2)/3 FROM t WHERE id = 1", 0),
    ("SELECT NTILE(3) OVER (ORDER BY id)/2 FROM t ORDER BY id LIMIT 1", 0),
    ("SELECT SUM(id)/COUNT(id)/2 FROM t", 3),
    ("SELECT SUM(id)::numeric/COUNT(id) FROM t", Decimal("6.5000000000000000")),
    ("SELECT a.id/b.c FROM t a JOIN (SELECT COUNT(*) AS c FROM t) b ON true WHERE a.id = 12", 1),
    ("SELECT SUM(c)/2 FROM (SELECT COUNT(*) AS c FROM t GROUP BY id % 3) g",
     Decimal("6.0000000000000000")),
    ("SELECT COUNT(DISTINCT id)/5 FROM t", 2),
    ("SELECT CAST(7 AS BIGINT)/2", 3),
    ("SELECT 2147483648/3", 715827882),
    ("SELECT id/(SELECT COUNT(*) FROM t WHERE t.id < o.id) FROM t AS o WHERE o.id = 12", 1),
]  # fmt: skip


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("division") / "t.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(TABLE)
    return path


@pytest.mark.parametrize(("sql", "expected"), POSTGRES_SAYS, ids=[q for q, _ in POSTGRES_SAYS])
def test_the_transpiled_query_gives_postgres_answer(
    sql: str, expected: object, database: Path
) -> None:
    result = run_query(sql, database)
    got = result.rows[0][0]
    assert values_equal(normalize_value(expected), normalize_value(got)), (
        f"{result.executed_sql} gave {got!r}; PostgreSQL says {expected!r}"
    )


def test_the_rows_of_a_windowed_division_are_each_truncated(database: Path) -> None:
    sql = "SELECT ROW_NUMBER() OVER (ORDER BY id)/2 AS h FROM t ORDER BY id LIMIT 3"
    assert [row[0] for row in run_query(sql, database).rows] == [0, 1, 1]


def test_without_a_schema_only_literals_and_casts_are_known() -> None:
    assert to_duckdb("SELECT 7 / 2") == "SELECT 7 // 2"
    assert to_duckdb("SELECT id / 2 FROM t") == "SELECT id / 2 FROM t"
    assert to_duckdb("SELECT CAST(id AS INT) / 2 FROM t") == "SELECT CAST(id AS INT) // 2 FROM t"
