"""Smoke: run the suite in one click, watch it, compare runs, plot flakiness, run experiments."""

from __future__ import annotations

import threading
from dataclasses import replace

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
from pages.smoke_compare import experiments, flipped_cases, plots, stage_ablation, two_runs
from pages.smoke_results import LINKS, run_results
from workbench.cases import load_cases, load_tags, stratified_sample, tag_categories
from workbench.errors import WorkbenchError
from workbench.experiments import run_variants
from workbench.experiments.servers import Variant
from workbench.llm import make_llm
from workbench.markup import escape
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.smoke import (
    MODE_LABELS,
    RunPlan,
    RunRecord,
    ServerSpeed,
    SmokeJob,
    SmokeOptions,
    affordable_limit,
    first_run_options,
    format_duration,
    list_runs,
    load_run,
    measure_speed,
    plan_run,
    results_frame,
    resume_run,
    start_smoke_job,
    suite_run,
    untested,
)

JOB = "smoke_job"
FEW_MINUTES_S = 300  # the default selection fits in this on the current server

current = settings()
engine = store(current)


def _env() -> RunEnvironment:
    """The environment of a job; its model client is closed when the job ends."""
    prompts = load_prompt_set(current.prompts_dir)  # a bad prompt file fails before a client
    return RunEnvironment(current, make_llm(current), prompts, store=engine)


def _server():
    return server_manager(current) if current.managed_server else None


def _start(options: SmokeOptions, speed: ServerSpeed) -> None:
    st.session_state[JOB] = start_smoke_job(suite_run(_env(), options, speed, _server()), "run")


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


def _experiment(variants: tuple[Variant, ...], options: SmokeOptions) -> None:
    """The suite under each setting, one after another, as one job (the experiment's button)."""
    env = _env()

    def work(on_progress, cancel):
        try:
            return run_variants(env, variants, options=options, on_progress=on_progress,
                                cancel=cancel)  # fmt: skip
        finally:
            env.llm.close()

    st.session_state[JOB] = start_smoke_job(work, "experiment")


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
    run_results(engine, runs, labels)

with compare_tab:
    two_runs(engine, runs, labels)

with plots_tab:
    plots(engine, runs, labels)

with lab_tab:
    flipped_cases(engine, runs, labels)
    experiments(current, engine, runs, suite, job, _experiment)
    stage_ablation(current, engine, labels)
