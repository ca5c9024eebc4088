"""What every page shares: settings, the workspace banner, and the cached engines built from them."""

from __future__ import annotations

import re

import streamlit as st
from sqlalchemy.engine import Engine

from workbench.errors import WorkbenchError
from workbench.llm import ServerManager, local_model_entry
from workbench.settings import Settings, load_settings
from workbench.sql import database_label
from workbench.store import open_store


def ensure_navigation() -> None:
    """Rerun through app.py when Streamlit ran this page file on its own.

    Streamlit serves a fresh server's first request for ``/<page>`` with its
    file-based navigation (a ``pages/`` folder sits beside ``app.py``): the page
    then runs without app.py's navigation and layout. Switching that mode off
    (what ``st.navigation`` itself does) and rerunning runs app.py as intended.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner=False)
def app_choices() -> dict[str, str]:
    """Settings picked in the app for this app process (the Model server page's local
    model); they win over the environment until the app restarts."""
    return {}


def settings() -> Settings:
    """The current settings, with the workspace banner drawn; a bad setting stops the page."""
    ensure_navigation()
    try:
        current = load_settings(**app_choices())
        local_model_entry(current.local_model)  # an unknown name stops here, with the names
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script
    workspace_banner(current)
    return current


def code_span(text: str) -> str:
    """``text`` as Markdown inline code: shown literally, whatever it holds (CommonMark)."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""  # one is stripped each side
    return f"{fence}{pad}{text}{pad}{fence}"


def workspace_banner(current: Settings) -> None:
    """Which workspace, database and model endpoint this page works on."""
    endpoint = ", ".join(current.base_urls)
    if current.managed_server:
        endpoint += " (the local server)"
    st.caption(
        f"Workspace {code_span(current.workspace_name)} · database "
        f"{code_span(database_label(current))} · endpoint {code_span(endpoint)}"
    )


@st.cache_resource(show_spinner=False)
def _store(settings_json: str) -> Engine:
    return open_store(Settings.model_validate_json(settings_json))


def store(current: Settings) -> Engine:
    """The store engine for these settings, created once per process."""
    return _store(current.model_dump_json())


@st.cache_resource(show_spinner=False)
def _server_manager(settings_json: str) -> ServerManager:
    return ServerManager(Settings.model_validate_json(settings_json))


def server_manager(current: Settings) -> ServerManager:
    """The one manager of the local model server, shared by every page and rerun.

    A page that needs the model and finds no server can call
    ``server_manager(s).start_in_background()`` when ``s.managed_server``.
    """
    return _server_manager(current.model_dump_json())
