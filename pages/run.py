"""Run: a question through every stage, shown as a card per stage with its word diff."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from pages.common import notice, server_manager, settings, show_html, store, workspace_ready
from workbench.diffing import DIFF_CSS
from workbench.errors import WorkbenchError
from workbench.markup import escape
from workbench.pipeline import (
    REFERENCE_TRACE_ID,
    RunJob,
    RunSnapshot,
    Trace,
    compare_runs,
    default_pair,
    is_reference,
    linked_pair,
    load_reference_trace,
    open_trace,
    recent_traces,
    reference_trace_path,
    start_run_job,
    trace_summaries,
)
from workbench.pipeline.view import (
    RUN_PAGE_CSS,
    EndpointStatus,
    StageCard,
    endpoint_status,
    escaped_block,
    prompt_paths,
    question_html,
    stage_cards,
)
from workbench.settings import PROJECT_ROOT, Settings

JOB, SHOWN, NOTICE = "run_job", "run_trace", "run_notice"
VERDICTS = {  # HTML: the stage title beside them is untrusted, so the line is built as HTML
    "same": '<span style="color:#05603a">✔ same output</span>',
    "differs": '<span style="color:#b42318">⑂ differs on the same input</span>',
    "knock-on": '<span style="color:#b54708">↳ differs because its input differed</span>',
    "only-a": '<span style="color:#b54708">⚠ only run A has an output</span>',
    "only-b": '<span style="color:#b54708">⚠ only run B has an output</span>',
}
PROGRESS_ICONS = {
    "ok": ":green[:material/check_circle:]",
    "failed": ":red[:material/cancel:]",
    "skipped": ":gray[:material/skip_next:]",
    "running": ":blue[:material/hourglass_top:]",
    "pending": ":gray[:material/radio_button_unchecked:]",
}
POLL_S = 0.5
PROMPTS_PAGE = PROJECT_ROOT / "pages" / "prompts.py"

current = settings()
engine = store(current)


@st.cache_data(ttl=5, show_spinner=False)
def _endpoint(settings_json: str) -> EndpointStatus:
    return endpoint_status(Settings.model_validate_json(settings_json))


def _prompt_link(card: StageCard, paths: dict) -> None:
    path = paths.get(card.stage_id)
    if path is None:
        return
    if PROMPTS_PAGE.exists():
        try:
            st.page_link(  # the label reads Markdown: name the file, not the stored title
                "pages/prompts.py",
                label=f"Edit {path.name}",
                icon=":material/edit_note:",
                query_params={"stage": path.name},
            )
            return
        except StreamlitAPIException:  # the page exists but is not in the navigation
            pass
    st.caption(f"Prompt file: `{path}`")


def _draw_card(card: StageCard, paths: dict) -> None:
    with st.container(border=True):
        show_html(card.header_html)
        if card.fired_html:
            show_html(card.fired_html)
        if card.notes_html:
            show_html(card.notes_html)
        show_html(card.body_html)
        if card.sql:
            st.code(card.sql, language="sql")
        facts = [card.metrics] if card.metrics else []
        if card.margin is not None and not card.margin_low:
            facts.append(f"lowest logprob margin {card.margin:.2f} nats")
        if facts:
            st.caption(" · ".join(facts))
        if card.margin_low:
            st.warning(
                f"Lowest logprob margin {card.margin:.2f} nats (token {card.margin_index}): "
                "this output could flip between identical runs.",
                icon=":material/balance:",
            )
        if card.runaway and card.status == "ok":
            notice("warning", card.runaway, title="Runaway thinking")
        if card.status == "failed":
            notice("error", card.error or "", title=card.error_kind or "Error")
            if card.advice:
                notice("info", card.advice)
        elif card.status in ("skipped", "cancelled"):
            notice("caption", card.error or "")
        if card.reasoning:
            with st.expander("Reasoning"):
                show_html(escaped_block(card.reasoning))
        if card.cleaner_note:
            notice("caption", card.cleaner_note)
            with st.expander("The model's raw answer"):
                st.text(card.raw_output)
        _prompt_link(card, paths)


def _draw_trace(trace: Trace) -> None:
    if is_reference(trace):
        what = (
            "**The paper's reference, not a live run:** the whitepaper's worked example "
            "(section 9) as it prints each stage."
            if current.workspace is None
            else "**The workspace's worked example, not a live run:** its "
            "`reference_trace.json`, as recorded."
        )
        st.info(f"{what} It records no timings, tokens or margins.", icon=":material/description:")
    else:
        notice(
            "caption",
            f"Run {trace.id[:8]} · {trace.status} · as of {trace.as_of} · "
            f"{trace.elapsed_s:.1f} s · {trace.endpoint} · started {trace.started:%Y-%m-%d %H:%M:%S}",
        )
        if trace.status == "cancelled":
            st.warning(
                "Cancelled: the stages that finished are kept below.", icon=":material/stop_circle:"
            )
    paths = {} if is_reference(trace) else prompt_paths(current)
    with st.container(border=True):
        show_html(question_html(trace.question))
    for card in stage_cards(trace.stages):
        _draw_card(card, paths)
    if trace.sql is not None:
        st.subheader("SQL")
        st.code(trace.sql.formatted or trace.sql.original, language="sql")
        if trace.sql.executed and trace.sql.executed.strip() != trace.sql.original.strip():
            with st.expander("As run on DuckDB"):
                st.code(trace.sql.executed, language="sql")
    if trace.result is not None:
        st.subheader("Result")
        result = trace.result
        st.dataframe(pd.DataFrame(list(result.rows), columns=list(result.columns)), hide_index=True)
        more = f", first {len(result.rows)} shown" if result.truncated else ""
        st.caption(f"{result.row_count:,} rows{more}")
    if trace.narrative is not None:
        st.subheader("Answer")
        with st.container(border=True):
            show_html(escaped_block(trace.narrative))


def _draw_progress(snapshot: RunSnapshot) -> None:
    done = len(snapshot.stages)
    total = max(len(snapshot.planned), 1)
    label = "Cancelling after the current stage…" if snapshot.state == "cancelling" else "Running"
    st.progress(
        done / total, text=f"{label} · {done} of {total} stages · {snapshot.elapsed_s:.0f} s"
    )
    finished = {s.stage_id: s for s in snapshot.stages}
    current_stage = snapshot.current
    lines = []
    for planned in snapshot.planned:
        stage = finished.get(planned.stage_id)
        if stage is not None:
            state = "skipped" if stage.skipped else ("failed" if stage.error else "ok")
        elif current_stage and current_stage.stage_id == planned.stage_id:
            state = "running"
        else:
            state = "pending"
        lines.append(f"{PROGRESS_ICONS[state]} {planned.order}. {planned.title}")
    st.markdown("  \n".join(lines))


def _live_run(job: RunJob) -> None:
    if st.button("Cancel", key="run_cancel", disabled=job.cancel_requested):
        job.cancel()
    snapshot = job.snapshot()
    _draw_progress(snapshot)
    with st.container(border=True):
        show_html(question_html(snapshot.question))
    paths = prompt_paths(current)
    for card in stage_cards(snapshot.stages):
        _draw_card(card, paths)


# -- the page ------------------------------------------------------------------------------

st.markdown(f"<style>{DIFF_CSS}{RUN_PAGE_CSS}</style>", unsafe_allow_html=True)
st.title("Run")

job: RunJob | None = st.session_state.get(JOB)
if job is not None and job.done:
    final = job.snapshot()
    del st.session_state[JOB]
    job = None
    if final.trace is not None:
        st.session_state[SHOWN] = final.trace
    if final.error:
        st.session_state[NOTICE] = final.error
if job is None:  # not while a run polls: it would read the catalog twice a second
    workspace_ready(current)

endpoint = _endpoint(current.model_dump_json())
models = " · ".join(f"{role}: {name}" for role, name in endpoint.models)
dot = "🟢" if endpoint.up else "🔴"
notice("caption", f"{dot} Endpoint {endpoint.summary} · models {models}")
if not endpoint.up and current.managed_server:
    manager = server_manager(current)
    manager.autostart()
    if manager.busy:
        step = manager.progress_lines[-1] if manager.progress_lines else "starting"
        notice(
            "info",
            f"Starting the local model server ({step}). Everything that needs no model "
            "works meanwhile; the Model server page shows the details.",
        )
    elif manager.last_error:
        notice("warning", f"The local model server did not start: {manager.last_error}")

reference = reference_trace_path(current)  # the demo's worked example, or the workspace's own
question = st.text_area(
    "Question",
    key="run_question",
    height=90,
    placeholder=f"Ask {current.workspace_name}'s database something…",
)
left, middle, right = st.columns([1, 1, 2], vertical_alignment="bottom")
as_of = left.date_input("As-of date", value=current.as_of, key="run_as_of")
use_cache = middle.checkbox("Use the stage cache", value=True, key="run_use_cache")
if right.button("Run", key="run_start", type="primary", disabled=job is not None):
    try:
        job = start_run_job(
            question, as_of=as_of, settings=current, store=engine, use_cache=use_cache
        )
    except WorkbenchError as exc:
        notice("error", str(exc))
    else:
        st.session_state[JOB] = job
        st.session_state.pop(NOTICE, None)

if message := st.session_state.pop(NOTICE, None):
    notice("error", f"The run could not finish: {message}")

wanted = st.query_params.get("trace")  # a link from another page to one stored run
if wanted and st.session_state.get("run_linked_trace") != wanted:
    st.session_state["run_linked_trace"] = wanted
    try:
        st.session_state[SHOWN] = open_trace(engine, wanted, reference)
    except WorkbenchError as exc:
        notice("warning", f"The linked run could not be opened: {exc}")
linked = linked_pair(st.query_params.to_dict())  # a compare link from another page
trace_tab, compare_tab, history_tab = st.tabs(
    ["Trace", "Compare runs", "History"], default="Compare runs" if linked else None
)

with trace_tab:
    if job is not None:
        _live_run(job)
    else:
        shown: Trace | None = st.session_state.get(SHOWN)
        if shown is None and not endpoint.up and reference is not None:
            st.caption("No model server is answering, so here is the worked example.")
            shown = load_reference_trace(reference)
        if shown is None:
            st.info("Type a question and press **Run**.")
            if reference is not None and st.button("Show the worked example", key="run_reference"):
                st.session_state[SHOWN] = load_reference_trace(reference)
                st.rerun()
        else:
            if (
                reference is not None
                and not is_reference(shown)
                and st.button("Show the worked example", key="run_reference")
            ):
                st.session_state[SHOWN] = load_reference_trace(reference)
                st.rerun()
            _draw_trace(shown)

summaries = recent_traces(engine, limit=30)

with history_tab:
    if not summaries:
        st.caption("No stored runs yet: every run, finished or cancelled, is kept here.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {"started": s.created, "status": s.status, "as of": s.as_of,
                     "question": s.question, "id": s.id[:8]}
                    for s in summaries
                ]
            ),
            hide_index=True,
        )  # fmt: skip
        picked = st.selectbox(
            "Stored run",
            summaries,
            format_func=lambda s: f"{s.created:%Y-%m-%d %H:%M:%S} · {s.status} · {s.question[:90]}",
            key="history_pick",
        )
        if st.button("Open", key="history_open") and picked is not None:
            try:
                st.session_state[SHOWN] = open_trace(engine, picked.id, reference)
            except WorkbenchError as exc:
                notice("error", str(exc))
            else:
                st.rerun()

with compare_tab:
    known = {s.id for s in summaries} | ({REFERENCE_TRACE_ID} if reference else set())
    older = trace_summaries(engine, [i for i in linked or () if i not in known])
    labels = {
        s.id: f"{s.created:%Y-%m-%d %H:%M:%S} · {s.status} · {s.question[:70]}"
        for s in [*summaries, *older]
    }
    if reference is not None:
        labels[REFERENCE_TRACE_ID] = "The worked example (reference)"
    ids = list(labels)
    if linked and (missing := [i for i in linked if i not in labels]):
        notice(
            "warning",
            f"The linked run {', '.join(missing)} is not in this store; "
            "it may have been made with another WORKBENCH_STORE_URL.",
        )
        linked = None
    shown_trace: Trace | None = st.session_state.get(SHOWN)
    pair = default_pair(summaries, shown_trace.question if shown_trace else None)
    if len(ids) < 2:
        st.caption("Run a question at least once to compare it with another run.")
    else:
        defaults = linked or pair or (ids[0], ids[1])
        if st.session_state.get("compare_defaults") != defaults:  # new runs: start from them
            st.session_state["compare_defaults"] = defaults
            st.session_state["compare_a"], st.session_state["compare_b"] = defaults
        col_a, col_b = st.columns(2)
        a_id = col_a.selectbox("Run A (before)", ids, format_func=labels.get, key="compare_a")
        b_id = col_b.selectbox("Run B (after)", ids, format_func=labels.get, key="compare_b")
        if a_id == b_id:
            st.info("Pick two different runs.")
        else:
            try:
                comparison = compare_runs(
                    open_trace(engine, a_id, reference), open_trace(engine, b_id, reference)
                )
            except WorkbenchError as exc:
                notice("error", str(exc))
                st.stop()
            if not comparison.same_question:
                st.warning("These runs answer different questions; expect every stage to differ.")
            first = comparison.first_difference
            if comparison.identical:
                st.success("Every stage gave the same output and the result rows match.")
            elif first is not None and first.divergence is not None:
                show_html(
                    f"<div>The runs part ways at <b>stage {first.number} "
                    f"({escape(first.title)})</b>, word {first.divergence.word_index + 1}.</div>"
                )
            elif first is not None:
                show_html(
                    f"<div>The runs part ways at <b>stage {first.number} "
                    f"({escape(first.title)})</b>.</div>"
                )
            else:
                st.markdown("Every stage gave the same output, but the result rows differ.")
            for stage in comparison.stages:
                with st.container(border=True):
                    edited = " · prompt edited between the runs" if stage.prompt_changed else ""
                    show_html(
                        f"<div><b>{escape(f'{stage.number}. {stage.title}')}</b> · "
                        f"{VERDICTS[stage.verdict]}{edited}</div>"
                    )
                    if stage.divergence is not None:
                        st.caption(f"First differing word: {stage.divergence.word_index + 1}")
                    if stage.verdict != "same":
                        side_a, side_b = st.columns(2)
                        with side_a:
                            show_html(stage.a_html)
                        with side_b:
                            show_html(stage.b_html)

if job is not None:
    # Poll by re-running the whole page while the run goes on: it draws in well under a
    # second (bench/bench_run_page.py), and a click on Cancel interrupts the wait.
    time.sleep(POLL_S)
    st.rerun()
