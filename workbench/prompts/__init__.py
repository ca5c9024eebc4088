"""Prompts: the stage prompt files of a pipeline, their gates, budget and saved versions.

- ``files``: a prompt file (YAML front matter and a Markdown body) into a ``StagePrompt``;
  ``render`` fills its ``{{variables}}``;
- ``bank``: the workspace's question -> SQL examples, the nearest few sent with a call;
- ``gates``: ``gates.yaml``, the complexity gates that switch a stage to thinking;
- ``promptset``: a whole directory (stages, gates, budget) loaded at once;
- ``budget``, ``thresholds``, ``tokens``: a prompt measured against its size budget;
- ``rulemap``: each counted rule's line and how far into the prompt it comes;
- ``editing``: the file as the editor shows it (front matter and body) and its line marks;
- ``versions``: every save of a prompt kept in the store.
"""

from __future__ import annotations

from workbench.prompts.bank import Bank, BankEntry, near_duplicates
from workbench.prompts.budget import PromptBudget, budget_paths, budget_series, budget_text
from workbench.prompts.editing import (
    EditorParts,
    LineMark,
    body_first_line,
    join_parts,
    line_marks,
    split_parts,
)
from workbench.prompts.files import (
    SCHEMA_VARIABLES,
    TEMPLATE_VARIABLES,
    StageKind,
    StagePrompt,
    load_prompt,
    load_prompts,
    parse_prompt,
    prompt_set_hash,
    render,
    split_front_matter,
    worked_examples,
)
from workbench.prompts.gates import (
    Gate,
    GateDecision,
    Vocabulary,
    evaluate_gate,
    load_gates,
    parse_gates,
)
from workbench.prompts.promptset import (
    BUDGET_FILE,
    GATES_FILE,
    PromptSet,
    budget_config_for,
    load_prompt_set,
)
from workbench.prompts.rulemap import CountedRule, counted_rules
from workbench.prompts.thresholds import BudgetConfig, load_budget_config

__all__ = [
    "Bank",
    "BankEntry",
    "BUDGET_FILE",
    "GATES_FILE",
    "SCHEMA_VARIABLES",
    "TEMPLATE_VARIABLES",
    "BudgetConfig",
    "CountedRule",
    "EditorParts",
    "Gate",
    "GateDecision",
    "LineMark",
    "PromptBudget",
    "PromptSet",
    "StageKind",
    "Vocabulary",
    "StagePrompt",
    "body_first_line",
    "budget_config_for",
    "budget_paths",
    "budget_series",
    "budget_text",
    "counted_rules",
    "evaluate_gate",
    "join_parts",
    "line_marks",
    "load_budget_config",
    "load_gates",
    "load_prompt",
    "load_prompt_set",
    "load_prompts",
    "parse_gates",
    "parse_prompt",
    "prompt_set_hash",
    "render",
    "split_front_matter",
    "near_duplicates",
    "worked_examples",
    "split_parts",
]
