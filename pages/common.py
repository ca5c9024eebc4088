"""What every page shares: settings, the workspace banner, the cached engines built from
them, the two ways text that is not the page's own is shown (``show_html`` and ``notice``,
see workbench.markup), and the boundary every page runs inside (``page_boundary``)."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

import streamlit as st
from sqlalchemy.engine import Engine

from workbench.errors import WorkbenchError, unexpected_error
from workbench.llm import ServerManager, local_model_entry
from workbench.markup import NoticeKind, escape, notice_html
from workbench.pipeline import check_workspace
from workbench.settings import Settings, load_settings, unknown_variables
from workbench.sql import database_label
from workbench.store import open_store
from workbench.urls import redact_url


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


@contextlib.contextmanager
def page_boundary() -> Iterator[None]:
    """Run a page (``app.py`` runs each one inside this) or a fragment (as a decorator) so
    that an error ends it with one notice and never with a traceback.

    A ``WorkbenchError`` says what to fix (which file, line or setting): its message is the
    notice. Anything else is a defect: the notice gives its type and message, and the
    traceback goes to the server's log (stderr). The rest of the page is skipped. Streamlit's
    own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) is not an ``Exception``
    and passes through.
    """
    try:
        yield
    except WorkbenchError as exc:
        notice("error", str(exc))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        notice("error", unexpected_error(exc), title="Unexpected error")


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
    for warning in unknown_variables():
        notice("warning", warning)
    try:
        current = load_settings(**app_choices())
        local_model_entry(current.local_model)  # an unknown name stops here, with the names
    except WorkbenchError as exc:
        notice("error", str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script
    workspace_banner(current)
    return current


def workspace_ready(current: Settings) -> bool:
    """Show what would stop every run of the workspace (``check_workspace``: a broken prompt
    file, a database with no readable table, a ``schema.yaml`` typo) as an error notice;
    False when there is one."""
    try:
        check_workspace(current)
    except WorkbenchError as exc:
        notice("error", str(exc))
        return False
    return True


def workspace_banner(current: Settings) -> None:
    """Which workspace, database and model endpoint this page works on."""
    endpoint = ", ".join(redact_url(url) for url in current.base_urls)
    if current.managed_server:
        endpoint += " (the local server)"
    parts = (
        ("Workspace", current.workspace_name),
        ("database", database_label(current)),
        ("endpoint", endpoint),
    )
    show_html(
        '<div class="wb-banner" style="font-size:0.85rem;color:#667085">'
        + " · ".join(f"{label} <code>{escape(value)}</code>" for label, value in parts)
        + "</div>"
    )


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
    manager = ServerManager(Settings.model_validate_json(settings_json), starter="app")
    manager.stop_at_exit()
    return manager


def server_manager(current: Settings) -> ServerManager:
    """The one manager of the local model server, shared by every page and rerun.

    The app owns what it starts: the server stops when the app process ends, and a server
    an earlier app (or a `serve` since ended) left running is adopted, not started twice.
    A page that needs the model and finds no server can call
    ``server_manager(s).start_in_background()`` when ``s.managed_server``.
    """
    return _server_manager(current.model_dump_json())
