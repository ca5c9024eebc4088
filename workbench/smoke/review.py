"""Reviewing a smoke run: filter and search its cases, find where each failure began,
and put a case's repeats side by side, stage by stage.

A reviewer reads a run the way they read a CI page: only the failures, or only the
cases that changed since the last good run, or the one case someone mentioned by id.
For a failing case their first question is which stage broke it; the answer is the
stage of the first unmet expectation or error of the first repeat that did not pass,
in pipeline order, or the SQL result when every stage did what the case expects but
the rows differ from the gold's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from workbench.diffing import first_divergence, side_by_side_html
from workbench.smoke.results import CaseResult, RepeatOutcome, RunRecord

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

ReviewView = Literal["all", "failures", "errors", "flaky", "changed"]
REVIEW_VIEWS: dict[ReviewView, str] = {
    "all": "All",
    "failures": "Failures",
    "errors": "Errors",
    "flaky": "Flaky",
    "changed": "Changed since baseline",
}


def changed_since(result: CaseResult, baseline: RunRecord) -> bool:
    """The case's verdict moved since the baseline run (or the baseline lacks it)."""
    before = baseline.result(result.case_id)
    return before is None or before.verdict != result.verdict


def review_cases(
    record: RunRecord,
    view: ReviewView = "all",
    query: str = "",
    baseline: RunRecord | None = None,
) -> tuple[CaseResult, ...]:
    """The run's finished cases in the view, whose id or question contains every word
    of ``query`` (case-insensitive). ``changed`` needs a baseline; without one it is empty.
    """
    words = query.casefold().split()
    picked = []
    for result in record.results:
        if view == "failures" and result.verdict != "fail":
            continue
        if view == "errors" and result.verdict != "error":
            continue
        if view == "flaky" and result.verdict != "flaky":
            continue
        if view == "changed" and (baseline is None or not changed_since(result, baseline)):
            continue
        haystack = f"{result.case_id} {result.question}".casefold()
        if all(word in haystack for word in words):
            picked.append(result)
    return tuple(picked)


def view_counts(record: RunRecord, baseline: RunRecord | None) -> dict[ReviewView, int]:
    """How many cases each view holds, for the filter's labels."""
    return {view: len(review_cases(record, view, "", baseline)) for view in REVIEW_VIEWS}


# -- which stage broke it ---------------------------------------------------------------

BreakKind = Literal["error", "expectation", "wrong rows", "no SQL"]
_EXPECTATION = re.compile(r"^(\S+) output (?:lacks|contains) ")


@dataclass(frozen=True)
class StageBreak:
    """Where a failing case first went wrong: the stage (in pipeline order) and how."""

    order: float
    stage: str
    kind: BreakKind
    detail: str


def first_break(result: CaseResult) -> StageBreak | None:
    """For a failing or erroring case, the stage of its first unmet expectation or error."""
    if result.verdict not in ("fail", "error"):
        return None
    repeat = next((r for r in result.repeats if r.verdict != "pass"), None)
    return None if repeat is None else repeat_break(repeat)


def repeat_break(repeat: RepeatOutcome) -> StageBreak:
    stages = sorted(repeat.stages, key=lambda s: s.order)
    failed = next((s for s in stages if s.error is not None and not s.skipped), None)
    if failed is not None:
        return StageBreak(
            failed.order, f"{failed.order} {failed.title}", "error", failed.error or ""
        )
    unmet = {m[1] for text in repeat.expectation_failures if (m := _EXPECTATION.match(text))}
    expecting = next((s for s in stages if s.stage_id in unmet), None)
    if expecting is not None:
        detail = next(t for t in repeat.expectation_failures if t.startswith(expecting.stage_id))
        return StageBreak(
            expecting.order, f"{expecting.order} {expecting.title}", "expectation", detail
        )
    if repeat.verdict == "error":  # not a stage: the gold or the judging failed
        return StageBreak(len(stages) + 0.5, "judging the SQL", "error", repeat.reason)
    if repeat.sql is None:
        return StageBreak(len(stages) + 0.5, "no SQL", "no SQL", repeat.reason)
    sql_stage = _sql_stage(repeat)
    order = (sql_stage.order if sql_stage else len(stages)) + 0.5
    return StageBreak(order, "SQL result", "wrong rows", repeat.reason)


def _sql_stage(repeat: RepeatOutcome):
    sql = (repeat.sql or "").strip()
    return next((s for s in repeat.stages if sql and sql in (s.output or "")), None)


def break_frame(record: RunRecord) -> pd.DataFrame:
    """Failing cases per stage where they first went wrong, in pipeline order."""
    import pandas as pd

    counts: dict[tuple[float, str, str], int] = {}
    for result in record.results:
        point = first_break(result)
        if point is not None:
            key = (point.order, point.stage, point.kind)
            counts[key] = counts.get(key, 0) + 1
    rows = [
        {"stage": stage, "how": kind, "cases": n, "order": order}
        for (order, stage, kind), n in sorted(counts.items())
    ]
    return pd.DataFrame(rows, columns=["stage", "how", "cases", "order"])


def break_figure(record: RunRecord) -> go.Figure:
    import plotly.express as px

    frame = break_frame(record)
    figure = px.bar(
        frame,
        x="stage",
        y="cases",
        color="how",
        category_orders={"stage": list(dict.fromkeys(frame["stage"]))},
    )
    figure.update_layout(title=f"Where failing cases first went wrong ({record.id})")
    return figure


# -- a case's repeats side by side ------------------------------------------------------


@dataclass(frozen=True)
class RepeatStage:
    """One stage across a case's repeats: each output, and word diffs against repeat 1."""

    order: int
    title: str
    outputs: tuple[str | None, ...]
    differs: bool
    first_html: str
    other_html: tuple[str, ...]
    """Repeat 2, 3 … marked against repeat 1 (empty where a repeat matches it)."""


def repeat_stages(result: CaseResult) -> tuple[RepeatStage, ...]:
    """Every stage of the case, in order, with its output in each repeat."""
    titles: dict[str, tuple[int, str]] = {}
    for repeat in result.repeats:
        for stage in repeat.stages:
            titles.setdefault(stage.stage_id, (stage.order, stage.title))
    rows = []
    for stage_id, (order, title) in sorted(titles.items(), key=lambda item: item[1][0]):
        outputs = tuple(_output(r, stage_id) for r in result.repeats)
        first = outputs[0] or ""
        others, differs, first_html = [], False, ""
        for other in outputs[1:]:
            if other == outputs[0] or (first_divergence(first, other or "") is None):
                others.append("")
                continue
            marked_first, marked = side_by_side_html(first, other or "")
            first_html = first_html or marked_first  # against the first repeat that differs
            differs = True
            others.append(marked)
        rows.append(RepeatStage(order, title, outputs, differs, first_html, tuple(others)))
    return tuple(rows)


def _output(repeat: RepeatOutcome, stage_id: str) -> str | None:
    stage = repeat.stage(stage_id)
    if stage is None:
        return None
    if stage.error is not None:
        return f"({'skipped' if stage.skipped else 'error'}: {stage.error})"
    return stage.output


def case_repeats(results: Sequence[CaseResult], case_id: str) -> CaseResult | None:
    return next((r for r in results if r.case_id == case_id), None)
