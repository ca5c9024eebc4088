"""What every page shares: settings and the cached engines built from them."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from workbench.errors import WorkbenchError
from workbench.settings import Settings, load_settings
from workbench.store import open_store


def settings() -> Settings:
    """The current settings; a bad setting stops the page with the fix."""
    try:
        return load_settings()
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script


@st.cache_resource(show_spinner=False)
def _store(settings_json: str) -> Engine:
    return open_store(Settings.model_validate_json(settings_json))


def store(current: Settings) -> Engine:
    """The store engine for these settings, created once per process."""
    return _store(current.model_dump_json())
