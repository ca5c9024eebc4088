"""The thresholds of the prompt budget: ``prompts/budget.yaml`` and its defaults.

A profile holds one band per measure for one model and mode. The defaults
are those known for Qwen3-32B without thinking (at most three macro-tasks, two
for a hard task; about 40 related rules within one macro-task and about 20
unrelated ones; 3,000 to 6,000 tokens as the band where sag may begin), and a
looser profile for thinking prompts. How each maps to a band is explained in
``prompts/budget.yaml`` and ``prompts/README.md``.

Which profile applies: ``budget_profile`` from the front matter when set; else
by ``mode``: ``think`` uses the thinking profile, ``no_think`` and ``gated`` the
no-think profile, because a gated prompt must also work when the gate keeps
thinking off.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from workbench.errors import PromptError
from workbench.yamlfiles import parse_yaml, read_text, validate


class Band(BaseModel):
    """Limits of one measure: a value at or above ``warn_at`` warns, at or above ``over_at`` is over."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warn_at: int | None = None
    over_at: int | None = None
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.warn_at is not None and self.over_at is not None and self.warn_at > self.over_at:
            raise ValueError(f"warn_at ({self.warn_at}) must not exceed over_at ({self.over_at})")
        return self


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    nonblank_lines: Band = Band()
    macro_tasks: Band = Band()
    macro_tasks_hard: Band = Band()
    rules_per_task: Band = Band()
    rules: Band = Band()
    hidden_rules: Band = Band()
    shouting: Band = Band()
    tokens: Band = Band()


class DefaultProfiles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    no_think: str
    think: str


class BudgetConfig(BaseModel):
    """``prompts/budget.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_profiles: DefaultProfiles
    profiles: dict[str, Profile]
    acronyms: tuple[str, ...] = ()
    """All-caps words that are not shouting, on top of the built-in list."""

    @model_validator(mode="after")
    def _defaults_exist(self) -> BudgetConfig:
        for mode, name in (
            ("no_think", self.default_profiles.no_think),
            ("think", self.default_profiles.think),
        ):
            if name not in self.profiles:
                raise ValueError(
                    f"default_profiles.{mode} names {name!r}, which is not under profiles "
                    f"(known: {', '.join(sorted(self.profiles)) or 'none'})"
                )
        return self


_HIDDEN_NOTE = "make each one a list item under its macro-task so that it is counted"
_SHOUTING_NOTE = "emphasis is a sign of a prompt patched against sag; fix the cause instead"
NO_THINK_PROFILE = Profile(
    description="Qwen3-32B without thinking",
    nonblank_lines=Band(warn_at=170),
    macro_tasks=Band(over_at=4, note="keep a prompt to at most three macro-tasks"),
    macro_tasks_hard=Band(over_at=3, note="a hard task gets one or two macro-tasks"),
    rules_per_task=Band(warn_at=30, over_at=40),
    rules=Band(warn_at=20, over_at=40),
    hidden_rules=Band(warn_at=1, note=_HIDDEN_NOTE),
    shouting=Band(warn_at=1, note=_SHOUTING_NOTE),
    tokens=Band(
        warn_at=3000,
        over_at=6001,
        note="no working prompt above 7,000 tokens has been seen on Qwen3-32B",
    ),
)
THINK_PROFILE = Profile(
    description="Qwen3 with thinking",
    nonblank_lines=Band(warn_at=300),
    macro_tasks=Band(warn_at=4, over_at=6),
    macro_tasks_hard=Band(warn_at=3, over_at=5),
    rules_per_task=Band(warn_at=60),
    rules=Band(warn_at=40, over_at=80),
    hidden_rules=Band(warn_at=1, note=_HIDDEN_NOTE),
    shouting=Band(warn_at=1, note=_SHOUTING_NOTE),
    tokens=Band(warn_at=6000, over_at=10001),
)
DEFAULT_CONFIG = BudgetConfig(
    default_profiles=DefaultProfiles(no_think="qwen3-32b-no-think", think="qwen3-think"),
    profiles={"qwen3-32b-no-think": NO_THINK_PROFILE, "qwen3-think": THINK_PROFILE},
)
"""What applies when a prompts directory has no budget.yaml (the shipped file holds the same)."""


def load_budget_config(path: Path) -> BudgetConfig:
    """Read a budget.yaml; a missing file gives the defaults, a malformed one a PromptError."""
    if not path.exists():
        return DEFAULT_CONFIG
    text = read_text(path, error=PromptError, what="budget thresholds file")
    raw = parse_yaml(text, path=path, error=PromptError) or {}
    return validate(
        BudgetConfig, raw, text=text, path=path, error=PromptError, what="budget thresholds"
    )


def choose_profile(
    front_matter: Mapping[str, object], config: BudgetConfig, *, path: str = "<prompt>"
) -> str:
    """The profile name for a prompt (see the module docstring for the rule)."""
    chosen = front_matter.get("budget_profile")
    if chosen is not None:
        if chosen not in config.profiles:
            raise PromptError(
                f"budget_profile {chosen!r} is not a profile in budget.yaml "
                f"(known: {', '.join(sorted(config.profiles))})",
                path=path,
            )
        return str(chosen)
    if front_matter.get("mode") == "think":
        return config.default_profiles.think
    return config.default_profiles.no_think
