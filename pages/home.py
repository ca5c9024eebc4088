"""Home: what the workbench is, the workspace it is on, and what its database holds."""

from __future__ import annotations

import streamlit as st

from pages.common import notice, settings
from workbench.cases import load_cases
from workbench.errors import WorkbenchError
from workbench.prompts import load_prompt_set
from workbench.sql import open_database, require_tables

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
notice("caption", f"Data directory: {current.data_dir.resolve()} · as-of date {current.as_of}")

st.subheader("The workspace")
if current.workspace is None:
    st.markdown(
        "The shipped demo: its stage prompts, smoke cases and demo database. "
        "`python -m workbench init FOLDER --from-demo` makes a workspace of your own; "
        "open it with `WORKBENCH_WORKSPACE=FOLDER`."
    )
try:
    prompts = load_prompt_set(current.prompts_dir).stages
    cases = load_cases(current.smoke_cases_dir, current.as_of)
except WorkbenchError as exc:
    notice("error", str(exc))
else:
    st.dataframe(
        [
            {"what": "name", "value": current.workspace_name},
            {"what": "folder", "value": str(current.workspace or "(the shipped demo)")},
            {"what": "stage prompts", "value": f"{len(prompts)} in {current.prompts_dir}"},
            {"what": "smoke cases", "value": f"{len(cases)} in {current.smoke_cases_dir}"},
        ],
        hide_index=True,
        key="workspace_facts",
    )

st.subheader("The database")
if current.database_url == "demo":
    st.markdown(
        "The demo's synthetic database, which the pipeline's SQL runs against "
        "(`fixtures/README.md` describes its tables and planted facts). It is generated "
        "from a seed the first time it is needed and cached in the data directory."
    )
try:
    with st.spinner("Opening the database…"):
        database = open_database(current)
        require_tables(database)
        counts = database.table_counts()
except WorkbenchError as exc:
    notice("error", str(exc))
else:
    st.dataframe(
        [{"table": name, "rows": rows} for name, rows in counts.items()],
        hide_index=True,
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
        key="database_tables",
    )
    seed = f" · seed {current.demo_seed}" if current.database_url == "demo" else ""
    notice("caption", f"{database.label}{seed}")
