"""Pipeline variants: reading a variant file, applying it, and what is refused (with where)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.errors import ConfigError, PromptError
from workbench.prompts import load_prompt_set
from workbench.prompts.variants import (
    apply_variant,
    find_variant,
    inline_variant,
    list_variants,
    load_variant,
    variant_from_dict,
)
from workbench.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "prompts"


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    shutil.copytree(SHIPPED, folder)
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_variants_load_and_apply_without_touching_the_stages() -> None:
    base = load_prompt_set(SHIPPED)
    assert len(base.stages) == 7  # variants/ is not read as stages
    variants = {v.name: v for v in list_variants(SHIPPED)}
    assert set(variants) == {"no-noise-removal", "merge-reference-cleanup"}
    without = apply_variant(base, variants["no-noise-removal"]).prompts
    assert "noise_removal" not in [s.id for s in without.stages]
    assert without.hash != base.hash
    assert without.variant is not None and without.variant["name"] == "no-noise-removal"


def test_merging_concatenates_bodies_and_examples_under_the_first_front_matter() -> None:
    base = load_prompt_set(SHIPPED)
    applied = apply_variant(base, find_variant(SHIPPED, "merge-reference-cleanup"))
    reference, cleanup = base.stage("reference_normalizer"), base.stage("misc_cleanup")
    assert reference is not None and cleanup is not None
    merged = applied.prompts.stage("reference_normalizer")
    assert merged is not None and applied.prompts.stage("misc_cleanup") is None
    assert merged.body.startswith(reference.body.rstrip()) and merged.body.endswith(cleanup.body)
    assert merged.examples == reference.examples + cleanup.examples
    assert (merged.order, merged.mode, merged.gate) == (reference.order, "no_think", None)
    assert merged.content_hash != reference.content_hash
    assert applied.notes and "gate gate1" in applied.notes[0] and "dropped" in applied.notes[0]


def test_swap_reads_another_file_and_keeps_the_stage_id_and_order(prompts: Path) -> None:
    alternative = (prompts / "02_noise.md").read_text(encoding="utf-8")
    alternative = alternative.replace("id: noise_removal", "id: terse").replace(
        "You clean a question", "You tidy a question"
    )
    write(prompts / "variants" / "alt" / "noise.md", alternative)
    variant = write(
        prompts / "variants" / "terse.yaml", "name: terse\nswap:\n  noise_removal: alt/noise.md\n"
    )
    applied = apply_variant(load_prompt_set(prompts), load_variant(variant)).prompts
    swapped = applied.stage("noise_removal")
    assert swapped is not None and swapped.order == 2 and swapped.body.startswith("You tidy")


def test_a_variant_file_error_names_its_line(prompts: Path) -> None:
    path = write(
        prompts / "variants" / "bad.yaml", "name: bad\nleave_out: [noise_removal]\nmerge: x\n"
    )
    with pytest.raises(PromptError, match=r"bad.yaml:3: invalid variant: merge"):
        load_variant(path)
    unknown = write(
        prompts / "variants" / "u.yaml", "name: u\nleave_out:\n  - noise_removal\n  - nosie\n"
    )
    with pytest.raises(PromptError, match=r"u.yaml:4: no stage 'nosie' in the prompt set"):
        apply_variant(load_prompt_set(prompts), load_variant(unknown))


def test_the_sql_stage_cannot_be_left_out_and_nothing_is_refused_silently(prompts: Path) -> None:
    path = write(
        prompts / "variants" / "nosql.yaml", "name: nosql\nleave_out:\n  - sql_generation\n"
    )
    with pytest.raises(
        PromptError, match=r"nosql.yaml:3: leaving out sql_generation leaves nothing"
    ):
        apply_variant(load_prompt_set(prompts), load_variant(path))
    with pytest.raises(PromptError, match="changes nothing"):
        apply_variant(
            load_prompt_set(prompts), load_variant(write(prompts / "n.yaml", "name: n\n"))
        )


def test_leaving_out_a_cited_stage_names_the_citing_file_and_line(prompts: Path) -> None:
    reference = prompts / "04_reference.md"
    text = reference.read_text(encoding="utf-8").replace(
        "variables: []", "variables: [noise_removal]"
    )
    reference.write_text(
        text + "\nThe question before its cleaning: {{noise_removal}}\n", encoding="utf-8"
    )
    line = text.count("\n") + 2
    base = load_prompt_set(prompts)
    with pytest.raises(PromptError) as caught:
        apply_variant(base, inline_variant(["noise_removal"]))
    assert str(caught.value) == (
        f"leaving out noise_removal empties {{{{noise_removal}}}} in 04_reference.md (line {line}); "
        "leave that stage out too or drop the variable (a command-line variant)"
    )
    both = apply_variant(base, inline_variant(["noise_removal", "reference_normalizer"]))
    assert [s.id for s in both.prompts.stages][:3] == [
        "date_normalization",
        "query_normalizer",
        "misc_cleanup",
    ]


def test_merges_must_be_adjacent_and_of_one_kind() -> None:
    base = load_prompt_set(SHIPPED)
    with pytest.raises(PromptError, match="not next to each other"):
        apply_variant(base, inline_variant(merge=["noise_removal+reference_normalizer"]))
    with pytest.raises(PromptError, match=r"misc_cleanup \(rewrite\) with sql_generation \(sql\)"):
        apply_variant(base, inline_variant(merge=["misc_cleanup+sql_generation"]))
    with pytest.raises(ConfigError, match="is not --merge A\\+B"):
        inline_variant(merge=["noise_removal"])


def test_a_recorded_variant_applies_again_and_unknown_names_list_the_known() -> None:
    base = load_prompt_set(SHIPPED)
    variant = find_variant(SHIPPED, "no-noise-removal")
    again = variant_from_dict(variant.to_dict())
    assert apply_variant(base, again).prompts.hash == apply_variant(base, variant).prompts.hash
    with pytest.raises(
        ConfigError, match="no variant 'nope'.*merge-reference-cleanup, no-noise-removal"
    ):
        find_variant(SHIPPED, "nope")
