"""Ablation: which stages earn their keep, one pipeline variant per row next to the full run.

Each stage that can be left out gets a leave-one-stage-out variant (plus any variant the
user lists), and each variant runs as a quick check against a finished full run of the
workspace's own pipeline. A stage left out changes nothing before it, so the requests
of every earlier stage are byte-for-byte the baseline's and their answers are reused;
only the stages from the left-out one on are asked. Each variant's row then says what
it did to the verdicts (pass rate per category, cases fixed and broken against the full
pipeline with the paired sign test), what it cost (model calls and seconds per case, how
much was reused) and how every prompt of the variant stands against its budget.

Not left out: the SQL stage (nothing to judge without it), stages a quick check leaves
out anyway (the narrative: it decides no verdict) and stages whose leaving out is refused
(a later prompt cites them); the table says which and why.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy.engine import Engine

from workbench.cases.suite import SmokeCase
from workbench.errors import PromptError, StoreError
from workbench.pipeline import RunEnvironment
from workbench.prompts import PromptSet, StagePrompt, budget_text
from workbench.prompts.variants import (
    AppliedVariant,
    PipelineVariant,
    apply_variant,
    leave_one_out,
    variant_from_dict,
)
from workbench.smoke.compare import compare_smoke_runs
from workbench.smoke.plan import RunPlan, SmokeOptions, plan_run
from workbench.smoke.progress import ProgressCallback
from workbench.smoke.results import RunRecord, load_run, recent_manifests
from workbench.smoke.runner import run_plan
from workbench.smoke.verdicts import expectation_stage

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

OnPlan = Callable[[PipelineVariant, RunPlan], None]


@dataclass(frozen=True)
class AblationRow:
    """One pipeline (the full one, or a variant) measured on the ablation's cases.

    Args:
        flaky_rate: over the repeats of a full run; None for a quick check (one repeat).
        calls, reused: model calls the run made, and those answered from the baseline (stages
            answered in code, like a date the grammar resolved, count as neither).
        budget: stage id -> the prompt's budget verdict (ok, warn, over, error).
    """

    variant: str
    description: str
    run_id: str
    cases: int
    runs: int
    """Case runs: cases times repeats (a quick check runs each case once)."""
    pass_rate: float
    by_category: dict[str, float]
    flaky_rate: float | None
    calls: int
    reused: int
    latency_per_case_s: float
    budget: dict[str, str]
    fixed: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()
    p_value: float | None = None
    verdict: str = ""
    notes: tuple[str, ...] = ()

    @property
    def calls_per_case(self) -> float:
        """Model calls made per case and repeat, reused ones excluded."""
        return self.calls / self.runs if self.runs else 0.0

    @property
    def reuse_ratio(self) -> float:
        """Of the stages a case ran, the share answered from the baseline."""
        total = self.calls + self.reused
        return self.reused / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "description": self.description,
            "run": self.run_id,
            "cases": self.cases,
            "case_runs": self.runs,
            "pass_rate": round(self.pass_rate, 4),
            "pass_rate_by_category": {k: round(v, 4) for k, v in self.by_category.items()},
            "flaky_rate": None if self.flaky_rate is None else round(self.flaky_rate, 4),
            "fixed": list(self.fixed),
            "broken": list(self.broken),
            "p_value": self.p_value,
            "verdict": self.verdict,
            "calls": self.calls,
            "reused": self.reused,
            "calls_per_case": round(self.calls_per_case, 2),
            "reuse_ratio": round(self.reuse_ratio, 4),
            "latency_per_case_s": round(self.latency_per_case_s, 3),
            "budget": self.budget,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Ablation:
    """The full pipeline's row, one row per variant, and the stages not left out (why)."""

    full: AblationRow
    rows: tuple[AblationRow, ...]
    not_left_out: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.full.to_dict(),
            "variants": [row.to_dict() for row in self.rows],
            "not_left_out": self.not_left_out,
        }


# -- which variants ----------------------------------------------------------------------


def ablation_variants(
    prompts: PromptSet, extra: Iterable[PipelineVariant] = ()
) -> tuple[tuple[PipelineVariant, ...], dict[str, str]]:
    """The leave-one-stage-out variant of every stage that can be left out, then ``extra``;
    and each stage that cannot, with why."""
    variants: list[PipelineVariant] = []
    skipped: dict[str, str] = {}
    for stage in prompts.stages:
        if stage.kind == "narrative":
            skipped[stage.id] = "a quick check leaves the narrative out already"
            continue
        variant = leave_one_out(stage.id)
        try:
            apply_variant(prompts, variant)
        except PromptError as exc:
            skipped[stage.id] = str(exc).removesuffix(" (a command-line variant)")
            continue
        variants.append(variant)
    return tuple(variants) + tuple(extra), skipped


def unchecked_expectations(
    base: PromptSet, variant: PromptSet, cases: Iterable[SmokeCase]
) -> list[str]:
    """Warnings for case expectations on a stage the variant leaves out or merges away:
    those expectations are not checked in the variant's run."""
    kept = [s.id for s in variant.stages]
    base_ids = [s.id for s in base.stages]
    missing: dict[str, list[str]] = {}
    for case in cases:
        for expectation in case.expect:
            stage = expectation_stage(expectation, base_ids)
            if stage is not None and expectation_stage(expectation, kept) is None:
                missing.setdefault(stage, []).append(case.id)
    return [
        f"{len(ids)} cases expect something of {stage}, which the variant leaves out: "
        f"those expectations are not checked ({', '.join(ids[:5])}{' …' if len(ids) > 5 else ''})"
        for stage, ids in missing.items()
    ]


# -- running -----------------------------------------------------------------------------


def run_ablation(
    env: RunEnvironment,
    baseline_id: str,
    variants: Sequence[PipelineVariant],
    *,
    options: SmokeOptions | None = None,
    on_plan: OnPlan | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> list[tuple[AppliedVariant, RunRecord]]:
    """Run each variant as a quick check against ``baseline_id`` on the baseline's cases
    (narrowed by ``options``' selection); ``on_plan`` sees each plan (its estimate) first."""
    options = options or SmokeOptions()
    done: list[tuple[AppliedVariant, RunRecord]] = []
    for variant in variants:
        if cancel is not None and cancel.is_set():
            break
        applied = apply_variant(env.prompts, variant)
        quick = replace(
            options,
            mode="quick",
            baseline=baseline_id,
            repeats=1,
            restart_between_repeats=False,
            label=f"ablation of {baseline_id}: {variant.name}",
        )
        variant_env = replace(env, prompts=applied.prompts)
        plan = plan_run(variant_env, quick)
        if on_plan is not None:
            on_plan(variant, plan)
        record = run_plan(variant_env, plan, on_progress=on_progress, cancel=cancel)
        done.append((applied, record))
    return done


# -- the table ---------------------------------------------------------------------------


def ablation_table(
    baseline: RunRecord,
    runs: Sequence[tuple[AppliedVariant, RunRecord]],
    base_prompts: PromptSet,
    not_left_out: Mapping[str, str] | None = None,
) -> Ablation:
    """The full pipeline's row (on the cases the variants ran) and one row per variant."""
    ran = {r.case_id for _, record in runs for r in record.results}
    full = _row("full pipeline", "the workspace's own prompt set", baseline, base_prompts, ran)
    rows = []
    for applied, record in runs:
        comparison = compare_smoke_runs(baseline, record)
        test = comparison.paired_test
        rows.append(
            replace(
                _row(applied.variant.name, applied.variant.description, record, applied.prompts),
                fixed=tuple(c.case_id for c in comparison.cases if c.direction == "fix"),
                broken=tuple(c.case_id for c in comparison.cases if c.direction == "regression"),
                p_value=test.p_value,
                verdict=test.describe(),
                notes=applied.notes,
            )
        )
    return Ablation(full, tuple(rows), dict(not_left_out or {}))


def _row(
    name: str,
    description: str,
    record: RunRecord,
    prompts: PromptSet,
    only: set[str] | None = None,
) -> AblationRow:
    results = [r for r in record.results if only is None or r.case_id in only]
    cases = len(results) or 1
    categories: dict[str, list[bool]] = {}
    for result in results:
        categories.setdefault(result.category, []).append(result.verdict == "pass")
    stages = [
        s
        for r in results
        for repeat in r.repeats
        for s in repeat.stages
        if not s.skipped and s.called_model  # a stage answered in code costs no call
    ]
    runs = sum(len(r.repeats) for r in results)
    return AblationRow(
        variant=name,
        description=description,
        run_id=record.id,
        cases=len(results),
        runs=runs,
        pass_rate=sum(r.verdict == "pass" for r in results) / cases,
        by_category={k: sum(v) / len(v) for k, v in sorted(categories.items())},
        flaky_rate=(
            sum(r.verdict == "flaky" for r in results) / cases
            if record.manifest.repeats > 1
            else None
        ),
        calls=sum(not s.reused for s in stages),
        reused=sum(s.reused for s in stages),
        latency_per_case_s=sum(r.elapsed_s for r in results) / (runs or 1),
        budget=budget_verdicts(prompts),
    )


def budget_verdicts(prompts: PromptSet) -> dict[str, str]:
    """Each stage's budget verdict in this prompt set (a merged stage measured as merged)."""
    verdicts: dict[str, str] = {}
    for stage in prompts.stages:
        try:
            budget = budget_text(stage_text(stage), path=stage.path, config=prompts.budget)
        except PromptError:
            verdicts[stage.id] = "error"
            continue
        verdicts[stage.id] = budget.status
    return verdicts


def stage_text(stage: StagePrompt) -> str:
    """A prompt file's text rebuilt from a stage: what the budget measures of it."""
    meta: dict[str, Any] = {"id": stage.id, "mode": stage.mode, "hard": stage.hard}
    if stage.budget_profile is not None:
        meta["budget_profile"] = stage.budget_profile
    if stage.examples:
        meta["examples"] = [{"input": e.input, "output": e.output} for e in stage.examples]
    return (
        "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + stage.body
    )


# -- from the store (the Smoke page) -----------------------------------------------------


def variant_runs(store: Engine, limit: int = 500) -> dict[str, dict[str, RunRecord]]:
    """Finished variant quick checks by baseline id, then by variant name (the newest run of
    each name), among the store's ``limit`` newest runs."""
    newest: dict[str, dict[str, str]] = {}
    for run_id, status, _, manifest in recent_manifests(store, limit):
        name = (manifest.variant or {}).get("name")
        if manifest.mode == "quick" and status == "done" and manifest.baseline and name:
            newest.setdefault(manifest.baseline, {}).setdefault(str(name), run_id)
    found: dict[str, dict[str, RunRecord]] = {}
    for baseline, runs in newest.items():  # only the runs shown have their results read
        for name, run_id in runs.items():
            with contextlib.suppress(StoreError):
                found.setdefault(baseline, {})[name] = load_run(store, run_id)
    return found


def stored_ablation(
    store: Engine, baseline_id: str, runs: Mapping[str, RunRecord], prompts: PromptSet
) -> Ablation:
    """The table of the variant runs ``runs`` (``variant_runs``) against ``baseline_id``;
    each variant re-applied to ``prompts`` for its budget (a variant the prompts no longer
    allow shows no budget)."""
    baseline = load_run(store, baseline_id)
    pairs = []
    for record in reversed(list(runs.values())):  # oldest first: the order they ran in
        variant = variant_from_dict(record.manifest.variant or {})
        try:
            applied = apply_variant(prompts, variant)
        except PromptError:
            applied = AppliedVariant(replace(prompts, stages=()), variant)
        pairs.append((applied, record))
    return ablation_table(baseline, pairs, prompts, ablation_variants(prompts)[1])


# -- for the page ------------------------------------------------------------------------


def ablation_frame(table: Ablation) -> pd.DataFrame:
    """One row per pipeline, the full one first: the table the Smoke page shows."""
    import pandas as pd

    rows = []
    for row in (table.full, *table.rows):
        worst = [f"{stage} {status}" for stage, status in row.budget.items() if status != "ok"]
        rows.append(
            {
                "pipeline": row.variant,
                "run": row.run_id,
                "cases": row.cases,
                "pass rate": row.pass_rate,
                "Δ pass rate": row.pass_rate - table.full.pass_rate,
                "flaky rate": row.flaky_rate,
                "fixed": len(row.fixed),
                "broken": len(row.broken),
                "p (sign test)": row.p_value,
                "model calls / case": row.calls_per_case,
                "s / case": row.latency_per_case_s,
                "reused": row.reuse_ratio,
                "budget": ", ".join(worst) or "all ok",
                **{f"pass: {k}": v for k, v in row.by_category.items()},
                "verdict": row.verdict,
            }
        )
    return pd.DataFrame(rows)


def ablation_figure(table: Ablation) -> go.Figure:
    """Pass rate per pipeline, with the cost (model calls per case) in the hover."""
    import plotly.express as px

    frame = ablation_frame(table)
    figure = px.bar(
        frame,
        x="pipeline",
        y="pass rate",
        color="broken",
        hover_data=["fixed", "broken", "p (sign test)", "model calls / case", "reused"],
    )
    figure.add_hline(y=table.full.pass_rate, line_dash="dot", annotation_text="full pipeline")
    figure.update_layout(
        title=f"Which stages earn their keep (against {table.full.run_id})",
        yaxis_tickformat=".0%",
    )
    return figure
