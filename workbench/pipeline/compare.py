"""Two runs of one question, stage by stage: where do they part ways?

After a prompt edit, or between two repeats at temperature 0, the useful answer is
the first stage whose output differs and the word where it does. Later stages then
differ as a consequence, so each stage also says whether its input already differed
(a knock-on change) or whether the stage itself answered differently to the same
input (the stage changed, or the server is not deterministic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from workbench.diffing import Divergence, first_divergence, side_by_side_html
from workbench.pipeline.trace import StageTrace, Trace, TraceSummary
from workbench.pipeline.view import escaped_block

Verdict = Literal["same", "differs", "knock-on", "only-a", "only-b"]

RUN_PAGE_URL = "run"  # the Run page's path in app.py's navigation


@dataclass(frozen=True)
class StageComparison:
    """One stage of two runs.

    Args:
        verdict: ``same`` outputs; ``differs`` with the same input (the stage itself
            answered differently); ``knock-on`` when its input already differed;
            ``only-a``/``only-b`` when one run has no output for the stage.
        divergence: where the outputs first differ (word position, context).
        a_html, b_html: both outputs, escaped, with removed and added words marked.
        prompt_changed: the stage's prompt file differed between the runs.
    """

    number: int
    stage_id: str
    title: str
    verdict: Verdict
    a_output: str | None
    b_output: str | None
    divergence: Divergence | None
    a_html: str
    b_html: str
    prompt_changed: bool


@dataclass(frozen=True)
class RunComparison:
    a_id: str
    b_id: str
    same_question: bool
    stages: tuple[StageComparison, ...]
    rows_same: bool
    """Both runs returned the same result rows (or neither returned any)."""

    @property
    def first_difference(self) -> StageComparison | None:
        """The earliest stage whose output differs: where the runs part ways."""
        return next((s for s in self.stages if s.verdict != "same"), None)

    @property
    def identical(self) -> bool:
        return self.first_difference is None and self.rows_same


def _output(stage: StageTrace | None) -> str | None:
    if stage is None or stage.skipped or stage.error is not None:
        return None
    return stage.output


def compare_stage(a: StageTrace | None, b: StageTrace | None) -> StageComparison:
    """Compare one stage of two runs (either side may be missing)."""
    some = a or b
    assert some is not None, "compare_stage needs at least one side"
    a_out, b_out = _output(a), _output(b)
    divergence = None
    if a_out is None or b_out is None:
        verdict: Verdict = "same" if a_out == b_out else ("only-a" if b_out is None else "only-b")
        a_html = escaped_block(a_out if a_out is not None else _missing(a))
        b_html = escaped_block(b_out if b_out is not None else _missing(b))
    else:
        divergence = first_divergence(a_out, b_out)
        if divergence is None:
            verdict = "same"
        elif a is not None and b is not None and first_divergence(a.input, b.input) is not None:
            verdict = "knock-on"
        else:
            verdict = "differs"
        a_html, b_html = side_by_side_html(a_out, b_out)
    return StageComparison(
        number=some.order,
        stage_id=some.stage_id,
        title=some.title,
        verdict=verdict,
        a_output=a_out,
        b_output=b_out,
        divergence=divergence,
        a_html=a_html,
        b_html=b_html,
        prompt_changed=a is not None and b is not None and a.prompt_hash != b.prompt_hash,
    )


def _missing(stage: StageTrace | None) -> str:
    if stage is None:
        return "(this run has no such stage)"
    return f"({stage.error or 'no output'})"


def compare_runs(a: Trace, b: Trace) -> RunComparison:
    """Stage by stage, matched by stage id, in the order of run ``a`` then any new ones."""
    by_id_b = {s.stage_id: s for s in b.stages}
    ids = [s.stage_id for s in a.stages] + [
        s.stage_id for s in b.stages if s.stage_id not in {x.stage_id for x in a.stages}
    ]
    by_id_a = {s.stage_id: s for s in a.stages}
    stages = tuple(compare_stage(by_id_a.get(i), by_id_b.get(i)) for i in ids)
    rows_a = a.result.rows if a.result else None
    rows_b = b.result.rows if b.result else None
    return RunComparison(
        a_id=a.id,
        b_id=b.id,
        same_question=a.question == b.question,
        stages=stages,
        rows_same=rows_a == rows_b,
    )


def default_pair(summaries: list[TraceSummary], question: str | None) -> tuple[str, str] | None:
    """The two runs to compare first: the newest two of ``question`` if it has two, else
    the newest two overall; as (older id, newer id). ``summaries`` are newest first."""
    same = [s for s in summaries if question is not None and s.question == question]
    pool = same if len(same) >= 2 else summaries
    if len(pool) < 2:
        return None
    return pool[1].id, pool[0].id


def compare_link(a_id: str, b_id: str) -> str:
    """A link to the Run page's compare view with runs ``a_id`` and ``b_id`` picked.

    Relative, so it works wherever the app is served; any page of the app can use it.
    """
    return f"{RUN_PAGE_URL}?{urlencode({'a': a_id, 'b': b_id})}"


def trace_link(trace_id: str) -> str:
    """A link to the Run page showing the stored run ``trace_id``."""
    return f"{RUN_PAGE_URL}?{urlencode({'trace': trace_id})}"


def linked_pair(params: Mapping[str, str]) -> tuple[str, str] | None:
    """The (a, b) run ids a compare link asks for, or None when the query has no pair."""
    a_id, b_id = (params.get(k, "").strip() for k in ("a", "b"))
    if not a_id or not b_id or a_id == b_id:
        return None
    return a_id, b_id
