"""Prompts: edit a stage prompt with its live budget, save versions, compare them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from pages.common import notice, settings, show_html, store
from workbench.errors import PromptError, VersionConflict, WorkbenchError
from workbench.markup import escape
from workbench.prompts import BUDGET_FILE, budget_text, load_budget_config
from workbench.prompts import versions as pv
from workbench.prompts.budget import prompt_files

BADGES = {"ok": ":green-badge[ok]", "warn": ":orange-badge[warn]", "over": ":red-badge[over]"}

current = settings()
engine = store(current)

st.title("Prompts")
try:
    files = prompt_files([current.prompts_dir])
    config = load_budget_config(current.prompts_dir / BUDGET_FILE)
except WorkbenchError as exc:
    notice("error", str(exc))
    st.stop()
if not files:
    st.info(f"No prompt files in `{current.prompts_dir}`.")
    st.stop()

linked = st.query_params.get("stage")  # the Run page's "Edit the … prompt" link
if linked and st.session_state.get("prompts_linked_stage") != linked:
    st.session_state["prompts_linked_stage"] = linked
    match = next((p for p in files if p.name == linked), None)
    if match is None:
        notice("warning", f"No prompt file named {linked} in {current.prompts_dir}.")
    else:
        st.session_state["stage"] = match
stage: Path = st.selectbox("Stage", files, format_func=lambda p: p.name, key="stage")
newest = pv.sync_from_disk(engine, stage)
TEXT, BASE, MESSAGE = f"text:{stage.name}", f"base:{stage.name}", f"message:{stage.name}"
if TEXT not in st.session_state:
    st.session_state[TEXT] = newest.text if newest else ""
    st.session_state[BASE] = newest.number if newest else None


def _save() -> None:
    text = st.session_state[TEXT]
    try:
        version = pv.save_prompt(
            engine, current, stage, text, st.session_state.get(MESSAGE, ""), st.session_state[BASE]
        )
    except VersionConflict as exc:
        st.session_state["notice"] = ("conflict", str(exc), "")
    except PromptError as exc:
        st.session_state["notice"] = ("invalid", str(exc), pv.error_excerpt(text, exc))
    else:
        st.session_state[BASE] = version.number
        st.session_state[MESSAGE] = ""
        st.session_state["notice"] = (
            "saved",
            f"Saved {stage.name} as version {version.number}.",
            "",
        )


def _reload() -> None:
    version = pv.latest(engine, stage)
    st.session_state[TEXT] = version.text if version else ""
    st.session_state[BASE] = version.number if version else None


def _restore() -> None:
    number = st.session_state[f"restore:{stage.name}"]
    try:
        version = pv.restore(engine, current, stage, number, st.session_state[BASE])
    except WorkbenchError as exc:
        st.session_state["notice"] = ("conflict", str(exc), "")
        return
    st.session_state[TEXT] = version.text
    st.session_state[BASE] = version.number
    st.session_state["notice"] = (
        "saved",
        f"Restored version {number} as version {version.number}.",
        "",
    )


pending = st.session_state.pop("notice", None)
if pending:
    kind, message, excerpt = pending
    if kind == "saved":
        notice("success", message)
    else:
        notice("error", message if kind == "invalid" else message.split("\n", 1)[0])
        if kind == "conflict" and "\n" in message:
            st.code(message.split("\n", 1)[1], language="diff")
            st.button("Load the latest version (discards your edit)", on_click=_reload)
        if excerpt:
            st.code(excerpt, language="markdown")

edit, history_tab, compare, sets = st.tabs(["Edit", "History", "Compare versions", "Compare sets"])

with edit:
    left, right = st.columns([3, 2])
    with left:
        text = st.text_area("Prompt file (front matter and body)", key=TEXT, height=520)
        st.caption(f"Editing from version {st.session_state[BASE] or '(new)'} of `{stage.name}`.")
        st.text_input("Save message", key=MESSAGE, placeholder="what changed and why")
        st.button("Save", type="primary", on_click=_save)
    with right:
        st.subheader("Budget")
        try:
            budget = budget_text(text, path=stage, config=config)
        except PromptError as exc:
            notice("error", str(exc))
            st.code(pv.error_excerpt(text, exc), language="markdown")
        else:
            st.caption(f"Profile `{budget.profile}` · tokens by `{budget.measures.tokenizer}`")
            for verdict in budget.verdicts:
                st.markdown(f"{BADGES[verdict.status]} **{verdict.measure}** — {verdict.reason}")
            measures = budget.measures
            if measures.hidden_rules or measures.shouting:
                with st.expander("Hidden rules and shouting", expanded=True):
                    for rule in measures.hidden_rules:
                        st.markdown(f"- line {rule.line}: {rule.text} (*{rule.cue}*)")
                    for shout in measures.shouting:
                        st.markdown(f"- line {shout.line}: shouting `{shout.word}`")

versions = pv.history(engine, stage)
labels = {v.number: v.label for v in versions}

with history_tab:
    if versions:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "version": v.number,
                        "time (UTC)": v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        "author": v.author,
                        "message": v.message,
                        "origin": v.origin,
                    }
                    for v in reversed(versions)
                ]
            ),
            hide_index=True,
        )
        st.selectbox(
            "Version to restore",
            list(labels),
            format_func=labels.get,
            key=f"restore:{stage.name}",
        )
        st.button("Restore", on_click=_restore)
    else:
        st.info("No versions yet.")

with compare:
    if len(versions) >= 2:
        numbers = list(labels)
        a = st.selectbox("From", numbers, index=len(numbers) - 2, format_func=labels.get)
        b = st.selectbox("To", numbers, index=len(numbers) - 1, format_func=labels.get)
        by_number = {v.number: v for v in versions}
        st.html(pv.side_by_side_html(by_number[a].text, by_number[b].text, f"v{a}", f"v{b}"))
    else:
        st.info("Two versions are needed for a comparison.")

with sets:
    moments = pv.timeline(engine)
    if len(moments) >= 2:
        names = [f"{m.created_at:%Y-%m-%d %H:%M:%S.%f} · {m.stage} v{m.number}" for m in moments]
        first = st.selectbox("Prompt set as of", range(len(moments)), format_func=names.__getitem__)
        second = st.selectbox(
            "compared with the set as of",
            range(len(moments)),
            index=len(moments) - 1,
            format_func=names.__getitem__,
        )
        changes = pv.diff_sets(engine, moments[first].created_at, moments[second].created_at)
        if not changes:
            st.info("The two prompt sets are the same.")
        for change in changes:
            show_html(f"<div><b>{escape(change.stage)}</b> — {escape(change.kind)}</div>")
            st.html(pv.side_by_side_html(change.before, change.after, "before", "after"))
    else:
        st.info("Two saved moments are needed for a comparison.")
