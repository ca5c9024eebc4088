"""Budget: every stage prompt against its limits, and each stage over its versions."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.common import notice, settings, store
from workbench.errors import WorkbenchError
from workbench.prompts import (
    BUDGET_FILE,
    budget_paths,
    budget_series,
    load_budget_config,
    load_prompt_set,
)
from workbench.prompts import versions as pv
from workbench.prompts.budget import MEASURES
from workbench.prompts.rendered import rendered_schema

COLORS = {"ok": "#2e7d32", "warn": "#ef6c00", "over": "#c62828"}

current = settings()
engine = store(current)

st.title("Prompt budget")
try:
    rendered, schema_note = rendered_schema(current, [current.prompts_dir])
    budgets = budget_paths([current.prompts_dir], rendered=rendered)
    config = load_budget_config(current.prompts_dir / BUDGET_FILE)
except WorkbenchError as exc:
    notice("error", str(exc))
    st.stop()
try:
    load_prompt_set(current.prompts_dir)  # as a run reads them: a front matter typo is named
except WorkbenchError as exc:
    notice("error", str(exc))

if schema_note:  # the schema a stage is sent with counts towards its tokens when it is known
    notice("warning", schema_note)
for broken in (b for b in budgets if b.error):
    notice("error", broken.error)
measured = [b for b in budgets if b.measures is not None]
if not measured:
    st.info(f"No readable prompt files in `{current.prompts_dir}`.")
    st.stop()

st.caption(
    f"{len(measured)} stage prompts · tokens by `{measured[0].measures.tokenizer}` · "
    f"thresholds from `{current.prompts_dir / BUDGET_FILE}`"
)
st.dataframe(
    pd.DataFrame(
        [
            {"stage": b.stage, "profile": b.profile, "status": b.status}
            | {v.measure: f"{v.value} {v.status}" for v in b.verdicts}
            | {"edit": f"prompts?{urlencode({'stage': Path(b.path).name})}"}
            for b in measured
        ]
    ),
    hide_index=True,
    column_config={"edit": st.column_config.LinkColumn("edit", display_text="open in Prompts")},
)

columns = st.columns(2)
for index, measure in enumerate(MEASURES):
    verdicts = [b.verdict(measure) for b in measured]
    stages = [b.stage for b in measured]
    figure = go.Figure(
        go.Bar(
            x=stages,
            y=[v.value for v in verdicts],
            marker_color=[COLORS[v.status] for v in verdicts],
            hovertext=[v.reason for v in verdicts],
            name=measure,
        )
    )
    for line, color in (("warn_at", COLORS["warn"]), ("over_at", COLORS["over"])):
        figure.add_trace(
            go.Scatter(
                x=stages,
                y=[getattr(v, line) for v in verdicts],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 40, "color": color, "line": {"width": 3}},
                name=line.replace("_at", " from"),
            )
        )
    figure.update_layout(
        title=measure, height=300, margin={"t": 40, "b": 20}, showlegend=index == 0
    )
    columns[index % 2].plotly_chart(figure, key=f"bars:{measure}")

st.subheader("Over versions")
by_name = {b.stage: b for b in measured}
chosen = st.selectbox("Stage", list(by_name), key="history_stage")
stage_file = Path(by_name[chosen].path)
pv.sync_from_disk(engine, stage_file)
versions = pv.history(engine, stage_file)
points = budget_series(
    [(f"v{v.number}", v.text) for v in versions], path=str(stage_file), config=config
)
rows = [
    {"version": p.label} | {v.measure: v.value for v in p.budget.verdicts}
    for p in points
    if p.budget.error is None
]
if rows:
    frame = pd.DataFrame(rows)
    picked = st.multiselect("Measures", list(MEASURES), default=["rules", "rules_per_task"])
    history = go.Figure(
        [go.Scatter(x=frame["version"], y=frame[m], mode="lines+markers", name=m) for m in picked]
    )
    history.update_layout(height=320, margin={"t": 20, "b": 20})
    st.plotly_chart(history, key="history_chart")
    st.dataframe(frame, hide_index=True)
for point in points:
    if point.budget.error:
        notice("warning", f"{point.label}: {point.budget.error}")
