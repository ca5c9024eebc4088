"""Judging on several databases: the main one, then the demo generator's other seeds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from workbench.settings import Settings
from workbench.sql import DuckDBDatabase, Variant, compare_queries, variant_seeds

ORDERS_OF_PATIENT = (
    "SELECT o.id, o.order_date FROM orders o JOIN patients p ON o.patient_id = p.id "
    "WHERE p.patient_name = '{name}'"
)
ORDERS_OF_PHYSICIAN = (
    "SELECT o.id, o.order_date FROM orders o JOIN physicians ph ON o.physician_id = ph.id "
    "WHERE ph.physician_name = '{name}'"
)


def patient_names(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            row[0] for row in connection.execute("SELECT patient_name FROM patients").fetchall()
        }


def test_equal_by_coincidence_on_the_main_database_is_a_fail_that_names_the_variant(
    demo_database: Path, demo_variants: tuple[Variant, ...]
) -> None:
    """A patient the main database lacks: a query that reads the name as a physician's returns
    no rows there as well, but not on a variant that has the patient."""
    first = demo_variants[0]
    name = sorted(patient_names(first.database.path) - patient_names(demo_database))[0]
    gold, pred = ORDERS_OF_PATIENT.format(name=name), ORDERS_OF_PHYSICIAN.format(name=name)
    main = DuckDBDatabase(demo_database)
    alone = compare_queries(gold, pred, main)  # what one database says: nothing either way
    assert alone.undetermined and not alone.equivalent

    verdict = compare_queries(gold, pred, main, variants=demo_variants)
    assert not verdict.equivalent
    assert verdict.database == first.name
    assert verdict.reason.startswith(
        f"differs on variant database {first.name}: prediction has 0 rows, gold has "
    )
    assert verdict.reason.endswith("; on the main database both return no rows")


def test_agreement_on_every_database_is_equivalent_and_says_where(
    demo_database: Path, demo_variants: tuple[Variant, ...]
) -> None:
    gold = "SELECT t.test_name, COUNT(*) FROM orders o JOIN tests t ON o.test_id = t.id GROUP BY 1"
    pred = "SELECT COUNT(*), (SELECT test_name FROM tests WHERE id = test_id) FROM orders GROUP BY test_id"
    verdict = compare_queries(gold, pred, DuckDBDatabase(demo_database), variants=demo_variants)
    assert verdict.equivalent, verdict.reason
    names = ", ".join(v.name for v in demo_variants)
    assert verdict.reason.endswith(
        f"; the same on {len(demo_variants)} variant databases ({names})"
    )


def test_a_variant_where_the_gold_fails_is_skipped_and_named(
    demo_database: Path, demo_variants: tuple[Variant, ...]
) -> None:
    """Integer division by a count that is zero where the patient does not exist."""
    names = patient_names(demo_database)
    for variant in demo_variants:
        names -= patient_names(variant.database.path)
    name = sorted(names)[0]
    gold = (
        "SELECT 1000 / COUNT(*) FROM orders o JOIN patients p ON o.patient_id = p.id "
        f"WHERE p.patient_name = '{name}'"
    )
    verdict = compare_queries(gold, gold, DuckDBDatabase(demo_database), variants=demo_variants[:1])
    assert verdict.equivalent
    assert f"not judged on variant database {demo_variants[0].name} (the gold fails there: " in (
        verdict.reason
    )


def test_a_difference_on_the_main_database_needs_no_variant(demo_database: Path) -> None:
    missing = Variant("seed 0", DuckDBDatabase(Path("/nonexistent.duckdb")))
    verdict = compare_queries(
        "SELECT 1", "SELECT 2", DuckDBDatabase(demo_database), variants=[missing]
    )
    assert not verdict.equivalent and verdict.database is None


def test_variant_seeds_follow_the_demo_seed() -> None:
    settings = Settings(demo_seed=100, demo_variants=3)
    assert variant_seeds(settings) == (101, 102, 103)
    assert variant_seeds(settings.model_copy(update={"demo_variants": 0})) == ()


@pytest.mark.parametrize("count", [-1, 21])
def test_the_number_of_variants_is_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="demo_variants"):
        Settings(demo_variants=count)


def test_no_rows_on_every_database_is_undetermined_not_equivalent(
    demo_database: Path, demo_variants: tuple[Variant, ...]
) -> None:
    gold = ORDERS_OF_PATIENT.format(name="Zelda Fitzgerald")
    pred = "SELECT id, order_date FROM orders WHERE 1 = 0"
    verdict = compare_queries(gold, pred, DuckDBDatabase(demo_database), variants=demo_variants)
    assert verdict.undetermined and not verdict.equivalent
    assert verdict.reason.startswith(
        f"undetermined: the gold and the prediction both return no rows on all "
        f"{len(demo_variants) + 1} databases judged"
    )
    rows = "SELECT id, order_date FROM orders LIMIT 3"
    different = compare_queries(gold, rows, DuckDBDatabase(demo_database), variants=demo_variants)
    assert not different.equivalent and not different.undetermined


def test_the_order_of_a_set_operation_is_judged(demo_database: Path) -> None:
    gold = "SELECT lab_name AS name FROM labs UNION ALL SELECT test_name FROM tests ORDER BY name"
    database = DuckDBDatabase(demo_database)
    assert compare_queries(gold, gold, database).equivalent
    reverse = gold.replace("ORDER BY name", "ORDER BY name DESC")
    verdict = compare_queries(gold, reverse, database)
    assert not verdict.equivalent, verdict.reason
