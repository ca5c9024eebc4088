"""Smoke-run records built by hand, for comparison, report and plot tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workbench.smoke.results import (
    CaseResult,
    DivergencePoint,
    RepeatOutcome,
    RunManifest,
    RunRecord,
    StageOutcome,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def manifest(prompt_hash: str = "p1", **changes) -> RunManifest:
    values = dict(
        prompt_set_hash=prompt_hash,
        stage_versions={"query": "abc v2"},
        models={"main": "m", "think": "m", "sql_think": "m"},
        lora_adapters=(),
        endpoint="http://x/v1",
        server_flags={"dtype": "bfloat16", "max_num_seqs": 4},
        as_of_dates=("2026-03-31",),
        repeats=2,
        concurrency=1,
        restart_between_repeats=False,
    )
    values.update(changes)
    return RunManifest(**values)


def outcome(verdict: str, query: str = "Show q", margin: float | None = 1.0) -> RepeatOutcome:
    return RepeatOutcome(
        trace_id=f"trace-{verdict}-{query}",
        verdict=verdict,
        reason=f"{verdict}: because",
        stages=(
            StageOutcome("noise", 2, "Noise removal", "q", min_margin=margin),
            StageOutcome("query", 3, "Query normalizer", query, min_margin=margin),
        ),
    )


def result(case_id: str, verdict: str, *, category: str = "simple", query: str = "Show q",
           margin: float | None = 1.0) -> CaseResult:  # fmt: skip
    divergence = None
    repeats = (outcome(verdict if verdict != "flaky" else "pass", query, margin),) * 2
    if verdict == "flaky":
        divergence = DivergencePoint("stage", "query", 3, "Query normalizer", 0, 1, 2, "token",
                                     margin)  # fmt: skip
        repeats = (outcome("pass", query, margin), outcome("pass", query + " x", margin))
    return CaseResult(
        case_id=case_id,
        question=f"question of {case_id}?",
        category=category,
        tags=(category,),
        verdict=verdict,
        reason=f"{verdict}: because",
        repeats=repeats,
        divergence=divergence,
        elapsed_s=1.5,
    )


def record(
    run_id: str, results, *, case_ids=None, minutes: int = 0, **manifest_changes
) -> RunRecord:
    results = tuple(results)
    return RunRecord(
        id=run_id,
        created=START + timedelta(minutes=minutes),
        finished=START + timedelta(minutes=minutes, seconds=30),
        status="done",
        label=run_id,
        manifest=manifest(**manifest_changes),
        case_ids=tuple(case_ids or [r.case_id for r in results]),
        results=results,
    )
