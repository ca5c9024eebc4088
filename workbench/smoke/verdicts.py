"""Verdicts of the smoke suite: one repeat on its own, then a case over its repeats.

At temperature 0 every repeat of a case should be the same run. So a case whose repeats
disagree anywhere (a stage output, the SQL, the verdict) is *flaky*, whatever each
repeat scored: that is the nondeterminism the suite exists to expose, and an honest
pass rate must not hide it. Where they part ways is located to the stage, then to the
token (from the logprobs the client returned; to the word when there are none), with
the logprob margin there, because a small margin is what a flip looks like.

A repeat that could not finish (a call or the SQL failed) is an *error*; a case is an
error only when its repeats agree up to the failure, so a flip that made the SQL
unparsable still counts as flaky. A case whose repeats *all* errored is an error whatever
else differs between them (two different failures are not a flip of the model's answer),
and its reason lists each repeat's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.cases.suite import SmokeCase, StageExpectation
from workbench.diffing import first_divergence
from workbench.smoke.results import (
    DivergencePoint,
    RepeatOutcome,
    StageOutcome,
    Verdict,
)

EXPECT_STAGE_ALIASES: dict[str, tuple[str, ...]] = {
    "date_normalization": ("dates",),
    "noise_removal": ("noise",),
    "query_normalizer": ("query",),
    "reference_normalizer": ("reference",),
    "misc_cleanup": ("cleanup",),
    "sql_generation": ("sql",),
    "narrative": ("narrative",),
}
"""The case files name stages by role; the prompt files by short id."""


def expectation_stage(expectation: StageExpectation, stage_ids: Iterable[str]) -> str | None:
    """The stage id of the prompt set that an expectation is about (None when absent)."""
    ids = list(stage_ids)
    if expectation.stage in ids:
        return expectation.stage
    return next((a for a in EXPECT_STAGE_ALIASES.get(expectation.stage, ()) if a in ids), None)


def check_expectations(case: SmokeCase, stages: Sequence[StageOutcome]) -> tuple[str, ...]:
    """What the case expects of its stage outputs and did not get (case-insensitive)."""
    by_id = {s.stage_id: s for s in stages}
    failures: list[str] = []
    for expectation in case.expect:
        stage_id = expectation_stage(expectation, by_id)
        if stage_id is None:
            continue  # the prompt set has no such stage: nothing to hold it to
        output = (by_id[stage_id].output or "").casefold()
        failures += [
            f"{stage_id} output lacks {text!r}"
            for text in expectation.contains
            if text.casefold() not in output
        ]
        failures += [
            f"{stage_id} output contains {text!r}"
            for text in expectation.not_contains
            if text.casefold() in output
        ]
    return tuple(failures)


def _comparable(stage: StageOutcome) -> bool:
    return stage.output is not None and not stage.skipped and stage.error_kind != "EmptyOutput"


def repeat_divergence(
    a: RepeatOutcome, b: RepeatOutcome, *, index_a: int = 0, index_b: int = 1
) -> DivergencePoint | None:
    """The first stage whose outputs differ between two repeats, to the token.

    Stages are compared in order while both repeats have an output; a call that failed
    ends the comparison there (its difference is an error, not output). SQL that failed
    to run still has an output (the SQL), so a flip into bad SQL is found.
    """
    stages_b = {s.stage_id: s for s in b.stages}
    for stage_a in sorted(a.stages, key=lambda s: s.order):
        stage_b = stages_b.get(stage_a.stage_id)
        if stage_b is None:
            break
        if not (_comparable(stage_a) and _comparable(stage_b)):
            break
        if stage_a.output != stage_b.output:
            return _locate(stage_a, stage_b, index_a, index_b)
    return None


def _point(
    stage: StageOutcome, index_a: int, index_b: int, out_a: str | None, out_b: str | None
) -> DivergencePoint:
    words = first_divergence(out_a or "", out_b or "")
    return DivergencePoint(
        what="stage",
        stage_id=stage.stage_id,
        stage_order=stage.order,
        stage_title=stage.title,
        repeat_a=index_a,
        repeat_b=index_b,
        position=words.word_index if words else None,
        unit="word" if words else None,
        a_context=words.a_context if words else "",
        b_context=words.b_context if words else "",
    )


def _locate(a: StageOutcome, b: StageOutcome, index_a: int, index_b: int) -> DivergencePoint:
    point = _point(a, index_a, index_b, a.output, b.output)
    if not a.tokens or not b.tokens:
        return point
    position = next(
        (i for i, (x, y) in enumerate(zip(a.tokens, b.tokens, strict=False)) if x != y),
        min(len(a.tokens), len(b.tokens)),
    )
    if position >= max(len(a.tokens), len(b.tokens)):
        return point  # the raw answers agree; only the cleaned outputs differ
    return DivergencePoint(
        what="stage",
        stage_id=a.stage_id,
        stage_order=a.order,
        stage_title=a.title,
        repeat_a=index_a,
        repeat_b=index_b,
        position=position,
        unit="token",
        margin=a.margins[position] if position < len(a.margins) else None,
        margin_b=b.margins[position] if position < len(b.margins) else None,
        a_context="".join(a.tokens[position : position + 6]),
        b_context="".join(b.tokens[position : position + 6]),
    )


def case_verdict(repeats: Sequence[RepeatOutcome]) -> tuple[Verdict, str, DivergencePoint | None]:
    """The verdict of a case over its repeats, why, and where the repeats part ways."""
    if not repeats:
        raise ValueError("a case verdict needs at least one repeat")
    first = repeats[0]
    if all(r.verdict == "error" for r in repeats):
        return "error", _error_reasons(repeats), None
    for index, other in enumerate(repeats[1:], start=1):
        point = repeat_divergence(first, other, index_b=index)
        if point is not None:
            where = f"stage {point.stage_order} ({point.stage_title})"
            at = f", {point.unit} {point.position}" if point.position is not None else ""
            margin = f", margin {point.margin:.3f}" if point.margin is not None else ""
            return "flaky", f"repeats 1 and {index + 1} differ at {where}{at}{margin}", point
    errors = [r for r in repeats if r.verdict == "error"]
    if errors:
        return "error", errors[0].reason, None
    verdicts = {r.verdict for r in repeats}
    if len(verdicts) > 1:
        index = next(i for i, r in enumerate(repeats) if r.verdict != first.verdict)
        point = DivergencePoint(
            what="verdict",
            stage_id=None,
            stage_order=None,
            stage_title=None,
            repeat_a=0,
            repeat_b=index,
        )
        return (
            "flaky",
            f"same outputs, but repeat {index + 1} was judged {repeats[index].verdict}",
            point,
        )
    return first.verdict, first.reason, None


def _error_reasons(repeats: Sequence[RepeatOutcome]) -> str:
    """Each repeat's reason, once when they all say the same."""
    reasons = [r.reason for r in repeats]
    if len(set(reasons)) == 1:
        return reasons[0] if len(reasons) == 1 else f"{reasons[0]} (all {len(reasons)} repeats)"
    return "; ".join(f"repeat {i}: {reason}" for i, reason in enumerate(reasons, start=1))
