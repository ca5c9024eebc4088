"""Studies that run the smoke suite several times and compare the runs.

- ``servers``: the same suite under several server settings or served models (the CPU
  knobs that make outputs flip, or stop flipping; one run per model or adapter);
- ``ablation``: pipeline variants (a stage left out, merged or swapped) as quick checks
  against a full run, one row per variant: verdicts, cost, budget.

One run (planning, running, judging, comparing two runs) is ``workbench.smoke``; why a
verdict happened is ``workbench.diagnosis``.
"""

from __future__ import annotations

from workbench.experiments.ablation import (
    Ablation,
    AblationRow,
    ablation_figure,
    ablation_frame,
    ablation_table,
    ablation_variants,
    budget_verdicts,
    run_ablation,
    stored_ablation,
    unchecked_expectations,
    variant_runs,
)
from workbench.experiments.servers import CPU_EXPERIMENT, Connections, model_variants, run_variants

__all__ = [
    "CPU_EXPERIMENT",
    "Ablation",
    "AblationRow",
    "Connections",
    "ablation_figure",
    "ablation_frame",
    "ablation_table",
    "ablation_variants",
    "budget_verdicts",
    "model_variants",
    "run_ablation",
    "run_variants",
    "stored_ablation",
    "unchecked_expectations",
    "variant_runs",
]
