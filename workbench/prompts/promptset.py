"""The prompt set: every stage prompt of a pipeline with its gates and budget, loaded at once.

A directory of prompt files is one pipeline: the ``*.md`` stage prompts in order, the
complexity gates they name (``gates.yaml``) and the thresholds their budget is held
against (``budget.yaml``). Loading them together is what lets a gate a prompt names but
``gates.yaml`` lacks fail at once, at the prompt's ``gate:`` line, instead of mid-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import PromptError
from workbench.prompts.files import (
    SCHEMA_VARIABLES,
    StagePrompt,
    load_prompts,
    prompt_set_hash,
    split_front_matter,
)
from workbench.prompts.gates import Gate, load_gates
from workbench.prompts.thresholds import BudgetConfig, load_budget_config
from workbench.yamlfiles import line_of, read_text

GATES_FILE = "gates.yaml"
BUDGET_FILE = "budget.yaml"


@dataclass(frozen=True)
class PromptSet:
    """The stages of one pipeline (sorted by ``order``), its gates and its budget thresholds."""

    directory: Path
    stages: tuple[StagePrompt, ...]
    gates: dict[str, Gate]
    budget: BudgetConfig
    variant: Mapping[str, Any] | None = None
    """The pipeline variant these stages are (``workbench.prompts.variants``), or None."""

    @property
    def hash(self) -> str:
        """Changes when any stage file changes, or the order."""
        return prompt_set_hash(self.stages)

    def stage(self, stage_id: str) -> StagePrompt | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    @property
    def needs_database(self) -> bool:
        """Whether a stage runs SQL or shows the model the schema."""
        return any(
            stage.kind == "sql" or SCHEMA_VARIABLES & set(stage.variables) for stage in self.stages
        )


def load_prompt_set(directory: str | Path) -> PromptSet:
    """Read and validate a prompts directory; a PromptError names the file and line."""
    directory = Path(directory)
    stages = load_prompts(directory)
    gates_path = directory / GATES_FILE
    gates = load_gates(gates_path) if gates_path.exists() else {}
    check_gates(stages, gates)
    return PromptSet(directory, stages, gates, load_budget_config(directory / BUDGET_FILE))


def budget_config_for(prompt_file: Path) -> BudgetConfig:
    """The thresholds that apply to one prompt file: ``budget.yaml`` beside it (or defaults)."""
    return load_budget_config(Path(prompt_file).resolve().parent / BUDGET_FILE)


def check_gates(stages: tuple[StagePrompt, ...], gates: dict[str, Gate]) -> None:
    """Every gated stage names a gate that exists; else a PromptError at its ``gate:`` line."""
    for prompt in stages:
        if prompt.mode == "gated" and prompt.gate not in gates:
            text = read_text(Path(prompt.path), error=PromptError, what="prompt file")
            front = split_front_matter(text, path=prompt.path).front_matter_text
            raise PromptError(
                f"gate {prompt.gate!r} is not defined in {GATES_FILE} "
                f"(defined: {', '.join(sorted(gates)) or 'none'})",
                path=prompt.path,
                line=line_of(front, ["gate"], first_line=2),
            )
