"""Two smoke runs side by side, the model matrix, and the determinism plots.

After a prompt edit the question is which cases it fixed and which it broke; between two
models (or a model served in two precisions) it is which cases flipped. Either way, for
a case that changed we want the stage where its runs first differ, and the trace ids
to open both runs in the Run page's compare view. And whether the fixes and regressions
are more than noise: every comparison carries a paired sign test on its flips
(``workbench.diagnosis.noise``), with the flips that may be noise marked uncertain.

The plots of these runs are in ``workbench.smoke.plots``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from workbench.diagnosis.noise import Direction, Flip, PairedTest, paired_test
from workbench.pipeline import compare_link
from workbench.pipeline.view import LOW_MARGIN_NATS
from workbench.smoke.results import CaseResult, DivergencePoint, RunRecord
from workbench.smoke.verdicts import repeat_divergence

if TYPE_CHECKING:
    import pandas as pd

Settled = Literal["confirmed", "dropped"]
Change = Literal[
    "new failure", "fixed", "newly flaky", "no longer flaky", "unchanged", "added", "removed"
]
CHANGES: tuple[Change, ...] = (
    "new failure", "fixed", "newly flaky", "no longer flaky", "unchanged", "added", "removed"
)  # fmt: skip
FAILING = ("fail", "error")


@dataclass(frozen=True)
class CaseChange:
    case_id: str
    change: Change
    before: str | None
    after: str | None
    first_difference: DivergencePoint | None
    """Where the first repeat of each run part ways (None when they agree or one is missing)."""
    before_trace: str | None
    after_trace: str | None
    reason: str
    uncertain: tuple[str, ...] = ()
    """Why this flip may be noise (a flaky side, a low margin where the runs part ways)."""
    reasks: tuple[str, ...] = ()
    """The verdicts of the new run's fresh re-asks of this case (``workbench.smoke.reask``)."""

    @property
    def direction(self) -> Direction | None:
        return flip_direction(self.change, self.before, self.after)

    @property
    def settled(self) -> Settled | None:
        """What the re-asks made of this flip (None: an uncertain flip not re-asked, or
        a certain one)."""
        if not self.uncertain or self.direction is None:
            return None
        return reask_settles(self.after, self.reasks)

    def reask_words(self) -> str:
        """E.g. "simple-003: re-asked 3×: fail, fail, pass → confirmed" ("" when not re-asked)."""
        if self.settled is None:
            return ""
        return f"{self.case_id}: re-asked {len(self.reasks)}×: {', '.join(self.reasks)} → {self.settled}"


def reask_settles(after: str | None, reasks: tuple[str, ...]) -> Settled | None:
    """A flip is confirmed when most of its re-asks agree with the new run's verdict on
    the one line a flip crosses (pass against not pass), dropped as noise otherwise; a
    tie is no majority, so it drops too. None without re-asks."""
    if not reasks or after is None:
        return None
    agree = sum((verdict == "pass") == (after == "pass") for verdict in reasks)
    return "confirmed" if 2 * agree > len(reasks) else "dropped"


@dataclass(frozen=True)
class SmokeComparison:
    before_id: str
    after_id: str
    cases: tuple[CaseChange, ...]
    prompt_set_changed: bool

    def of(self, change: Change) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.cases if c.change == change)

    @property
    def counts(self) -> dict[str, int]:
        return {change: len(self.of(change)) for change in CHANGES}

    @property
    def regressed(self) -> bool:
        """A case that passed before now fails, errors or flakes, unless its re-asks
        dropped the flip as noise (the gate ``--fail-on-regression`` reads this)."""
        return any(
            (c.change == "new failure" or (c.change == "newly flaky" and c.before == "pass"))
            and c.settled != "dropped"
            for c in self.cases
        )

    @property
    def reasked(self) -> tuple[CaseChange, ...]:
        """The uncertain flips the new run re-asked, each confirmed or dropped."""
        return tuple(c for c in self.cases if c.settled is not None)

    def settle(self, flip: Flip) -> Flip | None:
        """The ``Settle`` of this comparison: what the stored re-asks say of a flip;
        one not re-asked stays as it is (still uncertain)."""
        case = next((c for c in self.cases if c.case_id == flip.case_id), None)
        if case is None or case.settled is None:
            return flip
        return replace(flip, uncertain=()) if case.settled == "confirmed" else None

    @property
    def flips(self) -> tuple[Flip, ...]:
        """The cases both runs ran whose pass/not-pass outcome changed, with their doubts.

        What re-asking uncertain flips will take: ``paired_test(comparison.flips,
        settle=...)`` (``workbench.diagnosis.noise.Settle``).
        """
        return tuple(
            Flip(c.case_id, c.direction, c.uncertain) for c in self.cases if c.direction is not None
        )

    @property
    def paired_test(self) -> PairedTest:
        """The exact sign test of fixes against regressions, on the cases both runs ran:
        a re-asked uncertain flip counts only when its re-asks confirmed it (``settle``),
        one not re-asked counts as it is."""
        return paired_test(self.flips, settle=self.settle)

    @property
    def significant_regression(self) -> bool:
        """More regressions than fixes, by more than noise explains (the sign test on every flip)."""
        return self.paired_test.significant_regression

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before_id,
            "after": self.after_id,
            "counts": self.counts,
            "regressed": self.regressed,
            "paired_test": self.paired_test.to_dict(),
            "significant_regression": self.significant_regression,
            "reasked": [
                {
                    "case": c.case_id,
                    "direction": c.direction,
                    "reasks": list(c.reasks),
                    "settled": c.settled,
                    "summary": c.reask_words(),
                }
                for c in self.reasked
            ],  # fmt: skip
            "changed": [
                {
                    "case": c.case_id,
                    "change": c.change,
                    "before": c.before,
                    "after": c.after,
                    "first_difference_stage": c.first_difference.stage_id
                    if c.first_difference
                    else None,
                    "traces": [c.before_trace, c.after_trace],
                }
                for c in self.cases
                if c.change != "unchanged"
            ],
        }


def flip_direction(change: Change, before: str | None, after: str | None) -> Direction | None:
    """``fix`` or ``regression`` when a case both runs ran went from not passing to passing
    or back; None when it did not flip.

    The same line as ``SmokeComparison.regressed``: only passing counts as passing, so
    pass -> flaky is a regression and flaky -> pass a fix; fail -> error moves nothing.
    A quick check's "unchanged" flaky baseline case is no flip (``classify``).
    """
    if change in ("added", "removed", "unchanged"):
        return None
    if before == "pass" and after != "pass":
        return "regression"
    if before != "pass" and after == "pass":
        return "fix"
    return None


FIRST: tuple[Change, ...] = ("new failure", "fixed", "newly flaky", "no longer flaky")
"""The changes listed first: what an edit broke, then what it fixed."""


def classify(before: str | None, after: str | None, *, after_can_flake: bool = True) -> Change:
    """How a case's verdict moved between two runs.

    ``after_can_flake`` is False for a quick check: one repeat cannot show flakiness, so
    a case flaky in the baseline is not "no longer flaky" for it (it stays unsettled).
    """
    if before == "flaky" and not after_can_flake:
        return "unchanged"
    if before is None:
        return "added"
    if after is None:
        return "removed"
    if after == "flaky" and before != "flaky":
        return "newly flaky"
    if before == "flaky" and after != "flaky":
        return "no longer flaky"
    if before == "pass" and after in FAILING:
        return "new failure"
    if before in FAILING and after == "pass":
        return "fixed"
    return "unchanged"


def _first_difference(a: CaseResult | None, b: CaseResult | None) -> DivergencePoint | None:
    if a is None or b is None or not a.repeats or not b.repeats:
        return None
    return repeat_divergence(a.repeats[0], b.repeats[0])


def uncertainty(
    before: CaseResult | None, after: CaseResult | None, first_difference: DivergencePoint | None
) -> tuple[str, ...]:
    """Why a flip between ``before`` and ``after`` may be noise rather than the change
    (empty when none): either run's repeats disagreed on the case, or the stage where the
    runs first part ways chose its token by a margin under the Run page's low-margin
    threshold (``LOW_MARGIN_NATS``)."""
    reasons: list[str] = []
    if before is not None and before.verdict == "flaky":
        reasons.append("flaky in the baseline")
    if after is not None and after.verdict == "flaky":
        reasons.append("flaky in the new run")
    margin = deciding_margin(before, after, first_difference)
    if margin is not None and margin < LOW_MARGIN_NATS and first_difference is not None:
        reasons.append(
            f"low margin ({margin:.2f}) at stage {first_difference.stage_order} "
            f"({first_difference.stage_title})"
        )
    return tuple(reasons)


def deciding_margin(
    before: CaseResult | None, after: CaseResult | None, point: DivergencePoint | None
) -> float | None:
    """The logprob margin of the stage where the two runs first part ways.

    At the diverging token when the runs have tokens there (the smaller of the two
    runs' margins: either could have gone the other way); otherwise the lowest margin of
    that stage in either run's first repeat, which is what the low-margin warning reads.
    """
    if point is None or point.stage_id is None:
        return None
    at_token = [m for m in (point.margin, point.margin_b) if m is not None]
    if at_token:
        return min(at_token)
    stage_margins = [
        stage.min_margin
        for result in (before, after)
        if result is not None and result.repeats
        for stage in result.repeats[0].stages
        if stage.stage_id == point.stage_id and stage.min_margin is not None
    ]
    return min(stage_margins) if stage_margins else None


def compare_smoke_runs(before: RunRecord, after: RunRecord) -> SmokeComparison:
    """Every case of either run: how it changed, and where its runs first differ;
    regressions and fixes first.

    Against a quick check only the cases it ran count (it checks a selection of its
    baseline's cases), and its one repeat cannot tell flakiness (``classify``).
    """
    quick = after.manifest.mode == "quick"
    ids = list(before.case_ids) + [c for c in after.case_ids if c not in set(before.case_ids)]
    if quick:
        ids = [c for c in ids if c in set(after.case_ids)]
    changes = []
    for case_id in ids:
        a, b = before.result(case_id), after.result(case_id)
        if a is None and b is None:
            continue
        before_verdict, after_verdict = (a.verdict if a else None), (b.verdict if b else None)
        change = classify(before_verdict, after_verdict, after_can_flake=not quick)
        first = _first_difference(a, b)
        flipped = flip_direction(change, before_verdict, after_verdict) is not None
        changes.append(
            CaseChange(
                case_id=case_id,
                change=change,
                before=before_verdict,
                after=after_verdict,
                first_difference=first,
                before_trace=a.trace_ids[0] if a and a.trace_ids else None,
                after_trace=b.trace_ids[0] if b and b.trace_ids else None,
                reason=(b or a).reason,  # type: ignore[union-attr]
                uncertain=uncertainty(a, b, first) if flipped else (),
                reasks=tuple(r.verdict for r in b.reasks) if b else (),
            )
        )
    changes.sort(key=lambda c: FIRST.index(c.change) if c.change in FIRST else len(FIRST))
    return SmokeComparison(
        before_id=before.id,
        after_id=after.id,
        cases=tuple(changes),
        prompt_set_changed=before.manifest.prompt_set_hash != after.manifest.prompt_set_hash,
    )


def format_comparison(comparison: SmokeComparison) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in comparison.counts.items() if v)
    lines = [f"against {comparison.before_id}: {counts}"]
    for case in comparison.cases:
        if case.change in ("unchanged",):
            continue
        where = ""
        if case.first_difference is not None and case.first_difference.stage_id:
            where = f"; first differs at stage {case.first_difference.stage_order} ({case.first_difference.stage_title})"
        doubt = f" [uncertain: {'; '.join(case.uncertain)}]" if case.uncertain else ""
        lines.append(f"  {case.change}: {case.case_id} {case.before} -> {case.after}{where}{doubt}")
        if case.settled is not None:
            noise = " (dropped as noise)" if case.settled == "dropped" else ""
            lines.append(f"    {case.reask_words()}{noise}")
    lines.append(f"  {comparison.paired_test.describe()}")
    if comparison.regressed:
        lines.append("REGRESSION: a case that passed before no longer does")
    return "\n".join(lines)


def comparison_frame(comparison: SmokeComparison, *, changed_only: bool = True) -> pd.DataFrame:
    """One row per case, for a table on the Smoke page: with why a flip may be noise and
    what re-asking it settled."""
    import pandas as pd

    rows = [
        {
            "case": c.case_id,
            "change": c.change,
            "before": c.before,
            "after": c.after,
            "first differs at": (
                f"{c.first_difference.stage_order} {c.first_difference.stage_title}"
                if c.first_difference and c.first_difference.stage_id
                else ""
            ),
            "uncertain": "; ".join(c.uncertain),
            "re-asked": (f"{', '.join(c.reasks)} → {c.settled}" if c.settled is not None else ""),
            "trace before": c.before_trace or "",
            "trace after": c.after_trace or "",
            "compare": (
                compare_link(c.before_trace, c.after_trace)
                if c.before_trace and c.after_trace
                else None
            ),
        }
        for c in comparison.cases
        if not changed_only or c.change != "unchanged"
    ]
    return pd.DataFrame(rows, columns=["case", "change", "before", "after", "first differs at",
                                       "uncertain", "re-asked", "trace before", "trace after",
                                       "compare"])  # fmt: skip


# -- the model matrix ----------------------------------------------------------------------


def model_matrix(runs: dict[str, RunRecord]) -> pd.DataFrame:
    """Case by variant (model, adapter or server setting): each verdict, and whether it flipped.

    ``flipped`` is True when the variants do not all give the case the same verdict.
    """
    import pandas as pd

    labels = list(runs)
    case_ids: list[str] = []
    for record in runs.values():
        case_ids += [c for c in record.case_ids if c not in case_ids]
    rows = []
    for case_id in case_ids:
        verdicts = {label: _verdict(runs[label], case_id) for label in labels}
        seen = {v for v in verdicts.values() if v != NOT_RUN}
        rows.append({"case": case_id, **verdicts, "flipped": len(seen) > 1})
    return pd.DataFrame(rows, columns=["case", *labels, "flipped"])


NOT_RUN = "not run"


def _verdict(record: RunRecord, case_id: str) -> str:
    result = record.result(case_id)
    return result.verdict if result else NOT_RUN


def variant_rates(runs: dict[str, RunRecord]) -> pd.DataFrame:
    """Per variant: cases run and the pass, flaky and error rates (the experiment table)."""
    import pandas as pd

    rows = []
    for label, record in runs.items():
        counts = record.counts
        done = counts.done or 1
        flags = record.manifest.server_flags or {}
        rows.append(
            {
                "setting": label,
                "run": record.id,
                "cases": counts.done,
                "pass rate": counts.passed / done,
                "flaky rate": counts.flaky / done,
                "error rate": counts.errors / done,
                "dtype": flags.get("dtype"),
                "max_num_seqs": flags.get("max_num_seqs"),
                "prefix_caching": flags.get("prefix_caching"),
                "concurrency": record.manifest.concurrency,
                "restart": record.manifest.restart_between_repeats,
            }
        )
    return pd.DataFrame(rows)
