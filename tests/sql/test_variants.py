"""Variant databases: built once per seed, cached beside the demo database, only for it."""

from __future__ import annotations

from pathlib import Path

from workbench.settings import Settings
from workbench.sql import DuckDBDatabase, Variant, build_variant_databases, variants_for
from workbench.sql.demo import demo_database_path
from workbench.sql.schema import table_counts


def test_variants_are_cached_beside_the_demo_database_and_differ_from_it(
    demo_settings: Settings, demo_database: Path, demo_variants: tuple[Variant, ...]
) -> None:
    assert [v.name for v in demo_variants] == [
        f"seed {demo_settings.demo_seed + n}" for n in (1, 2, 3)
    ]
    paths = [v.database.path for v in demo_variants]
    assert all(p.parent == demo_database.parent for p in paths)
    assert len({*paths, demo_database}) == 4
    main_counts = table_counts(demo_database)
    for path in paths:
        counts = table_counts(path)
        assert counts["labs"] == main_counts["labs"]  # reference rows are the generator's own
        assert counts["orders"] != main_counts["orders"]  # activity is another draw


def test_a_second_build_reuses_every_variant(
    demo_settings: Settings, demo_variants: tuple[Variant, ...]
) -> None:
    again = build_variant_databases(demo_settings)
    assert [b.path for b in again] == [v.database.path for v in demo_variants]
    assert not any(b.built for b in again)


def test_variants_belong_to_the_demo_database_only(
    demo_settings: Settings, demo_variants: tuple[Variant, ...], tmp_path: Path
) -> None:
    demo = DuckDBDatabase.from_settings(demo_settings, demo_database_path(demo_settings))
    assert variants_for(demo_settings, demo) == demo_variants
    assert variants_for(demo_settings, DuckDBDatabase(tmp_path / "mine.duckdb")) == ()
    none = demo_settings.model_copy(update={"demo_variants": 0})
    assert variants_for(none, demo) == ()
