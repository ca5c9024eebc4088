"""Server: the model server's status, served models, launch flags and log; Start / Restart / Stop."""

from __future__ import annotations

import streamlit as st

from pages.common import notice, server_manager, settings
from workbench.errors import WorkbenchError
from workbench.llm import OpenAIClient

current = settings()
manager = server_manager(current)

st.title("Model server")
if not current.managed_server:
    notice(
        "info",
        f"WORKBENCH_BASE_URL is set: the workbench uses {', '.join(current.base_urls)} "
        "and does not manage a server. The buttons below manage the local one at "
        f"{manager.base_url}.",
    )


@st.fragment(run_every=2.0)
def live_status() -> None:
    status = manager.status()
    busy = manager.busy
    icon = {"running": "🟢", "adopted": "🟢", "starting": "🟡", "stopped": "⚪", "exited": "🔴"}
    cols = st.columns(4)
    cols[0].metric("State", f"{icon[status.state]} {'starting' if busy else status.state}")
    cols[1].metric("Base URL", status.base_url)
    cols[2].metric("PID", status.pid or "—")
    seconds = status.seconds_to_healthy
    cols[3].metric("Start to healthy", f"{seconds:.0f} s" if seconds else "—")
    if status.note:
        notice("warning", status.note)
    if status.state == "adopted":
        st.caption("This server was not started by the workbench: it is used, never stopped.")
    if manager.last_error:
        notice("error", manager.last_error)
    if busy or manager.progress_lines:
        with st.expander("Progress", expanded=busy):
            st.code("\n".join(manager.progress_lines) or "…", language=None)

    start, restart, stop = st.columns(3)
    if start.button("Start", disabled=busy or status.healthy, key="start"):
        manager.start_in_background()
        st.rerun(scope="fragment")
    if restart.button("Restart", disabled=busy or not status.owned, key="restart"):
        manager.start_in_background(restart=True)
        st.rerun(scope="fragment")
    if stop.button("Stop", disabled=busy or not status.owned, key="stop"):
        try:
            manager.stop()
        except WorkbenchError as exc:
            notice("error", str(exc))
        st.rerun(scope="fragment")

    st.subheader("Served models")
    if status.healthy:
        try:
            models = OpenAIClient(manager.base_url, max_retries=0).list_models()
        except WorkbenchError as exc:
            notice("error", str(exc))
        else:
            st.dataframe(
                [
                    {"model": m.id, "adapter of": m.parent or "", "max_model_len": m.max_model_len}
                    for m in models
                ],
                hide_index=True,
            )
    else:
        st.caption("No server answers yet.")


live_status()

st.subheader("Launch flags")
st.caption("These change the outputs: every run records them.")
st.json(manager.flags())
st.code(" ".join(manager.command()), language="bash")

st.subheader("Log")
notice("caption", str(manager.log_path))
st.code("\n".join(manager.last_log_lines(40)) or "(no log yet)", language=None)
