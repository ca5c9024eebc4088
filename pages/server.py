"""Server: the model server's status, served models, launch flags and log; Start / Restart / Stop."""

from __future__ import annotations

import streamlit as st

from pages.common import server_manager, settings, store
from workbench.errors import WorkbenchError
from workbench.llm import OpenAIClient, fastest_passing, selftest_history
from workbench.prompts import load_prompt_set
from workbench.smoke import check_servers, default_concurrency, stored_checks

current = settings()
manager = server_manager(current)
engine = store(current)

st.title("Model server")
if not current.managed_server:
    st.info(
        f"WORKBENCH_BASE_URL is set: the workbench uses {', '.join(current.base_urls)} "
        "and does not manage a server. The buttons below manage the local one at "
        f"{manager.base_url}."
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
        st.warning(status.note)
    if status.state == "adopted":
        st.caption("This server was not started by the workbench: it is used, never stopped.")
    if manager.last_error:
        st.error(manager.last_error)
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
            st.error(str(exc))
        st.rerun(scope="fragment")

    st.subheader("Served models")
    if status.healthy:
        try:
            models = OpenAIClient(manager.base_url, max_retries=0).list_models()
        except WorkbenchError as exc:
            st.error(str(exc))
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
st.caption(str(manager.log_path))
st.code("\n".join(manager.last_log_lines(40)) or "(no log yet)", language=None)

st.subheader("Concurrency self-test")
st.caption(
    "Smoke runs send several cases at once only to a server whose answers do not depend on "
    "what shares their batch. The self-test sends the same prompts (the noise-removal prompt "
    "on eight questions) one at a time, then "
    f"{default_concurrency(current)} at a time, and compares the tokens. The result is kept "
    "with the server's settings; a server without a passing one gets one case at a time. On a "
    "GPU server, `VLLM_BATCH_INVARIANT=1` (`WORKBENCH_SERVER_BATCH_INVARIANT=true` on the gpu "
    "profile) is what makes the answers batch-independent: test it there."
)
owned = manager if current.managed_server else None
try:
    checks = stored_checks(current, engine, owned)
except WorkbenchError as exc:
    st.error(str(exc))
    checks = {}
for url, check in checks.items():
    if check is None:
        st.caption(f"{url}: not tested with its current settings")
    elif check.passed:
        st.success(f"{url}: {check.summary()}")
    else:
        st.warning(f"{url}: {check.summary()}; smoke runs send it one case at a time")
if st.button("Run the self-test", key="selftest"):
    with st.spinner("Sending the prompts one at a time, then together…"):
        try:
            check_servers(current, engine, load_prompt_set(current.prompts_dir), server=owned)
        except WorkbenchError as exc:
            st.error(str(exc))
        else:
            st.rerun()
tested = [r for url in current.base_urls for r in selftest_history(engine, url)]
if tested:
    st.dataframe(
        [
            {
                "server": r.endpoint,
                "dtype": (r.flags or {}).get("dtype", "unknown"),
                "max_num_seqs": (r.flags or {}).get("max_num_seqs"),
                "passed": r.passed,
                "at once": r.concurrency,
                "one at a time (s)": round(r.sequential_s, 1),
                "together (s)": round(r.concurrent_s, 1),
                "tested": f"{r.created:%Y-%m-%d %H:%M}",
            }
            for r in tested
        ],
        hide_index=True,
        key="selftest_history",
    )
    best = fastest_passing(tested)
    if best is not None and len(tested) > 1:
        how = f"{best.concurrency} at a time" if best.passed else "one at a time"
        st.caption(
            f"Fastest setting with batch-independent answers: dtype "
            f"{(best.flags or {}).get('dtype', 'unknown')}, {how}."
        )
