"""Home: what the workbench is, and what the demo database holds."""

from __future__ import annotations

import streamlit as st

from pages.common import notice, settings
from workbench.errors import WorkbenchError
from workbench.sql import ensure_demo_database, table_counts

current = settings()

st.title("Text2SQL Workbench")
st.markdown(
    """
A workbench for **serial Text2SQL pipelines**: a messy question goes through six
narrow prompts in a row (date normalization, noise removal, query normalizer,
reference normalizer, miscellaneous cleanup, SQL generation), then the SQL runs
and a narrative answer is written.

Edit each stage's prompt, watch a question move through the stages as word diffs,
run the smoke suite in one click, catch every regression and flake, and keep each
prompt inside its size budget.
"""
)
st.caption(f"Data directory: `{current.data_dir.resolve()}` · as-of date {current.as_of}")

st.subheader("The demo database")
st.markdown(
    "A synthetic lab-results system (patients, physicians, labs, tests, orders, results) "
    "that the pipeline's SQL runs against. It is generated from a seed the first time "
    "it is needed and cached in the data directory."
)
try:
    with st.spinner("Building the demo database…"):
        path = ensure_demo_database(current)
        counts = table_counts(path)
except WorkbenchError as exc:
    notice("error", str(exc))
else:
    st.dataframe(
        [{"table": name, "rows": rows} for name, rows in counts.items()],
        hide_index=True,
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
    )
    st.caption(f"`{path.resolve()}` · seed {current.demo_seed}")
