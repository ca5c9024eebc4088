"""The gold linter: each rule flags the unsound gold and passes its sound twin, on a small
DuckDB database whose rows are written here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from workbench.diagnosis.gold import RULES, GoldRun, lint_gold
from workbench.sql import DuckDBDatabase, run_gold


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBDatabase]:
    path = tmp_path_factory.mktemp("gold") / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE item (id INTEGER, name VARCHAR, price INTEGER, code VARCHAR, "
            "shelf INTEGER)"
        )
        con.execute(
            "INSERT INTO item VALUES (1, 'apple', 3, '9', 1), (2, 'pear', 12, '10', NULL), "
            "(3, 'plum', 7, '100', 2), (4, 'fig', 20, '8', 3)"
        )
    yield DuckDBDatabase(path)


def rules(database: DuckDBDatabase, question: str, gold_sql: str, **options: object) -> list[str]:
    runs = [GoldRun("the main database", run_gold(gold_sql, database))]
    return [rule for rule, _ in lint_gold(question, gold_sql, runs, **options)]  # type: ignore[arg-type]


SOUND = "SELECT name, price FROM item ORDER BY price DESC, name"


@pytest.mark.parametrize(
    ("rule", "question", "unsound", "sound", "options"),
    [
        (
            "empty-everywhere",
            "Which items cost over 100?",
            "SELECT name FROM item WHERE price > 100",
            "SELECT name FROM item WHERE price > 10",
            {},
        ),
        (
            "order-missing",
            "List the items from highest to lowest price.",
            "SELECT name, price FROM item",
            SOUND,
            {},
        ),
        (
            "nulls-in-sort-key",
            "List the items by shelf.",
            "SELECT name, shelf FROM item ORDER BY shelf DESC",
            "SELECT name, shelf FROM item ORDER BY shelf DESC NULLS LAST",
            {},
        ),
        (
            "text-sorted-numbers",
            "List the items sorted by code.",
            "SELECT name, code FROM item ORDER BY code",
            "SELECT name, code FROM item ORDER BY CAST(code AS INTEGER)",
            {},
        ),
        (
            "nondeterministic",
            "Which items are there today?",
            "SELECT name FROM item WHERE DATE '2026-03-31' <= current_date",
            "SELECT name FROM item WHERE DATE '2026-03-31' <= DATE '2026-03-31'",
            {"as_of": date(2026, 3, 31)},
        ),
    ],
)
def test_each_rule_flags_the_unsound_gold_and_passes_the_sound_one(
    shop: DuckDBDatabase, rule: str, question: str, unsound: str, sound: str, options: dict
) -> None:
    assert rule in RULES
    assert rules(shop, question, unsound, **options) == [rule]
    assert rules(shop, question, sound, **options) == []


def test_numbers_as_text_of_one_width_are_codes_and_sort_alike(shop: DuckDBDatabase) -> None:
    gold = "SELECT code FROM item WHERE length(code) = 1 ORDER BY code"
    assert rules(shop, "List the codes sorted.", gold) == []


def test_random_and_now_are_named_with_the_as_of_literal(shop: DuckDBDatabase) -> None:
    gold = "SELECT name FROM item ORDER BY random()"
    runs = [GoldRun("the main database", run_gold(gold, shop))]
    [(rule, message)] = lint_gold("Pick items", gold, runs, as_of=date(2026, 3, 31))
    assert rule == "nondeterministic"
    assert "random()" in message and "'2026-03-31'" in message


def test_a_top_n_per_group_question_needs_no_order(shop: DuckDBDatabase) -> None:
    gold = (
        "SELECT shelf, name FROM (SELECT shelf, name, ROW_NUMBER() OVER (PARTITION BY shelf "
        "ORDER BY price DESC) AS rn FROM item) WHERE rn = 1"
    )
    assert rules(shop, "What is the highest priced item on each shelf?", gold) == []


def test_an_empty_expected_case_with_a_wrong_reading_is_sound(shop: DuckDBDatabase) -> None:
    gold = "SELECT name FROM item WHERE price > 100"
    question = "Which items cost over 100?"
    assert rules(shop, question, gold, empty_expected=True) == ["empty-everywhere"]
    assert rules(shop, question, gold, empty_expected=True, has_wrong_sql=True) == []


def test_rows_on_one_database_are_enough(shop: DuckDBDatabase, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE item (name VARCHAR, price INTEGER)")
        con.execute("INSERT INTO item VALUES ('gold bar', 500)")
    gold = "SELECT name FROM item WHERE price > 100"
    runs = [
        GoldRun("the main database", run_gold(gold, shop)),
        GoldRun("variant", run_gold(gold, DuckDBDatabase(other))),
    ]
    assert lint_gold("Which items cost over 100?", gold, runs) == []


def test_a_gold_over_the_row_cap_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE n AS SELECT range AS i FROM range(50)")
    database = DuckDBDatabase(path, row_cap=10)
    assert rules(database, "List every number.", "SELECT i FROM n") == ["over-row-cap"]
    assert rules(database, "How many numbers?", "SELECT count(*) FROM n") == []
