"""Variant databases: the demo generator run with other seeds, to catch coincidental equality.

A wrong query can return what the gold returns on one database by chance: two filters that
both match nothing, a count that happens to agree. As Spider's test-suite accuracy does, a
prediction is therefore judged on several databases of the same schema and called equivalent
only when it agrees with the gold on all of them. The variants are the demo generator with
seeds ``WORKBENCH_DEMO_SEED + 1`` to ``+ WORKBENCH_DEMO_VARIANTS``: the same tables, reference
rows and planted facts, other activity rows. Each is built once and cached next to the demo database, like it.

Variants exist only for the demo database: another database has no generator to vary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.sql.demo import DemoBuild, build_demo_database, demo_database_path
from workbench.sql.execute import Database, DuckDBDatabase

if TYPE_CHECKING:
    from workbench.settings import Settings


@dataclass(frozen=True)
class Variant:
    """A database a verdict is also checked on, and how a reason names it."""

    name: str
    database: Database


def variant_seeds(settings: Settings) -> tuple[int, ...]:
    """The seeds of the demo database's variants."""
    return tuple(settings.demo_seed + n for n in range(1, settings.demo_variants + 1))


def build_variant_databases(settings: Settings, *, force: bool = False) -> tuple[DemoBuild, ...]:
    """Build (or reuse) every variant of the demo database, one after the other.

    Raises:
        ConfigError: the data directory cannot be written, or a seed cannot produce the
            planted facts.
    """
    return tuple(
        build_demo_database(_with_seed(settings, seed), force=force)
        for seed in variant_seeds(settings)
    )


def demo_variants(settings: Settings) -> tuple[Variant, ...]:
    """The demo database's variants (built when missing), with the settings' query limits."""
    builds = build_variant_databases(settings)
    return tuple(
        Variant(f"seed {seed}", DuckDBDatabase.from_settings(settings, build.path))
        for seed, build in zip(variant_seeds(settings), builds, strict=True)
    )


def variants_for(settings: Settings, database: Database) -> tuple[Variant, ...]:
    """The variants to judge on beside ``database``: the demo variants when it is the demo
    database, none otherwise."""
    if isinstance(database, DuckDBDatabase) and _same_file(
        database.path, demo_database_path(settings)
    ):
        return demo_variants(settings)
    return ()


def _with_seed(settings: Settings, seed: int) -> Settings:
    return settings.model_copy(update={"demo_seed": seed})


def _same_file(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
