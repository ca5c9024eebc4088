"""Smoke runs for people and for CI: a text summary, a JSON summary and JUnit XML.

In JUnit a flaky case is a failure (CI must not stay green over nondeterminism) and a
case that could not run is an error; the reason and where the repeats part ways go in
the message, so a CI page shows them without opening the workbench.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.pipeline import compare_link, trace_link
from workbench.smoke.results import CaseResult, RunRecord

if TYPE_CHECKING:
    import pandas as pd

VERDICT_MARKS = {"pass": "ok", "fail": "FAIL", "flaky": "FLAKY", "error": "ERROR"}
VERDICT_LABELS = {"pass": "✅ pass", "fail": "❌ fail", "flaky": "🔀 flaky", "error": "⚠️ error"}


def run_summary(record: RunRecord) -> dict[str, Any]:
    """The ``--json`` summary: counts and wall time, plus one entry per finished case."""
    counts = record.counts
    wall = (record.finished - record.created).total_seconds() if record.finished else None
    return {
        "run_id": record.id,
        "status": record.status,
        "cases": counts.cases,
        "passed": counts.passed,
        "failed": counts.failed,
        "flaky": counts.flaky,
        "errors": counts.errors,
        "pending": len(record.pending),
        "wall_s": round(wall if wall is not None else record.wall_s, 3),
        "mode": record.manifest.mode,
        "baseline": record.manifest.baseline,
        "reused_stages": sum(r.reused_stages for r in record.results),
        "manifest": {
            "prompt_set_hash": record.manifest.prompt_set_hash,
            "endpoint": record.manifest.endpoint,
            "database": record.manifest.database,
            "models": record.manifest.models,
            "repeats": record.manifest.repeats,
            "concurrency": record.manifest.concurrency,
            "restart_between_repeats": record.manifest.restart_between_repeats,
            "server_flags": record.manifest.server_flags,
            "variant": record.manifest.variant,
        },
        "results": [case_summary(r) for r in record.results],
    }


def case_summary(result: CaseResult) -> dict[str, Any]:
    point = result.divergence
    return {
        "case": result.case_id,
        "category": result.category,
        "verdict": result.verdict,
        "reason": result.reason,
        "elapsed_s": round(result.elapsed_s, 3),
        "reused_stages": result.reused_stages,
        "notes": list(result.notes),
        "trace_ids": list(result.trace_ids),
        "divergence": None
        if point is None
        else {
            "stage": point.stage_id,
            "stage_order": point.stage_order,
            "position": point.position,
            "unit": point.unit,
            "margin": point.margin,
        },
    }


def format_run(record: RunRecord, *, verbose: bool = False) -> str:
    """A few lines: the counts, then every case that did not pass (all of them if verbose)."""
    counts = record.counts
    summary = run_summary(record)
    manifest = record.manifest
    how = f"{manifest.repeats} repeats"
    if manifest.mode == "quick":
        stages = sum(len(r.stages) for c in record.results for r in c.repeats)
        how = (
            f"a quick check against {manifest.baseline}, "
            f"{summary['reused_stages']} of {stages} stages reused"
        )
    lines = [
        f"smoke run {record.id} ({record.status}): {counts.done} of {counts.cases} cases, "
        f"{how}, concurrency {manifest.concurrency}",
        f"passed {counts.passed} · failed {counts.failed} · flaky {counts.flaky} · "
        f"errors {counts.errors} · {summary['wall_s']:.1f} s",
    ]
    if manifest.concurrency_note:
        lines.append(manifest.concurrency_note)
    if manifest.variant:
        described = manifest.variant.get("description")
        lines.append(
            f"pipeline variant {manifest.variant.get('name')}"
            + (f": {described}" if described else "")
        )
    for result in record.results:
        if verbose or result.verdict != "pass":
            lines.append(f"  {VERDICT_MARKS[result.verdict]:5} {result.case_id}: {result.reason}")
        if verbose or result.verdict != "pass":
            lines += [f"        note: {note}" for note in result.notes]
    if record.pending:
        lines.append(
            f"{len(record.pending)} cases not run; finish with "
            f"`python -m workbench smoke run --resume {record.id}`"
        )
    return "\n".join(lines)


def junit_xml(record: RunRecord, blame: Mapping[str, tuple[str, str]] | None = None) -> str:
    """The run as a JUnit XML report, one test case per smoke case (classname: category).

    Args:
        blame: case id -> (one line, details) from edit blame: the line joins a failing
            case's message, the details (the hunks as diffs) go to the case's system-out.
    """
    blame = blame or {}
    counts = record.counts
    suite = ET.Element(
        "testsuite",
        {
            "name": f"smoke {record.id}",
            "tests": str(len(record.case_ids)),
            "failures": str(counts.failed + counts.flaky),
            "errors": str(counts.errors),
            "skipped": str(len(record.pending)),
            "time": f"{record.wall_s:.3f}",
        },
    )
    props = ET.SubElement(suite, "properties")
    manifest = record.manifest
    for name, value in (
        ("prompt_set_hash", manifest.prompt_set_hash),
        ("endpoint", manifest.endpoint),
        ("database", manifest.database),
        ("repeats", manifest.repeats),
        ("concurrency", manifest.concurrency),
    ):
        ET.SubElement(props, "property", {"name": name, "value": str(value)})
    for result in record.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"smoke.{result.category}", "name": result.case_id,
             "time": f"{result.elapsed_s:.3f}"},
        )  # fmt: skip
        line, details = blame.get(result.case_id, ("", ""))
        message = f"{result.reason}; {line}" if line else result.reason
        if result.verdict in ("fail", "flaky"):
            node = ET.SubElement(case, "failure", {"type": result.verdict, "message": message})
            node.text = result.question
        elif result.verdict == "error":
            node = ET.SubElement(case, "error", {"type": "error", "message": message})
            node.text = result.question
        if details:
            ET.SubElement(case, "system-out").text = f"{line}\n{details}"
    for case_id in record.pending:
        case = ET.SubElement(suite, "testcase", {"classname": "smoke", "name": case_id})
        ET.SubElement(
            case, "skipped", {"message": "not run (the run was cancelled or interrupted)"}
        )
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )


def write_junit(
    record: RunRecord, path: Path, blame: Mapping[str, tuple[str, str]] | None = None
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(record, blame), encoding="utf-8")
    return path


def results_frame(record: RunRecord) -> pd.DataFrame:
    """One row per finished case, for the Smoke page's table."""
    import pandas as pd

    columns = ["case", "category", "verdict", "why", "first divergent stage", "reused", "seconds",
               "traces", "trace", "compare repeats"]  # fmt: skip
    rows = []
    for r in record.results:
        point = r.divergence
        where = f"{point.stage_order} {point.stage_title}" if point and point.stage_id else ""
        ids = r.trace_ids
        pair = (ids[point.repeat_a], ids[point.repeat_b]) if point else None
        rows.append(
            {
                "case": r.case_id,
                "category": r.category,
                "verdict": VERDICT_LABELS[r.verdict],
                "why": " · ".join((r.reason, *r.notes)),
                "first divergent stage": where,
                "reused": _reused(r),
                "seconds": round(r.elapsed_s, 1),
                "traces": " ".join(t[:8] for t in ids),
                "trace": trace_link(ids[0]) if ids else None,
                "compare repeats": compare_link(*pair) if pair else None,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _reused(result: CaseResult) -> str:
    """``stages 1–5`` for a quick check's case ("" when nothing was reused)."""
    orders = sorted({s.order for r in result.repeats for s in r.stages if s.reused})
    if not orders:
        return ""
    if orders == list(range(orders[0], orders[-1] + 1)) and len(orders) > 1:
        return f"stages {orders[0]}–{orders[-1]}"
    return "stage" + ("s " if len(orders) > 1 else " ") + ", ".join(map(str, orders))
