"""Home: what the workbench is, and what the demo database holds."""

from __future__ import annotations

import streamlit as st

from pages.common import settings

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
