"""The ablation's pure parts: which stages get a leave-one-out row, what goes unchecked."""

from __future__ import annotations

from tests.smoke_script import SUITE
from workbench.experiments.ablation import (
    ablation_variants,
    budget_verdicts,
    unchecked_expectations,
)
from workbench.prompts import load_prompt_set
from workbench.prompts.variants import apply_variant, find_variant, inline_variant
from workbench.settings import PROJECT_ROOT

SHIPPED = load_prompt_set(PROJECT_ROOT / "prompts")


def test_every_stage_but_the_sql_and_the_narrative_gets_a_row() -> None:
    variants, skipped = ablation_variants(SHIPPED)
    assert [v.leave_out for v in variants] == [
        ("date_normalization",), ("noise_removal",), ("query_normalizer",),
        ("reference_normalizer",), ("misc_cleanup",),
    ]  # fmt: skip
    assert "nothing to judge" in skipped["sql_generation"]
    assert "leaves the narrative out" in skipped["narrative"]


def test_expectations_on_a_left_out_stage_are_warned_about() -> None:
    without = apply_variant(SHIPPED, inline_variant(["noise_removal"])).prompts
    cases = [c for c in SUITE if any(e.stage == "noise_removal" for e in c.expect)]
    (warning,) = unchecked_expectations(SHIPPED, without, SUITE)
    assert warning.startswith(f"{len(cases)} cases expect something of noise_removal")
    assert unchecked_expectations(SHIPPED, SHIPPED, SUITE) == []


def test_a_merged_stage_is_measured_as_merged() -> None:
    merged = apply_variant(
        SHIPPED, find_variant(PROJECT_ROOT / "prompts", "merge-reference-cleanup")
    )
    verdicts = budget_verdicts(merged.prompts)
    assert "misc_cleanup" not in verdicts
    assert set(verdicts) == {s.id for s in merged.prompts.stages}
    assert set(verdicts.values()) <= {"ok", "warn", "over"}
