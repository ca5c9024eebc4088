"""The determinism plots: pass and flaky rates over runs, per category, where flaky
cases diverge and how low their margins were.

Built here as plotly figures from plain data frames; a page only draws them. pandas and
plotly are imported when a plot is drawn, not when the workbench starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.smoke.results import RunRecord, RunSummary

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


def rates_frame(summaries: list[RunSummary]) -> pd.DataFrame:
    """Pass and flaky rates of finished cases, oldest run first."""
    import pandas as pd

    rows = []
    for s in sorted(summaries, key=lambda s: s.created):
        done = s.counts.done
        if not done:
            continue
        rows.append(
            {
                "run": s.id,
                "label": s.label or s.id,
                "created": s.created,
                "pass rate": s.counts.passed / done,
                "flaky rate": s.counts.flaky / done,
            }
        )
    return pd.DataFrame(rows, columns=["run", "label", "created", "pass rate", "flaky rate"])


def rates_figure(summaries: list[RunSummary]) -> go.Figure:
    import plotly.express as px

    frame = rates_frame(summaries)
    long = frame.melt(id_vars=["run", "label", "created"], var_name="rate", value_name="share")
    figure = px.line(long, x="created", y="share", color="rate", markers=True, hover_data=["run"])
    figure.update_layout(title="Pass and flaky rates over runs", yaxis_tickformat=".0%")
    return figure


def category_frame(record: RunRecord) -> pd.DataFrame:
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for r in record.results:
        row = rows.setdefault(r.category, {"category": r.category, "cases": 0, "passed": 0})
        row["cases"] += 1
        row["passed"] += r.verdict == "pass"
    frame = pd.DataFrame(list(rows.values()), columns=["category", "cases", "passed"])
    frame["pass rate"] = frame["passed"] / frame["cases"].where(frame["cases"] > 0, 1)
    return frame


def category_figure(record: RunRecord) -> go.Figure:
    import plotly.express as px

    figure = px.bar(category_frame(record), x="category", y="pass rate", hover_data=["cases"])
    figure.update_layout(title=f"Pass rate per category ({record.id})", yaxis_tickformat=".0%")
    return figure


def divergence_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Flaky cases per first divergent stage, in pipeline order."""
    import pandas as pd

    counts: dict[tuple[int, str], int] = {}
    for record in records:
        for r in record.results:
            point = r.divergence
            if point is not None and point.stage_id is not None:
                key = (point.stage_order or 0, f"{point.stage_order} {point.stage_title}")
                counts[key] = counts.get(key, 0) + 1
    rows = [{"stage": name, "flaky cases": n} for (_, name), n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["stage", "flaky cases"])


def divergence_figure(records: list[RunRecord]) -> go.Figure:
    import plotly.express as px

    figure = px.bar(divergence_frame(records), x="stage", y="flaky cases")
    figure.update_layout(title="Where flaky cases first diverge")
    return figure


def margin_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Per case and run: its lowest logprob margin and whether it was flaky."""
    import pandas as pd

    rows = [
        {"run": record.id, "case": r.case_id, "min margin": r.min_margin,
         "flaky": r.verdict == "flaky"}
        for record in records
        for r in record.results
        if r.min_margin is not None
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["run", "case", "min margin", "flaky"])


def margin_figure(records: list[RunRecord]) -> go.Figure:
    """Does a low margin predict a flip? Each case's lowest margin, flaky cases apart."""
    import plotly.express as px

    frame = margin_frame(records)
    frame["outcome"] = frame["flaky"].map({True: "flaky", False: "stable"})
    figure = px.strip(frame, x="outcome", y="min margin", hover_data=["case", "run"])
    figure.update_layout(title="Lowest logprob margin of each case, flaky or stable")
    return figure
