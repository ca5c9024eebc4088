"""The demo database generator: determinism, the planted worked example, the paper's SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot

from fixtures import labdb

WORKED_EXAMPLE_SQL = """
SELECT ph.physician_name, COUNT(*) AS abnormal_cbc_count
FROM results r
JOIN orders o ON r.order_id = o.id
JOIN physicians ph ON o.physician_id = ph.id
JOIN tests t ON o.test_id = t.id
WHERE r.status = 'ABNORMAL'
  AND t.test_name ILIKE '%cbc%'
  AND r.notes ILIKE '%covid%'
  AND o.order_date >= '2026-01-01'
  AND o.order_date < '2026-04-01'
GROUP BY ph.physician_name
HAVING COUNT(*) >= 3
ORDER BY abnormal_cbc_count DESC;
"""

TURNAROUND_BLOOD_WORK_SQL = """
SELECT l.lab_name, AVG(r.resulted_at - o.order_date) AS avg_turnaround
FROM results r
JOIN orders o ON r.order_id = o.id
JOIN labs l ON o.lab_id = l.id
JOIN tests t ON o.test_id = t.id
WHERE l.lab_name IN ('Midwest Diagnostics', 'Valley Lab')
  AND t.test_category = 'blood work'
  AND o.order_date >= '2026-01-01'
GROUP BY l.lab_name;
"""

TURNAROUND_CBC_SQL = """
SELECT l.lab_name,
 AVG(r.resulted_at - o.order_date) AS avg_turnaround
FROM results r
JOIN orders o ON r.order_id = o.id
JOIN labs l ON o.lab_id = l.id
JOIN tests t ON o.test_id = t.id
WHERE l.lab_name IN ('Riverside Labs', 'Summit Diagnostics')
AND t.test_name ILIKE '%cbc%'
AND o.order_date >= '2026-01-01'
GROUP BY l.lab_name;
"""

BUSIEST_MONTH_SQL = """
WITH monthly_orders AS (
  SELECT o.lab_id, DATE_TRUNC('month', o.order_date) AS order_month, COUNT(*) AS total_orders
  FROM orders o WHERE EXTRACT(YEAR FROM o.order_date) = 2025
  GROUP BY o.lab_id, DATE_TRUNC('month', o.order_date)
), peak_month AS (
  SELECT lab_id, order_month, total_orders,
    ROW_NUMBER() OVER (PARTITION BY lab_id ORDER BY total_orders DESC) AS rn
  FROM monthly_orders
)
SELECT l.lab_name, pm.order_month, pm.total_orders
FROM peak_month pm JOIN labs l ON pm.lab_id = l.id
WHERE pm.rn = 1 ORDER BY pm.total_orders DESC;
"""

REQUIRED_COLUMNS = {
    "patients": ["id", "patient_name", "date_of_birth", "sex"],
    "departments": ["id", "department_name"],
    "physicians": ["id", "physician_name", "department_id", "specialty"],
    "labs": ["id", "lab_name", "city", "region"],
    "tests": ["id", "test_name", "test_category"],
    "orders": [
        "id", "patient_id", "physician_id", "test_id", "lab_id", "order_date", "priority", "status",
    ],
    "results": [
        "id", "order_id", "resulted_at", "status", "value", "unit", "reference_range", "notes",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def con(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo_database), read_only=True)
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchone()[0]


def fingerprints(path: Path) -> dict[str, tuple[int, int]]:
    """Row count and a hash of every table's content (rows carry unique ids)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            table: connection.execute(
                f"SELECT COUNT(*), bit_xor(hash(x)) FROM {table} x"
            ).fetchone()
            for table in labdb.TABLES
        }


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_tables(demo_database: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    labdb.build(again, 20260331)
    assert fingerprints(again) == fingerprints(demo_database)


def test_different_seed_gives_different_rows(demo_database: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    counts = labdb.build(other, 7)
    mine, theirs = fingerprints(demo_database), fingerprints(other)
    for table in ("patients", "orders", "results"):
        assert mine[table] != theirs[table], table
    # The reference data is fixed by design; only the activity is random.
    for table in ("departments", "physicians", "labs", "tests"):
        assert mine[table] == theirs[table], table
    # build() reports what it wrote.
    assert counts == {table: rows for table, (rows, _) in theirs.items()}
    # The planted example holds for any seed.
    with duckdb.connect(str(other), read_only=True) as connection:
        assert rows(connection, WORKED_EXAMPLE_SQL) == list(labdb.WORKED_EXAMPLE.items())


# ---------------------------------------------------------------- shape


def test_required_tables_and_columns_exist(con) -> None:
    for table, required in REQUIRED_COLUMNS.items():
        columns = [
            name
            for (name,) in rows(
                con,
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "ORDER BY column_index",
                [table],
            )
        ]
        assert set(required) <= set(columns), (table, columns)
    types = dict(
        rows(
            con,
            "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns() "
            "WHERE column_name IN ('order_date', 'resulted_at')",
        )
    )
    assert types == {"orders.order_date": "DATE", "results.resulted_at": "TIMESTAMP"}


def test_sizes_meet_the_minimums(con) -> None:
    assert scalar(con, "SELECT COUNT(*) FROM physicians") >= 40
    assert scalar(con, "SELECT COUNT(DISTINCT department_id) FROM physicians") >= 8
    assert scalar(con, "SELECT COUNT(*) FROM labs") >= 10
    assert scalar(con, "SELECT COUNT(*) FROM tests") >= 25
    assert scalar(con, "SELECT COUNT(*) FROM patients") >= 2_000
    assert scalar(con, "SELECT COUNT(*) FROM orders") >= 100_000
    first, last = rows(con, "SELECT MIN(order_date), MAX(order_date) FROM orders")[0]
    assert (first, last) == (date(2024, 1, 1), date(2026, 3, 31))


def test_named_labs_tests_and_categories_exist(con) -> None:
    labs = {name for (name,) in rows(con, "SELECT lab_name FROM labs")}
    assert {"Midwest Diagnostics", "Valley Lab", "Riverside Labs", "Summit Diagnostics"} <= labs
    tests = {name for (name,) in rows(con, "SELECT test_name FROM tests")}
    assert {
        "CBC", "Lipid Panel", "TSH", "Basic Metabolic Panel", "Comprehensive Metabolic Panel",
        "HbA1c", "Vitamin D 25-Hydroxy", "COVID-19 PCR", "Free T4", "Urinalysis",
    } <= tests  # fmt: skip
    categories = {name for (name,) in rows(con, "SELECT DISTINCT test_category FROM tests")}
    assert {"blood work", "thyroid", "infectious disease", "metabolic"} <= categories


def test_names_are_unique_where_questions_name_them(con) -> None:
    for table, column in (
        ("physicians", "physician_name"),
        ("patients", "patient_name"),
        ("labs", "lab_name"),
        ("tests", "test_name"),
    ):
        assert scalar(con, f"SELECT COUNT(*) - COUNT(DISTINCT {column}) FROM {table}") == 0
    assert scalar(con, "SELECT COUNT(*) FROM patients WHERE patient_name = 'John Smith'") == 1
    assert (
        scalar(con, "SELECT COUNT(*) FROM physicians WHERE physician_name LIKE '%Rodriguez'") == 1
    )
    assert all(
        name.startswith("Dr. ") for (name,) in rows(con, "SELECT physician_name FROM physicians")
    )


def test_every_reference_resolves(con) -> None:
    for child, column, parent in (
        ("physicians", "department_id", "departments"),
        ("orders", "patient_id", "patients"),
        ("orders", "physician_id", "physicians"),
        ("orders", "test_id", "tests"),
        ("orders", "lab_id", "labs"),
        ("results", "order_id", "orders"),
    ):
        orphans = scalar(
            con,
            f"SELECT COUNT(*) FROM {child} c LEFT JOIN {parent} p ON c.{column} = p.id "
            "WHERE p.id IS NULL",
        )
        assert orphans == 0, (child, column)


# ---------------------------------------------------------------- the worked example


def test_worked_example_reproduces_exactly(con) -> None:
    assert rows(con, WORKED_EXAMPLE_SQL) == [
        ("Dr. Sarah Chen", 12),
        ("Dr. Marcus Webb", 8),
        ("Dr. Priya Patel", 6),
        ("Dr. James Okafor", 4),
        ("Dr. Lisa Fontaine", 3),
    ]


def test_worked_example_transpiled_from_postgres_gives_the_same_rows(con) -> None:
    (duck,) = sqlglot.transpile(WORKED_EXAMPLE_SQL, read="postgres", write="duckdb")
    assert rows(con, duck) == rows(con, WORKED_EXAMPLE_SQL)


def test_other_physicians_have_one_or_two_so_the_having_matters(con) -> None:
    without_having = WORKED_EXAMPLE_SQL.replace("HAVING COUNT(*) >= 3", "")
    counts = dict(rows(con, without_having))
    others = {name: n for name, n in counts.items() if name not in labdb.WORKED_EXAMPLE}
    assert len(others) >= 5
    assert set(others.values()) <= {1, 2}
    assert 2 in others.values() and 1 in others.values()


def test_each_filter_of_the_worked_example_matters(con) -> None:
    """Dropping any one condition changes the answer: the data has distractors."""
    expected = rows(con, WORKED_EXAMPLE_SQL)
    for condition in (
        "r.status = 'ABNORMAL'",
        "t.test_name ILIKE '%cbc%'",
        "r.notes ILIKE '%covid%'",
        "o.order_date >= '2026-01-01'",
    ):  # the upper date bound is redundant: the data ends on 2026-03-31
        loosened = WORKED_EXAMPLE_SQL.replace(condition, "TRUE")
        assert rows(con, loosened) != expected, condition


def test_critical_covid_cbc_results_are_not_counted(con) -> None:
    broadened = WORKED_EXAMPLE_SQL.replace(
        "r.status = 'ABNORMAL'", "r.status IN ('ABNORMAL', 'CRITICAL')"
    ).replace("HAVING COUNT(*) >= 3", "")
    counts = dict(rows(con, broadened))
    for name, extra in labdb.WORKED_EXAMPLE_CRITICAL.items():
        assert counts[name] >= labdb.WORKED_EXAMPLE.get(name, 0) + extra, name


def test_sars_cov_2_notes_do_not_match_the_covid_filter(con) -> None:
    spellings = {
        spelling: scalar(con, "SELECT COUNT(*) FROM results WHERE notes LIKE ?", [f"%{spelling}%"])
        for spelling in ("COVID-19", "covid", "post-COVID", "SARS-CoV-2")
    }
    assert all(count > 0 for count in spellings.values()), spellings
    sars_only = scalar(
        con,
        "SELECT COUNT(*) FROM results WHERE notes LIKE '%SARS-CoV-2%' "
        "AND notes NOT ILIKE '%covid%'",
    )
    assert sars_only > 0


# ---------------------------------------------------------------- the paper's other SQL


def test_turnaround_midwest_vs_valley_for_blood_work(con) -> None:
    result = dict(rows(con, TURNAROUND_BLOOD_WORK_SQL))
    assert set(result) == {"Midwest Diagnostics", "Valley Lab"}
    assert all(timedelta(hours=1) < tat < timedelta(days=3) for tat in result.values())
    assert result["Midwest Diagnostics"] != result["Valley Lab"]


def test_turnaround_riverside_vs_summit_for_cbc(con) -> None:
    result = dict(rows(con, TURNAROUND_CBC_SQL))
    assert set(result) == {"Riverside Labs", "Summit Diagnostics"}
    assert all(timedelta(hours=1) < tat < timedelta(days=2) for tat in result.values())
    assert result["Riverside Labs"] != result["Summit Diagnostics"]


def test_busiest_month_per_lab_is_unique(con) -> None:
    peaks = rows(con, BUSIEST_MONTH_SQL)
    assert len(peaks) == scalar(con, "SELECT COUNT(*) FROM labs")
    runner_up = dict(
        rows(
            con,
            BUSIEST_MONTH_SQL.replace("pm.rn = 1", "pm.rn = 2").replace(
                "pm.order_month, pm.total_orders", "pm.total_orders"
            ),
        )
    )
    for lab, month, total in peaks:
        assert month.year == 2025
        assert total > runner_up[lab], lab


# ---------------------------------------------------------------- realism


def test_turnaround_and_abnormal_rates_differ_by_lab(con) -> None:
    per_lab = rows(
        con,
        """
        SELECT o.lab_id,
               ROUND(AVG(epoch(r.resulted_at - o.collected_at)) / 60) AS minutes,
               ROUND(AVG(CASE WHEN r.status <> 'NORMAL' THEN 1 ELSE 0 END), 4) AS rate
        FROM results r JOIN orders o ON r.order_id = o.id
        WHERE r.status IS NOT NULL GROUP BY o.lab_id
        """,
    )
    assert len({minutes for _, minutes, _ in per_lab}) == len(per_lab)
    assert len({rate for _, _, rate in per_lab}) == len(per_lab)


def test_abnormal_rates_differ_by_test_and_physician(con) -> None:
    for key in ("o.test_id", "o.physician_id"):
        per_key = rows(
            con,
            f"""
            SELECT {key}, ROUND(AVG(CASE WHEN r.status <> 'NORMAL' THEN 1 ELSE 0 END), 4)
            FROM results r JOIN orders o ON r.order_id = o.id
            WHERE r.status IS NOT NULL GROUP BY {key}
            """,
        )
        rates = [rate for _, rate in per_key]
        assert len(set(rates)) >= 0.9 * len(rates), key
        assert max(rates) > 1.5 * min(rates), key


def test_top_answers_of_common_rankings_are_unique(con) -> None:
    rankings = {
        "physician with most orders in February 2026": """
            SELECT physician_id, COUNT(*) AS n FROM orders
            WHERE order_date >= '2026-02-01' AND order_date < '2026-03-01'
            GROUP BY 1 ORDER BY n DESC LIMIT 2""",
        "lab with most orders": """
            SELECT lab_id, COUNT(*) AS n FROM orders GROUP BY 1 ORDER BY n DESC LIMIT 2""",
        "highest thyroid abnormal rate in 2025": """
            SELECT o.physician_id,
                   AVG(CASE WHEN r.status = 'ABNORMAL' THEN 1.0 ELSE 0 END) AS n
            FROM results r JOIN orders o ON r.order_id = o.id JOIN tests t ON o.test_id = t.id
            WHERE t.test_category = 'thyroid' AND EXTRACT(YEAR FROM o.order_date) = 2025
            GROUP BY 1 ORDER BY n DESC LIMIT 2""",
    }
    for question, sql in rankings.items():
        (_, first), (_, second) = rows(con, sql)
        assert first > second, question


def test_respiratory_infections_peak_in_winter(con) -> None:
    winter, summer = rows(
        con,
        """
        SELECT COUNT(*) FILTER (WHERE month(o.order_date) IN (12, 1, 2)),
               COUNT(*) FILTER (WHERE month(o.order_date) IN (6, 7, 8))
        FROM orders o JOIN tests t ON o.test_id = t.id
        WHERE t.test_name IN ('COVID-19 PCR', 'Influenza A/B PCR')
        """,
    )[0]
    assert winter > 2 * summer


def test_messy_values_are_present(con) -> None:
    assert scalar(con, "SELECT COUNT(*) FROM physicians WHERE specialty IS NULL") == 1
    units = {unit for (unit,) in rows(con, "SELECT DISTINCT unit FROM results")}
    assert {"mg/dL", "mg/dl"} <= units
    assert scalar(con, "SELECT COUNT(*) FROM patients WHERE sex IS NULL") > 0
    assert scalar(con, "SELECT COUNT(*) FROM results WHERE notes = ''") > 0
    assert scalar(con, "SELECT COUNT(*) FROM results WHERE notes = 'N/A'") > 0
    assert scalar(con, "SELECT COUNT(*) FROM results WHERE notes IS NULL") > 0


def test_pending_and_cancelled_orders_are_consistent(con) -> None:
    pending = rows(
        con,
        """
        SELECT DISTINCT o.status, r.status IS NULL, r.resulted_at IS NULL, r.value IS NULL
        FROM results r JOIN orders o ON r.order_id = o.id
        WHERE r.status IS NULL OR r.resulted_at IS NULL OR o.status = 'PENDING'
        """,
    )
    assert pending == [("PENDING", True, True, True)]
    assert scalar(con, "SELECT COUNT(*) FROM orders WHERE status = 'CANCELLED'") > 0
    cancelled_with_result = scalar(
        con,
        "SELECT COUNT(*) FROM orders o JOIN results r ON r.order_id = o.id "
        "WHERE o.status = 'CANCELLED'",
    )
    assert cancelled_with_result == 0
    assert scalar(con, "SELECT COUNT(*) FROM results r RIGHT JOIN orders o "
                  "ON r.order_id = o.id WHERE r.id IS NULL AND o.status <> 'CANCELLED'") == 0  # fmt: skip


def test_times_are_in_order_and_before_the_snapshot(con) -> None:
    bad = scalar(
        con,
        """
        SELECT COUNT(*) FROM results r JOIN orders o ON r.order_id = o.id
        WHERE r.resulted_at IS NOT NULL
          AND NOT (o.order_date <= o.collected_at AND o.collected_at < r.resulted_at
                   AND r.resulted_at <= ?)
        """,
        [datetime(2026, 3, 31, 23, 59, 59)],
    )
    assert bad == 0


def test_flags_and_values_agree_with_status(con) -> None:
    combos = {
        (status, flag) for status, flag in rows(con, "SELECT DISTINCT status, flag FROM results")
    }
    assert combos <= {
        ("NORMAL", None), ("ABNORMAL", "H"), ("ABNORMAL", "L"), ("ABNORMAL", "A"),
        ("CRITICAL", "HH"), ("CRITICAL", "LL"), ("CRITICAL", "A"), (None, None),
    }  # fmt: skip
    outside = rows(
        con,
        """
        SELECT r.flag, COUNT(*) FILTER (WHERE NOT (
            (r.flag IN ('H', 'HH') AND r.value > TRY_CAST(split_part(replace(r.reference_range, '<', '-'), '-', 2) AS DOUBLE))
            OR (r.flag IN ('L', 'LL') AND r.value < TRY_CAST(split_part(r.reference_range, '-', 1) AS DOUBLE))))
        FROM results r WHERE r.flag IN ('H', 'HH', 'L', 'LL') GROUP BY 1
        """,
    )  # fmt: skip
    assert {flag for flag, _ in outside} == {"H", "HH", "L", "LL"}
    assert all(wrong == 0 for _, wrong in outside), outside
