"""The workbench's web app, its pages and navigation (``streamlit run webapp.py`` serves it)."""

from __future__ import annotations

import streamlit as st

from pages.common import page_boundary

st.set_page_config(page_title="Text2SQL Workbench", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/run.py", title="Run", icon="▶️"),
    st.Page("pages/smoke.py", title="Smoke", icon="🧪"),
    st.Page("pages/server.py", title="Model server", icon="🖥️"),
    st.Page("pages/prompts.py", title="Prompts", icon="✏️"),
    st.Page("pages/budget.py", title="Budget", icon="📏"),
]

with page_boundary():  # an error shows as one notice, never as a traceback
    st.navigation(PAGES).run()
