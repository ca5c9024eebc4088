"""The comparator: golden pairs run on a real database, plus the edge cases of values and verdicts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy
import pytest

from tests.labdb import build_lab_database
from workbench.errors import SQLExecutionError
from workbench.sql import Verdict, compare_queries, compare_results, gold_is_ordered, run_gold
from workbench.sql.execute import Database, DuckDBDatabase, QueryResult
from workbench.sql.values import multiset_difference, normalize_value, values_equal

PAIRS_DIR = Path(__file__).parent / "fixtures" / "compare"


@dataclass(frozen=True)
class Pair:
    source: str
    title: str
    equivalent: bool
    reason: str
    gold: str
    pred: str


def load_pairs() -> list[Pair]:
    pairs = []
    for path in sorted(PAIRS_DIR.glob("*.sql")):
        for block in re.split(r"\n\s*\n", path.read_text().strip()):
            lines = block.strip().splitlines()
            title = lines[0].removeprefix("-- ").strip()
            expect = re.fullmatch(r"-- expect: (equivalent|different)(?:: (.*))?", lines[1])
            assert expect, f"{path.name}: pair {title!r} needs an '-- expect:' second line"
            statements = [s.strip() for s in re.split(r";\s*$", "\n".join(lines[2:]), flags=re.M)]
            statements = [s for s in statements if s]
            assert len(statements) == 2, f"{path.name}: pair {title!r} needs gold and prediction"
            pairs.append(
                Pair(
                    path.stem,
                    title,
                    expect.group(1) == "equivalent",
                    expect.group(2) or "",
                    *statements,
                )
            )
    return pairs


PAIRS = load_pairs()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return DuckDBDatabase(build_lab_database(tmp_path_factory.mktemp("compare") / "lab.duckdb"))


def test_there_are_at_least_forty_pairs_of_both_kinds() -> None:
    assert len(PAIRS) >= 40
    assert sum(p.equivalent for p in PAIRS) >= 15
    assert sum(not p.equivalent for p in PAIRS) >= 15


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{p.source}: {p.title}" for p in PAIRS])
def test_golden_pair(pair: Pair, database: Database) -> None:
    verdict = compare_queries(pair.gold, pair.pred, database)
    assert verdict.equivalent is pair.equivalent, verdict.reason
    assert pair.reason in verdict.reason


UNORDERED_MATCHES = [
    p for p in PAIRS if p.equivalent and not gold_is_ordered(p.gold) and not gold_is_ordered(p.pred)
]


@pytest.mark.parametrize("pair", UNORDERED_MATCHES, ids=lambda p: p.title)
def test_equivalence_is_symmetric_without_order(pair: Pair, database: Database) -> None:
    """Swapping gold and prediction keeps an unordered match (order only binds the gold)."""
    assert compare_queries(pair.pred, pair.gold, database).equivalent


def result(columns: tuple[str, ...], rows: list[tuple], *, sql: str = "SELECT 1", truncated=False):
    return QueryResult(sql, sql, columns, tuple(rows), len(rows), truncated, 1.0)


def test_truncated_results_in_memory_are_never_equivalent() -> None:
    """Held in memory a cut result proves nothing; ``compare_queries`` streams them instead."""
    rows = [(i,) for i in range(5)]
    gold = result(("n",), rows)
    verdict = compare_results(gold, result(("n",), rows, truncated=True), ordered=False)
    assert verdict == Verdict(False, verdict.reason) and "cut at 5 rows" in verdict.reason
    verdict = compare_results(result(("n",), rows, truncated=True), gold, ordered=False)
    assert not verdict.equivalent and "compare_queries" in verdict.reason


def test_a_failing_prediction_is_a_verdict(database: Database) -> None:
    verdict = compare_queries("SELECT 1", "SELECT nope FROM labs", database)
    assert not verdict.equivalent
    assert verdict.reason.startswith("the prediction fails")
    refused = compare_queries("SELECT 1", "DROP TABLE labs", database)
    assert not refused.equivalent and "refused" in refused.reason


def test_a_failing_gold_is_an_error(database: Database) -> None:
    with pytest.raises(SQLExecutionError):
        compare_queries("SELECT nope FROM labs", "SELECT 1", database)


def test_near_ties_in_floats_still_pair_up() -> None:
    gold = result(("v", "k"), [(1.0000000001, "b"), (1.0, "a")])
    pred = result(("v", "k"), [(1.0, "b"), (1.0000000001, "a")])
    assert compare_results(gold, pred, ordered=False).equivalent


def test_numpy_and_decimal_values_compare_by_value() -> None:
    gold = result(("a", "b"), [(numpy.int64(3), numpy.float64(0.5))])
    pred = result(("a", "b"), [(Decimal("3.00"), Decimal("0.5000000000001"))])
    assert compare_results(gold, pred, ordered=False).equivalent


def test_many_rows_compare_in_one_pass() -> None:
    rows = [(i, i * 0.1, f"name {i % 97}") for i in range(20_000)]
    shuffled = rows[1::2] + rows[::2]
    assert compare_results(
        result(("a", "b", "c"), rows), result(("a", "b", "c"), shuffled), ordered=False
    ).equivalent
    changed = shuffled[:-1] + [(0, 0.0, "other")]
    verdict = compare_results(
        result(("a", "b", "c"), rows), result(("a", "b", "c"), changed), ordered=False
    )
    assert not verdict.equivalent and "1 gold row not returned" in verdict.reason


@pytest.mark.parametrize(
    ("gold", "pred", "equal"),
    [
        (3, 3.0, True),
        (3, Decimal("3.000"), True),
        (0.1 + 0.2, 0.3, True),
        (1e10, 1e10 * (1 + 1e-12), True),  # floating-point noise
        (1e10, 1e10 + 1, False),  # 1e-10 relative: a real difference, not noise
        (100, 101, False),
        (10**18, 10**18 + 1, False),
        (2.5, 2.50001, False),
        (True, 1, False),
        (None, None, True),
        (None, 0, False),
        (float("nan"), float("nan"), True),
        (float("inf"), float("inf"), True),
        (float("inf"), 1e308, False),
        (date(2026, 1, 1), datetime(2026, 1, 1), True),
        (date(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 1), False),
        (timedelta(days=1), timedelta(hours=24), True),
        (timedelta(seconds=60), 60, False),
        # average intervals from PostgreSQL and DuckDB (edge-011): 12 ms of a day apart
        (
            timedelta(seconds=88295, microseconds=712188),
            timedelta(seconds=88295, microseconds=700000),
            True,
        ),
        (timedelta(days=1), timedelta(days=1, microseconds=86_400), True),  # 1e-6 of a day
        (timedelta(days=1), timedelta(days=1, microseconds=87_000), False),  # just past it
        (timedelta(days=1), timedelta(days=1, seconds=5), False),  # a row more or less
        (timedelta(0), timedelta(microseconds=1), True),  # the engines' resolution
        (timedelta(0), timedelta(microseconds=2), False),
        ("a", "A", False),
        ([1, 2], (1, 2.0), True),
        (b"x", b"x", True),
    ],
)
def test_values_equal(gold: object, pred: object, equal: bool) -> None:
    assert values_equal(normalize_value(gold), normalize_value(pred)) is equal


GOLD_SUM = 5_645_659.27900002
"""``SUM(value)`` over the demo database's results with ``id <= 100000``."""


@pytest.mark.parametrize(
    ("gold", "pred", "equal"),
    [
        # Floating-point noise: a relative difference of 1e-11 or less is forgiven ...
        (GOLD_SUM, GOLD_SUM * (1 + 0.9e-11), True),
        (123_456.789012345, 123_456.789012345 * (1 - 0.9e-11), True),
        # ... anything larger is not: here one row of 0.03 is missing from the sum.
        (GOLD_SUM, GOLD_SUM - 0.03, False),
        (123_456.789012345, 123_456.789012345 * (1 + 1.1e-11), False),
        # A float rounded to 6 decimals equals it when the value is 1 or more in size ...
        (123.456789123, 123.456789, True),
        (1.0000004, 1.0, True),
        (-42.1234565001, -42.123457, True),
        (Decimal("123.456789"), 123.45678912345, True),
        # ... but not rounded to 5 decimals, not a wrong sixth decimal, not a small value.
        (123.456789123, 123.45679, False),
        (123.4567891, 123.45679, False),
        (0.123456789, 0.123457, False),
        (0.000000123, 0.0, False),
        # Noise around zero.
        (0.0, 1e-13, True),
        (0.0, 1e-11, False),
    ],
)
def test_float_tolerance_forgives_noise_and_six_decimals_but_no_contribution(
    gold: object, pred: object, equal: bool
) -> None:
    assert values_equal(normalize_value(gold), normalize_value(pred)) is equal
    assert values_equal(normalize_value(pred), normalize_value(gold)) is equal


def test_a_row_missing_from_a_large_float_sum_is_found_among_many_rows() -> None:
    gold = result(("lab", "total"), [(f"lab {i}", GOLD_SUM + i) for i in range(50)])
    pred = result(
        ("lab", "total"), [(f"lab {i}", GOLD_SUM + i - 0.03 * (i == 7)) for i in range(50)]
    )
    verdict = compare_results(gold, pred, ordered=False)
    assert not verdict.equivalent
    assert "1 gold row not returned, such as ('lab 7', 5645666.27900002)" in verdict.reason


def test_multiset_difference_names_both_sides() -> None:
    missing, extra = multiset_difference([(1,), (1,), (2,)], [(1,), (2,), (3,)])
    assert missing == [(1,)] and extra == [(3,)]


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM t", False),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a) s", False),
        ("WITH x AS (SELECT a FROM t ORDER BY a) SELECT a FROM x", False),
        ("WITH x AS (SELECT a FROM t) SELECT a FROM x ORDER BY a DESC", True),
        ("SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM t", False),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("(SELECT a FROM t ORDER BY a)", True),
    ],
)
def test_gold_is_ordered_looks_only_at_the_outermost_query(sql: str, ordered: bool) -> None:
    assert gold_is_ordered(sql) is ordered


def test_ordered_match_tries_every_pairing_of_equal_columns() -> None:
    gold = result(("a", "b"), [(1, 2), (2, 1)], sql="SELECT a, b FROM t ORDER BY a")
    pred = result(("b", "a"), [(2, 1), (1, 2)], sql="SELECT b, a FROM t ORDER BY a")
    verdict = compare_results(gold, pred, ordered=True)
    assert verdict.equivalent, verdict.reason
    assert "columns matched by value: a→a, b→b" in verdict.reason


def test_ordered_mismatch_shows_the_row_in_gold_column_order() -> None:
    gold = result(("n", "name"), [(3, "x"), (2, "y")], sql="SELECT n, name FROM t ORDER BY n DESC")
    pred = result(("name", "n"), [("y", 2), ("x", 3)], sql="SELECT name, n FROM t")
    verdict = compare_results(gold, pred, ordered=True)
    assert verdict == Verdict(
        False,
        "gold is ordered, prediction is not (same rows, no ORDER BY); "
        "row 1 differs: gold (3, 'x') vs prediction (2, 'y')",
    )


LABS_BY_REGION = "SELECT lab_name FROM labs ORDER BY region"


def test_ties_on_a_hidden_key_may_come_in_any_order_when_the_keys_are_known() -> None:
    gold = result(("lab_name",), [("Midwest",), ("Summit",), ("Riverside",), ("Valley",)],
                  sql=LABS_BY_REGION)  # fmt: skip
    keys = [("Midwest",), ("Mountain",), ("West",), ("West",)]
    tied = result(("lab_name",), [("Midwest",), ("Summit",), ("Valley",), ("Riverside",)],
                  sql=LABS_BY_REGION + ", lab_name DESC")  # fmt: skip
    verdict = compare_results(gold, tied, ordered=True, keys=keys)
    assert verdict.equivalent, verdict.reason
    assert "in the same order" not in verdict.reason
    crossed = result(("lab_name",), [("Summit",), ("Midwest",), ("Riverside",), ("Valley",)],
                     sql=LABS_BY_REGION + " DESC")  # fmt: skip
    verdict = compare_results(gold, crossed, ordered=True, keys=keys)
    assert verdict == Verdict(
        False,
        "same rows in a different order; row 1 differs: gold ('Midwest') vs prediction ('Summit')",
    )


def test_without_its_hidden_keys_an_ordered_gold_is_compared_as_a_bag_and_says_so() -> None:
    gold = result(("lab_name",), [("Midwest",), ("Summit",)], sql=LABS_BY_REGION)
    pred = result(("lab_name",), [("Summit",), ("Midwest",)], sql=LABS_BY_REGION + " DESC")
    verdict = compare_results(gold, pred, ordered=True)
    assert verdict.equivalent
    assert "the order was not checked" in verdict.reason


def test_tied_rows_in_another_order_are_not_called_the_same_order() -> None:
    sql = "SELECT x, g FROM t ORDER BY x DESC"
    gold = result(("x", "g"), [(2, "a"), (2, "c"), (1, "b")], sql=sql)
    same = compare_results(gold, result(("x", "g"), [(2, "a"), (2, "c"), (1, "b")]), ordered=True)
    assert same == Verdict(True, "same 3 rows in the same order")
    swapped = compare_results(
        gold, result(("x", "g"), [(2, "c"), (2, "a"), (1, "b")], sql=sql + ", g DESC"), ordered=True
    )
    assert swapped.equivalent
    assert swapped.reason == (
        "same 3 rows in the gold's order; rows that tie on its ORDER BY keys come in another "
        "order, which the gold leaves open"
    )


def test_hidden_keys_are_computed_by_running_the_gold_with_them(database: Database) -> None:
    gold = run_gold(LABS_BY_REGION, database)
    assert gold.ordered and gold.result.columns == ("lab_name",)
    assert [key[0] for key in gold.keys] == ["Midwest", "Mountain", "West", "West"]
    assert [row[0] for row in gold.result.rows][:2] == ["Midwest Diagnostics", "Summit Diagnostics"]
