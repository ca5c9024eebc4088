"""Smoke: run the suite in one click, watch it, compare runs, plot flakiness, run experiments."""

from __future__ import annotations

import threading
from dataclasses import replace

import pandas as pd
import streamlit as st

from pages.common import (
    notice,
    page_boundary,
    server_manager,
    settings,
    show_html,
    store,
    workspace_ready,
)
from workbench.cases import load_cases, load_tags, stratified_sample, tag_categories
from workbench.diagnosis.noise import paired_test_html
from workbench.diagnosis.report import case_details, case_line, load_blame
from workbench.diffing import DIFF_CSS
from workbench.errors import WorkbenchError
from workbench.llm import make_llm
from workbench.markup import escape
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.smoke import (
    CPU_EXPERIMENT,
    MODE_LABELS,
    REVIEW_VIEWS,
    CaseResult,
    RunPlan,
    RunRecord,
    ServerSpeed,
    SmokeJob,
    SmokeOptions,
    SmokeProgress,
    affordable_limit,
    break_figure,
    category_figure,
    check_servers,
    compare_smoke_runs,
    comparison_frame,
    divergence_figure,
    first_break,
    first_run_options,
    format_duration,
    list_runs,
    load_run,
    margin_figure,
    measure_speed,
    model_matrix,
    model_variants,
    plan_run,
    rates_figure,
    repeat_stages,
    results_frame,
    resume_run,
    review_cases,
    run_plan,
    run_variants,
    start_smoke_job,
    untested,
    variant_rates,
    view_counts,
)
from workbench.smoke.ablation import ablation_figure, ablation_frame, stored_ablation, variant_runs
from workbench.smoke.reask import settle_quick_check
from workbench.smoke.report import VERDICT_LABELS

JOB, EXPERIMENT = "smoke_job", "smoke_experiment"
FEW_MINUTES_S = 300  # the default selection fits in this on the current server
LINKS = {  # link columns open the Run page on a case's stored traces
    "trace": st.column_config.LinkColumn("trace", display_text="open in Run"),
    "compare repeats": st.column_config.LinkColumn("compare repeats", display_text="compare"),
    "compare": st.column_config.LinkColumn("compare", display_text="compare in Run"),
}

current = settings()
engine = store(current)


def _env() -> RunEnvironment:
    """The environment of a job; its model client is closed when the job ends."""
    prompts = load_prompt_set(current.prompts_dir)  # a bad prompt file fails before a client
    return RunEnvironment(current, make_llm(current), prompts, store=engine)


def _server():
    return server_manager(current) if current.managed_server else None


def _start(options: SmokeOptions, speed: ServerSpeed) -> None:
    env, server = _env(), _server()
    first_selftest = options.concurrency is None and bool(untested(current, engine, server))

    def work(on_progress, cancel: threading.Event) -> RunRecord:
        seen: list[SmokeProgress] = []

        def progress(p: SmokeProgress) -> None:
            seen.append(p)
            on_progress(p)

        def note(text: str) -> None:  # the re-asks, under the finished run's counts
            if seen:
                on_progress(replace(seen[-1], note=text))

        try:
            if first_selftest:  # how many cases may go at once, measured once per setting
                check_servers(current, engine, env.prompts, server=server)
            plan = plan_run(env, options, server=server, speed=speed)
            record = run_plan(env, plan, server=server, on_progress=progress, cancel=cancel)
            return settle_quick_check(env, plan, record, note)
        finally:
            env.llm.close()

    st.session_state[JOB] = start_smoke_job(work, "run")


@st.cache_data(ttl=120, show_spinner="Measuring the model server's speed…")
def _speed(endpoint: str, model: str) -> ServerSpeed:
    """The server's pace now (and a calibration when the store has no timings of it)."""
    env = _env()
    try:
        return measure_speed(env)
    finally:
        env.llm.close()


def _plan(options: SmokeOptions, speed: ServerSpeed) -> RunPlan:
    env = _env()
    try:
        return plan_run(env, options, server=_server(), speed=speed)
    finally:
        env.llm.close()


def _resume(run_id: str) -> None:
    env, server = _env(), _server()

    def work(on_progress, cancel: threading.Event) -> RunRecord:
        try:
            return resume_run(env, run_id, server=server, on_progress=on_progress, cancel=cancel)
        finally:
            env.llm.close()

    st.session_state[JOB] = start_smoke_job(work, "resume")


@st.fragment(run_every=1.0)
@page_boundary()  # a fragment's rerun runs outside app.py's boundary
def _live() -> None:
    job: SmokeJob | None = st.session_state.get(JOB)
    if job is None:
        return
    snapshot = job.snapshot()
    if snapshot.done:
        st.session_state.pop(JOB, None)
        if snapshot.error:
            st.session_state["smoke_notice"] = snapshot.error
        if snapshot.progress is not None:
            st.session_state["smoke_show"] = snapshot.progress.run_id  # show what just ran
        st.rerun()
    progress = snapshot.progress
    if st.button("Cancel", key="smoke_cancel", disabled=snapshot.cancel_requested):
        job.cancel()
    if progress is None:
        st.progress(0.0, text=f"starting… {snapshot.elapsed_s:.0f} s")
        return
    c = progress.counts
    left = (
        f" · about {format_duration(progress.remaining_s)} left"
        if progress.remaining_s is not None
        else ""
    )
    stages = (
        f"stage {progress.stages_done} of {progress.stages_planned} · "
        if progress.stages_planned
        else ""
    )
    st.progress(
        progress.fraction,
        text=f"{stages}{c.done} of {progress.planned} cases · pass {c.passed} · fail {c.failed} · "
        f"flaky {c.flaky} · error {c.errors}{left}",
    )
    if progress.note:
        notice("caption", progress.note)
    try:
        st.dataframe(
            results_frame(load_run(engine, progress.run_id)), hide_index=True, column_config=LINKS
        )
    except WorkbenchError as exc:
        notice("error", str(exc))


def _first_run_offer(speed: ServerSpeed) -> None:
    """A first visit: a small fast run (one case per category, once) instead of the suite."""
    options = first_run_options(suite, categories)
    try:
        estimate = _plan(options, speed).estimate
    except WorkbenchError as exc:
        notice("warning", str(exc))
        return
    with st.container(border=True):
        show_html(
            f"<b>No smoke runs yet.</b> Start small: the first case of each category "
            f"({len(options.ids)} cases), once each: {escape(estimate.describe())}. Repeats, "
            "which catch flaky cases, come with the next run."
        )
        if st.button("Run the first run", type="primary", key="smoke_first_run",
                     disabled=job is not None):  # fmt: skip
            try:
                _start(options, speed)
            except WorkbenchError as exc:
                notice("error", str(exc))
            else:
                st.rerun()


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


def _review(record: RunRecord, ids: list[str]) -> None:
    """Filter the run's cases like a reviewer; a selected row opens its repeats below."""
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


def _against_baseline(record: RunRecord, baseline_id: str) -> None:
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
    _blame_beside(record.id, baseline_id)


def _blame_beside(run_id: str, baseline_id: str) -> None:
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


st.title("Smoke suite")
st.caption(
    "**Check an edit** answers *what did my edit break?* in minutes: each case of a finished "
    "full run once more, its unchanged stages answered from that run, the narrative left out. "
    "**Hunt flakes** runs every case several times back to back at temperature 0 with the "
    "stage cache bypassed: a case whose repeats disagree anywhere is flaky."
)

if not workspace_ready(current):
    st.stop()  # no case could run
try:
    directory = current.smoke_cases_dir
    suite = load_cases(directory, current.as_of)
    tag_list = load_tags(directory)
    tags = sorted(tag_list)
    categories = tag_categories(tag_list)
except WorkbenchError as exc:
    notice("error", str(exc))
    st.stop()
if not suite:
    notice("info", f"{directory} holds no smoke cases yet: write some ({directory / 'README.md'}).")

job: SmokeJob | None = st.session_state.get(JOB)
if message := st.session_state.pop("smoke_notice", None):
    notice("error", message)

runs = list_runs(engine, limit=100)
# no probe while a run of ours is going: it could share a batch with the run's requests
speed = _speed(current.base_urls[0], current.model_for("main")) if job is None else ServerSpeed()
if not runs and job is None:
    _first_run_offer(speed)
labels = {
    r.id: f"{r.created:%Y-%m-%d %H:%M} · {r.label or r.id} · {r.status} · "
    f"{r.counts.passed}/{r.counts.done} pass, {r.counts.flaky} flaky"
    + (" · quick check" if r.mode == "quick" else "")
    for r in runs
}
baselines = [r.id for r in runs if r.status == "done" and r.mode == "hunt"]
if not st.session_state.get("smoke_mode_chosen"):  # until the user picks, suggest
    st.session_state["smoke_mode"] = "quick" if baselines else "hunt"
mode = st.radio(
    "What do you want to know?",
    ["quick", "hunt"],
    format_func=MODE_LABELS.get,
    horizontal=True,
    key="smoke_mode",
    on_change=lambda: st.session_state.update(smoke_mode_chosen=True),
    help="Check an edit needs a finished full run (Hunt flakes) as its baseline.",
)
left, middle, right = st.columns(3)
category = left.selectbox("Category", ["all", *categories], key="smoke_category")
chosen_tags = middle.multiselect("Tags (all of)", tags, key="smoke_tags")
concurrency = right.number_input(
    "Cases at once (0: as many as the self-test allows)", 0, 16, 0, key="smoke_concurrency"
)
baseline = None
repeats, restart = 1, False
left, middle, right = st.columns(3)
if mode == "quick":
    if not baselines:
        st.info("No finished full run yet: **Hunt flakes** once to get a baseline.")
    baseline = left.selectbox(
        "Baseline (a finished full run)", baselines, format_func=labels.get, key="smoke_baseline"
    )
else:
    repeats = int(left.number_input("Repeats", 1, 10, 2, key="smoke_repeats"))
    restart = middle.checkbox(
        "Restart the server between repeats",
        key="smoke_restart",
        disabled=not current.managed_server,
        help="Only when the workbench manages the model server",
    )
label = right.text_input("Label", key="smoke_label", placeholder="e.g. after the noise edit")

plan = None
limit = 0
try:
    options = SmokeOptions(
        repeats=repeats,
        concurrency=int(concurrency) or None,
        restart_between_repeats=bool(restart),
        tags=tuple(chosen_tags),
        category=None if category == "all" else category,
        label=label,
        mode=mode,
        baseline=baseline,
    )
    everything = _plan(options, speed)
except WorkbenchError as exc:
    notice("warning", str(exc))
else:
    fits = affordable_limit(everything.estimate, everything.cases, FEW_MINUTES_S)
    default = fits if fits < len(everything.cases) else 0
    if st.session_state.get("smoke_limit_default") != (mode, default):
        if st.session_state.get("smoke_limit", default) == st.session_state.get(
            "smoke_limit_suggested", default
        ):
            st.session_state["smoke_limit"] = default  # the user has not chosen one: follow
        st.session_state["smoke_limit_default"] = (mode, default)
        st.session_state["smoke_limit_suggested"] = default
    limit = st.number_input(
        "At most this many cases, sampled across categories (0: all)",
        0,
        len(everything.cases),
        key="smoke_limit",
        help="The default fits in a few minutes on this server; the same number always "
        "samples the same cases.",
    )
    chosen = stratified_sample(everything.cases, int(limit)) if limit else everything.cases
    estimate = everything.estimate.subset(c.id for c in chosen)
    notice("info", f"{MODE_LABELS[mode]}: {estimate.describe()}")
    st.caption(
        f"All {len(everything.cases)} cases: about {format_duration(everything.estimate.total_s)}."
    )
    if options.concurrency is None and untested(current, engine, _server()):
        st.caption(
            "The first run on these server settings starts with the concurrency self-test "
            "(about a minute): it finds out whether cases may go several at a time."
        )
    elif everything.manifest.concurrency_note:
        notice("caption", everything.manifest.concurrency_note)
    plan = everything
if st.button("Run the smoke suite", type="primary", disabled=job is not None or plan is None):
    try:
        _start(replace(options, limit=int(limit) or None), speed)
    except WorkbenchError as exc:
        notice("error", str(exc))
    else:
        st.rerun()

_live()

unfinished = [r.id for r in runs if r.status in ("interrupted", "cancelled", "running") and
              r.counts.done < r.planned]  # fmt: skip
if unfinished and job is None:
    with st.expander(f"{len(unfinished)} unfinished runs"):
        picked = st.selectbox("Run", unfinished, format_func=labels.get, key="smoke_resume_pick")
        if st.button("Resume", key="smoke_resume"):
            _resume(picked)
            st.rerun()

results_tab, compare_tab, plots_tab, lab_tab = st.tabs(
    ["Results", "Compare runs", "Plots", "Models and server settings"]
)

with results_tab:
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
            _against_baseline(record, m.baseline)  # regressions and fixes first
        _review(record, list(labels))

with compare_tab:
    if len(runs) < 2:
        st.caption("Two runs are needed to compare.")
    else:
        ids = list(labels)
        left, right = st.columns(2)
        before_id = left.selectbox(
            "Before", ids, index=1, format_func=labels.get, key="smoke_before"
        )
        after_id = right.selectbox("After", ids, index=0, format_func=labels.get, key="smoke_after")
        comparison = compare_smoke_runs(load_run(engine, before_id), load_run(engine, after_id))
        counts = comparison.counts
        cols = st.columns(5)
        for col, name in zip(cols, ["new failure", "fixed", "newly flaky", "no longer flaky",
                                    "unchanged"], strict=True):  # fmt: skip
            col.metric(name, counts[name])
        show_html(paired_test_html(comparison.paired_test))
        if comparison.prompt_set_changed:
            st.caption("The prompt files differ between these runs.")
        st.dataframe(comparison_frame(comparison), hide_index=True, column_config=LINKS)
        _blame_beside(after_id, before_id)
        st.caption("**compare in Run** opens a case's two traces in the Run page's compare view.")

with plots_tab:
    if not runs:
        st.caption("Plots appear after the first run.")
    else:
        st.plotly_chart(rates_figure(runs), key="smoke_rates")
        picked = st.selectbox("Run for the per-run plots", list(labels), format_func=labels.get,
                              key="smoke_plot_run")  # fmt: skip
        record = load_run(engine, picked)
        st.plotly_chart(category_figure(record), key="smoke_categories")
        recent = [load_run(engine, r.id) for r in runs[:10]]
        st.plotly_chart(divergence_figure(recent), key="smoke_divergence")
        st.plotly_chart(margin_figure(recent), key="smoke_margins")

with lab_tab:
    st.markdown("**Which cases flipped** between two runs (two models, adapters or settings)")
    if len(runs) >= 2:
        chosen = st.multiselect("Runs", list(labels), default=list(labels)[:2],
                                format_func=labels.get, key="smoke_matrix_runs")  # fmt: skip
        if len(chosen) >= 2:
            matrix = model_matrix({labels[i]: load_run(engine, i) for i in chosen})
            st.dataframe(matrix[matrix["flipped"]], hide_index=True)
            st.caption(f"{int(matrix['flipped'].sum())} of {len(matrix)} cases flipped")
    st.markdown("**Run an experiment**: the same suite under each setting, one after another")
    served = st.text_input("Models or adapters to compare (comma-separated; empty: server settings)",
                           key="smoke_models")  # fmt: skip
    variants = model_variants([m.strip() for m in served.split(",") if m.strip()]) or CPU_EXPERIMENT
    st.dataframe(
        pd.DataFrame([{"setting": v.label, "changes": v.overrides, "at once": v.concurrency,
                       "restart between repeats": v.restart_between_repeats} for v in variants]),
        hide_index=True,
    )  # fmt: skip
    most = max(len(suite), 1)  # an empty suite: the notice at the top says to write cases
    exp_limit = st.number_input("Cases per setting", 1, most, min(10, most), disabled=not suite,
                                key="smoke_exp_limit")  # fmt: skip
    needs_server = any(v.restart_server for v in variants)
    if needs_server and not current.managed_server:
        st.caption(
            "Server settings can only be changed on the managed server (no WORKBENCH_BASE_URL)."
        )
    if st.button("Run the experiment", key="smoke_experiment",
                 disabled=job is not None or not suite
                 or (needs_server and not current.managed_server)):  # fmt: skip
        options = SmokeOptions(limit=int(exp_limit), label="experiment")

        env = _env()

        def work(on_progress, cancel):
            try:
                return run_variants(env, variants, options=options, on_progress=on_progress,
                                    cancel=cancel)  # fmt: skip
            finally:
                env.llm.close()

        st.session_state[JOB] = start_smoke_job(work, "experiment")
        st.session_state[EXPERIMENT] = [v.label for v in variants]
        st.rerun()
    experiment = [r for r in runs if r.label.startswith("experiment ")]
    if experiment:
        latest = {}
        for r in experiment:  # newest first: keep each setting's latest run
            latest.setdefault(r.label.removeprefix("experiment "), r.id)
        table = variant_rates({k: load_run(engine, v) for k, v in latest.items()})
        st.dataframe(table, hide_index=True)
    st.markdown("**Which stages earn their keep**: pipeline variants checked against a full run "
                "(`workbench smoke ablation --baseline RUN_ID`, or `smoke run --variant`)")  # fmt: skip
    ablations = variant_runs(engine)
    if not ablations:
        st.caption("No variant runs yet.")
    else:
        base_id = st.selectbox("Full run", list(ablations), format_func=lambda i: labels.get(i, i),
                               key="smoke_ablation_base")  # fmt: skip
        ablation = stored_ablation(engine, base_id, ablations[base_id],
                                   load_prompt_set(current.prompts_dir))  # fmt: skip
        st.dataframe(ablation_frame(ablation), hide_index=True)
        st.plotly_chart(ablation_figure(ablation), key="smoke_ablation")
        for stage, why in ablation.not_left_out.items():
            notice("caption", f"not left out: {stage}: {why}")
