"""The budget thresholds file: defaults, profile choice, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import PromptError
from workbench.prompts.budget import budget_text
from workbench.prompts.thresholds import DEFAULT_CONFIG, choose_profile, load_budget_config
from workbench.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("front", "profile"),
    [
        ({"mode": "think"}, "qwen3-think"),
        ({"mode": "no_think"}, "qwen3-32b-no-think"),
        ({"mode": "gated"}, "qwen3-32b-no-think"),
        ({}, "qwen3-32b-no-think"),
        ({"mode": "gated", "budget_profile": "qwen3-think"}, "qwen3-think"),
    ],
)
def test_profile_choice(front: dict, profile: str) -> None:
    assert choose_profile(front, DEFAULT_CONFIG) == profile


def test_unknown_budget_profile_names_the_key() -> None:
    with pytest.raises(PromptError, match="budget_profile 'gpt' .*qwen3-think"):
        budget_text("---\nid: t\nbudget_profile: gpt\n---\n", path="x.md")


def test_the_starter_thresholds_are_the_defaults() -> None:
    assert load_budget_config(PROJECT_ROOT / "starter" / "prompts" / "budget.yaml") == (
        DEFAULT_CONFIG
    )


def test_the_demo_s_thresholds_are_the_defaults_plus_its_codes() -> None:
    demo = load_budget_config(PROJECT_ROOT / "prompts" / "budget.yaml")
    assert {"CBC", "LOINC", "COVID"} <= set(demo.acronyms)
    assert demo.model_copy(update={"acronyms": DEFAULT_CONFIG.acronyms}) == DEFAULT_CONFIG


def test_missing_thresholds_file_gives_defaults(tmp_path: Path) -> None:
    assert load_budget_config(tmp_path / "budget.yaml") == DEFAULT_CONFIG


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "default_profiles: {no_think: a, think: a}\nprofiles: {a: {tokens: {warn_at: 1, ovr_at: 2}}}\n",
            r"profiles\.a\.tokens\.ovr_at",
        ),
        (
            "default_profiles: {no_think: a, think: a}\nprofiles: {a: {rules: {warn_at: 9, over_at: 3}}}\n",
            r"profiles\.a\.rules.*warn_at \(9\) must not exceed over_at \(3\)",
        ),
        (
            "default_profiles: {no_think: a, think: b}\nprofiles: {a: {}}\n",
            r"default_profiles\.think names 'b'",
        ),
        ("default_profiles: [\n", r"budget\.yaml:2: not valid YAML"),
        ("profiles: {}\n", r"default_profiles"),
    ],
)
def test_malformed_thresholds_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "budget.yaml"
    path.write_text(content)
    with pytest.raises(PromptError, match=message) as caught:
        load_budget_config(path)
    assert str(path) in str(caught.value)
