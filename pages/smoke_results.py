"""A smoke run's results: against its baseline with edit blame, then its cases like a reviewer."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
from sqlalchemy.engine import Engine

from pages.common import notice, show_html
from workbench.diagnosis.noise import paired_test_html
from workbench.diagnosis.report import case_details, case_line, load_blame
from workbench.diffing import DIFF_CSS
from workbench.errors import WorkbenchError
from workbench.markup import escape
from workbench.smoke import (
    REVIEW_VIEWS,
    CaseResult,
    RunRecord,
    RunSummary,
    break_figure,
    compare_smoke_runs,
    comparison_frame,
    first_break,
    load_run,
    repeat_stages,
    results_frame,
    review_cases,
    view_counts,
)
from workbench.smoke.report import VERDICT_LABELS

LINKS = {  # link columns open the Run page on a case's stored traces
    "trace": st.column_config.LinkColumn("trace", display_text="open in Run"),
    "compare repeats": st.column_config.LinkColumn("compare repeats", display_text="compare"),
    "compare": st.column_config.LinkColumn("compare", display_text="compare in Run"),
}


def run_results(engine: Engine, runs: list[RunSummary], labels: dict[str, str]) -> None:
    """The Results tab: a run picked from ``labels``, its settings, then its cases."""
    if not runs:
        st.info(
            "No smoke runs yet: start with the first run above, or press **Run the smoke suite**."
        )
    else:
        run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="smoke_show")
        record = load_run(engine, run_id)
        m = record.manifest
        if record.note:
            notice("warning", record.note, title=f"Run {record.status}")
        notice(
            "caption",
            f"prompts {m.prompt_set_hash[:12]} · models {', '.join(sorted(set(m.models.values())))}"
            f" · {m.endpoint} · {m.repeats} repeats · {m.concurrency} at once"
            + (f" · database {m.database}" if m.database else "")
            + (" · restarts between repeats" if m.restart_between_repeats else "")
            + (f" · pipeline variant {m.variant.get('name')}: {m.variant.get('description', '')}"
               if m.variant else ""),
        )  # fmt: skip
        if m.mode == "quick" and m.baseline:
            _against_baseline(engine, record, m.baseline)  # regressions and fixes first
        _review(engine, record, labels)


def _case_details(result: CaseResult) -> None:
    """A case's repeats stage by stage, repeat 2 and later marked against repeat 1."""
    st.html(f"<style>{DIFF_CSS}</style>")
    with st.container(border=True):
        show_html(
            f"<b>{escape(result.case_id)}</b> · {escape(VERDICT_LABELS[result.verdict])} · "
            f"{len(result.repeats)} repeat{'s' if len(result.repeats) != 1 else ''}"
        )
        st.text(result.question)
        st.text(f"Why: {result.reason}")
        point = first_break(result)
        if point is not None:
            show_html(f"First went wrong at <b>{escape(point.stage)}</b> ({escape(point.kind)}).")
        for stage in repeat_stages(result):
            flag = ' · <span style="color:#b54708">repeats differ</span>' if stage.differs else ""
            show_html(f"<b>{stage.order}. {escape(stage.title)}</b>{flag}")
            if not stage.differs:
                st.text(stage.outputs[0] if stage.outputs[0] is not None else "(no output)")
                continue
            columns = st.columns(len(stage.outputs))
            columns[0].caption("repeat 1")
            with columns[0]:
                st.html(stage.first_html)
            for index, (column, marked) in enumerate(
                zip(columns[1:], stage.other_html, strict=True), 2
            ):
                column.caption(f"repeat {index}" + (" (same as repeat 1)" if not marked else ""))
                with column:
                    if marked:
                        st.html(marked)
                    else:
                        st.text(stage.outputs[index - 1] or "")


def _review(engine: Engine, record: RunRecord, labels: dict[str, str]) -> None:
    """Filter the run's cases like a reviewer; a selected row opens its repeats below."""
    ids = list(labels)
    older = ids[ids.index(record.id) + 1 :] if record.id in ids else []
    left, middle, right = st.columns([4, 3, 3])
    baseline = None
    if older:
        baseline_id = middle.selectbox(
            "Baseline", older, format_func=labels.get, key=f"smoke_baseline:{record.id}",
            help="Changed since baseline: the case's verdict differs from the baseline's",
        )  # fmt: skip
        baseline = load_run(engine, baseline_id)
    else:
        middle.caption("No older run to compare with.")
    counts = view_counts(record, baseline)
    view = left.radio(
        "Show", list(REVIEW_VIEWS), horizontal=True, key="smoke_view",
        format_func=lambda v: f"{REVIEW_VIEWS[v]} ({counts[v]})",
    )  # fmt: skip
    query = right.text_input(
        "Search", key="smoke_search", placeholder="case id or words of the question"
    )
    shown = review_cases(record, view, query, baseline)
    if not shown:
        st.info("No case of this run matches the filter and the search.")
    else:
        event = st.dataframe(
            results_frame(replace(record, results=shown)),
            hide_index=True,
            column_config=LINKS,
            on_select="rerun",
            selection_mode="single-row",
            key=f"smoke_cases:{record.id}:{view}:{query}",
        )
        st.caption("Select a row to see that case's repeats stage by stage, here.")
        rows = event.selection.rows
        if rows and rows[0] < len(shown):
            _case_details(shown[rows[0]])
    if record.counts.failed or record.counts.errors:
        st.plotly_chart(break_figure(record), key="smoke_breaks")


def _against_baseline(engine: Engine, record: RunRecord, baseline_id: str) -> None:
    """A quick check's regressions and fixes against its baseline, before its own table."""
    try:
        comparison = compare_smoke_runs(load_run(engine, baseline_id), record)
    except WorkbenchError as exc:
        notice("warning", f"the baseline {baseline_id} cannot be read: {exc}")
        return
    counts = comparison.counts
    show_html(f"<b>Against its baseline</b> <code>{escape(baseline_id)}</code>")
    cols = st.columns(3)
    cols[0].metric("new failure", counts["new failure"])
    cols[1].metric("fixed", counts["fixed"])
    cols[2].metric("unchanged", counts["unchanged"])
    show_html(paired_test_html(comparison.paired_test))
    changed = comparison_frame(comparison)
    if len(changed):
        st.dataframe(changed, hide_index=True, column_config=LINKS, key="smoke_quick_changes")
    blame_beside(engine, record.id, baseline_id)


def blame_beside(engine: Engine, run_id: str, baseline_id: str) -> None:
    """The hunks edit blame named for each flipped case (``smoke run --blame``), if it ran."""
    data = load_blame(engine, run_id, baseline_id)
    if not data:
        return
    show_html(f"<b>Edit blame</b> · {data['probes']} probes of a budget of {data['budget']}")
    for case_id, case in data["cases"].items():
        show_html(f"<code>{escape(case_id)}</code>: {escape(case_line(case, data))}")
        details = case_details(case)
        if details:
            st.code(details, language="diff")
