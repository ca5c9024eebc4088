"""Results larger than the row cap: compared in full, streamed, under the comparator's rules.

The test database has 300 orders; a row cap of 10 makes every result here "large".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.labdb import build_lab_database
from workbench.errors import SQLExecutionError
from workbench.sql import Database, DuckDBDatabase, compare_queries
from workbench.sql.large import compare_large


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path = build_lab_database(tmp_path_factory.mktemp("large") / "lab.duckdb")
    return DuckDBDatabase(path, row_cap=10)


@pytest.mark.parametrize(
    ("gold", "pred", "reason"),
    [
        (
            "SELECT id, order_date FROM orders",
            "SELECT order_date, id FROM orders ORDER BY id DESC",
            "same 300 rows (columns matched by value: id→id, order_date→order_date)",
        ),
        ("SELECT id, value FROM results", "SELECT id, value + 1e-13 FROM results", "same 300 rows"),
        (
            "SELECT o.id, o.order_date FROM orders o",
            "SELECT id, CAST(order_date AS TIMESTAMP) FROM orders",
            "same 300 rows",
        ),
        ("SELECT status FROM results", "SELECT status FROM results ORDER BY 1", "same 300 rows"),
        ("SELECT id FROM orders ORDER BY id", "SELECT id FROM orders ORDER BY -id DESC",
         "same 300 rows in the same order"),
        (
            "SELECT id FROM orders ORDER BY lab_id",
            "SELECT id FROM orders ORDER BY lab_id, id DESC",
            "same 300 rows in the gold's order",
        ),
    ],
)  # fmt: skip
def test_large_equal_results_are_equivalent(
    gold: str, pred: str, reason: str, database: Database
) -> None:
    verdict = compare_queries(gold, pred, database)
    assert verdict.equivalent, verdict.reason
    assert verdict.reason.startswith(reason)


@pytest.mark.parametrize(
    ("gold", "pred", "reason"),
    [
        (
            "SELECT id FROM orders",
            "SELECT id FROM orders WHERE id <> 150",
            "prediction has 299 rows, gold has 300; gold rows missing such as (150)",
        ),
        (
            "SELECT id FROM orders WHERE id < 290",
            "SELECT id FROM orders",
            "prediction has 300 rows, gold has 289; prediction returns 11 extra rows such as (290)",
        ),
        (
            "SELECT id, status FROM results",
            "SELECT id, CASE WHEN id = 7 THEN 'NORMAL' ELSE status END FROM results",
            "same number of rows but different values: 1 gold row not returned, such as "
            "(7, 'CRITICAL'); the prediction returns instead rows such as (7, 'NORMAL')",
        ),
        (
            "SELECT id, value FROM results",
            "SELECT id, ROUND(value, 1) FROM results",
            "looks rounded",
        ),
        (
            "SELECT id FROM orders ORDER BY id",
            "SELECT id FROM orders ORDER BY id DESC",
            "same rows in a different order; row 1 differs: gold (1) vs prediction (300)",
        ),
        (
            "SELECT id FROM orders ORDER BY lab_id",
            "SELECT id FROM orders ORDER BY lab_id DESC",
            "same rows in a different order; row 1 differs",
        ),
        ("SELECT id FROM orders", "SELECT id, id FROM orders", "prediction has 1 extra column"),
        ("SELECT id FROM orders", "SELECT nope FROM orders", "the prediction fails"),
    ],
)
def test_large_different_results_are_told_apart_with_a_reason(
    gold: str, pred: str, reason: str, database: Database
) -> None:
    verdict = compare_queries(gold, pred, database)
    assert not verdict.equivalent
    assert reason in verdict.reason


def test_a_gold_under_the_cap_against_a_prediction_over_it_counts_both(database: Database) -> None:
    verdict = compare_queries("SELECT id FROM labs", "SELECT id FROM orders", database)
    assert verdict.reason.startswith("prediction has 300 rows, gold has 4")


def test_the_result_is_the_same_as_in_memory(database: Database) -> None:
    """The streamed comparison agrees with the in-memory one when both can run."""
    uncapped = replace(database, row_cap=10_000)
    for gold, pred in [
        ("SELECT id, value FROM results", "SELECT id, value FROM results WHERE id <> 7"),
        ("SELECT lab_id, COUNT(*) FROM orders GROUP BY 1", "SELECT lab_id, COUNT(*) FROM orders GROUP BY 1"),
        ("SELECT id FROM orders ORDER BY id", "SELECT id FROM orders ORDER BY id DESC"),
    ]:  # fmt: skip
        in_memory = compare_queries(gold, pred, uncapped)
        assert compare_large(gold, pred, database) == in_memory


def test_results_larger_than_the_cap_on_the_demo_database(demo_database: Path) -> None:
    database = DuckDBDatabase(demo_database)  # the default row cap of 10,000
    gold = "SELECT r.id, r.value FROM results r WHERE r.status <> 'NORMAL'"
    same = (
        "SELECT res.value, res.id FROM results res JOIN orders o ON res.order_id = o.id "
        "WHERE res.status IN ('ABNORMAL', 'CRITICAL')"
    )
    verdict = compare_queries(gold, same, database)
    assert verdict.equivalent, verdict.reason
    count = int(verdict.reason.split()[1])
    assert count > database.row_cap
    dropped = gold + " AND r.id <> (SELECT MAX(id) FROM results WHERE status = 'CRITICAL')"
    verdict = compare_queries(gold, dropped, database)
    assert verdict.reason.startswith(f"prediction has {count - 1} rows, gold has {count}")


def test_a_prediction_failing_while_streamed_is_a_verdict_and_a_gold_an_error(
    database: Database,
) -> None:
    fails = "SELECT id, CAST(CASE WHEN id = 250 THEN 'x' ELSE '1' END AS INTEGER) FROM orders"
    verdict = compare_large("SELECT id, 1 FROM orders", fails, database)
    assert not verdict.equivalent
    assert verdict.reason.startswith("the prediction fails: DuckDB rejected the query")
    with pytest.raises(SQLExecutionError, match="DuckDB rejected the gold query"):
        compare_large(fails, "SELECT id, 1 FROM orders", database)
