"""Smoke runs side by side: two runs compared, plots, flipped cases, experiments, ablation."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from pages.common import notice, show_html
from pages.smoke_results import LINKS, blame_beside
from workbench.cases import SmokeCase
from workbench.diagnosis.noise import paired_test_html
from workbench.experiments import CPU_EXPERIMENT, model_variants
from workbench.experiments.ablation import (
    ablation_figure,
    ablation_frame,
    stored_ablation,
    variant_runs,
)
from workbench.experiments.servers import Variant
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke import (
    RunSummary,
    SmokeJob,
    SmokeOptions,
    category_figure,
    compare_smoke_runs,
    comparison_frame,
    divergence_figure,
    load_run,
    margin_figure,
    model_matrix,
    rates_figure,
    variant_rates,
)


def two_runs(engine: Engine, runs: list[RunSummary], labels: dict[str, str]) -> None:
    """The Compare runs tab: what changed between a run before and a run after, with blame."""
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
        blame_beside(engine, after_id, before_id)
        st.caption("**compare in Run** opens a case's two traces in the Run page's compare view.")


def plots(engine: Engine, runs: list[RunSummary], labels: dict[str, str]) -> None:
    """The Plots tab: rates across runs, one run's categories, the recent runs' divergence."""
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


def flipped_cases(engine: Engine, runs: list[RunSummary], labels: dict[str, str]) -> None:
    """The cases whose verdicts differ between the runs picked (models, adapters, settings)."""
    st.markdown("**Which cases flipped** between two runs (two models, adapters or settings)")
    if len(runs) >= 2:
        chosen = st.multiselect("Runs", list(labels), default=list(labels)[:2],
                                format_func=labels.get, key="smoke_matrix_runs")  # fmt: skip
        if len(chosen) >= 2:
            matrix = model_matrix({labels[i]: load_run(engine, i) for i in chosen})
            st.dataframe(matrix[matrix["flipped"]], hide_index=True)
            st.caption(f"{int(matrix['flipped'].sum())} of {len(matrix)} cases flipped")


def experiments(
    current: Settings,
    engine: Engine,
    runs: list[RunSummary],
    suite: tuple[SmokeCase, ...],
    job: SmokeJob | None,
    start: Callable[[tuple[Variant, ...], SmokeOptions], None],
) -> None:
    """An experiment's settings and its button (``start`` runs it), then each setting's rates."""
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
        start(variants, SmokeOptions(limit=int(exp_limit), label="experiment"))
        st.rerun()
    experiment = [r for r in runs if r.label.startswith("experiment ")]
    if experiment:
        latest = {}
        for r in experiment:  # newest first: keep each setting's latest run
            latest.setdefault(r.label.removeprefix("experiment "), r.id)
        table = variant_rates({k: load_run(engine, v) for k, v in latest.items()})
        st.dataframe(table, hide_index=True)


def stage_ablation(current: Settings, engine: Engine, labels: dict[str, str]) -> None:
    """Which stages earn their keep: the stored pipeline variants against their full run."""
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
