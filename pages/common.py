"""What every page shares: settings, the cached engines built from them, and the two ways
text that is not the page's own is shown (``show_html`` and ``notice``, see workbench.markup)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from workbench.errors import WorkbenchError
from workbench.llm import ServerManager
from workbench.markup import NoticeKind, notice_html
from workbench.settings import Settings, load_settings, unknown_variables
from workbench.store import open_store


def show_html(fragment: str) -> None:
    """Show HTML built and escaped by the workbench (``st.html`` reads no Markdown)."""
    st.html(fragment)


def notice(kind: NoticeKind, text: str, *, title: str = "") -> None:
    """An error, warning, info or success box, or a caption, for text that may not be ours:
    model output, questions, SQL, server errors, URL values, exception messages.

    ``st.error`` and its kin render their message as Markdown, where a bare URL becomes a
    link and ``![x](http://…)`` an image from anywhere; this shows the text as text.
    """
    show_html(notice_html(kind, text, title=title))


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


def settings() -> Settings:
    """The current settings; a bad setting stops the page with the fix."""
    ensure_navigation()
    for warning in unknown_variables():
        notice("warning", warning)
    try:
        return load_settings()
    except WorkbenchError as exc:
        notice("error", str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script


@st.cache_resource(show_spinner=False)
def _store(settings_json: str) -> Engine:
    return open_store(Settings.model_validate_json(settings_json))


def store(current: Settings) -> Engine:
    """The store engine for these settings, created once per process; a store that cannot
    be opened stops the page with the setting to fix."""
    try:
        return _store(current.model_dump_json())
    except WorkbenchError as exc:
        notice("error", str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script


@st.cache_resource(show_spinner=False)
def _server_manager(settings_json: str) -> ServerManager:
    return ServerManager(Settings.model_validate_json(settings_json))


def server_manager(current: Settings) -> ServerManager:
    """The one manager of the local model server, shared by every page and rerun.

    A page that needs the model and finds no server can call
    ``server_manager(s).start_in_background()`` when ``s.managed_server``.
    """
    return _server_manager(current.model_dump_json())
