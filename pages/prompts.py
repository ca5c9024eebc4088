"""Prompts: edit a stage prompt in a code editor with its live budget, save versions, compare them.

The front matter (YAML) and the body (Markdown) are two editors numbered with the
file's lines. Ctrl+Enter checks the text (the budget panel and the marks follow) and
Ctrl+S saves, each sending the editor's text with the command; leaving an editor
hands its text to the page too. Saving is only done from inside the editor: a button
outside it would race the editor's last keystrokes, which arrive separately.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from code_editor import code_editor

from pages.common import notice, settings, show_html, store
from workbench.errors import PromptError, VersionConflict, WorkbenchError
from workbench.markup import escape
from workbench.prompts import (
    BUDGET_FILE,
    LineMark,
    body_first_line,
    budget_text,
    counted_rules,
    join_parts,
    line_marks,
    load_budget_config,
    load_prompt_set,
    parse_prompt,
    split_parts,
)
from workbench.prompts import versions as pv
from workbench.prompts.budget import prompt_files
from workbench.prompts.files import SCHEMA_VARIABLES, stage_orders
from workbench.prompts.tokens import count_tokens_offline
from workbench.sql import database_label, workspace_schema

BADGES = {"ok": ":green-badge[ok]", "warn": ":orange-badge[warn]", "over": ":red-badge[over]"}
ANNOTATION = {"error": "error", "late rule": "warning", "shouting": "warning", "rule": "info"}
MARKER = {"error": "wb-error", "late rule": "wb-late", "rule": "wb-rule"}
EDITOR_CSS = (
    ".wb-rule{position:absolute;background:rgba(46,144,250,.10)}"
    ".wb-late{position:absolute;background:rgba(247,144,9,.22)}"
    ".wb-error{position:absolute;background:rgba(240,68,56,.25)}"
)
KEYS = [  # inside the body editor; the shortcuts work in either editor while it has the focus
    {"name": "Check (Ctrl+Enter)", "hasText": True, "alwaysOn": True, "commands": ["submit"],
     "style": {"bottom": "0.3rem", "right": "9.5rem"}},
    {"name": "Save (Ctrl+S)", "hasText": True, "alwaysOn": True, "primary": True,
     "bindKey": {"win": "Ctrl-S", "mac": "Command-S"}, "commands": [["response", "save"]],
     "style": {"bottom": "0.3rem", "right": "0.6rem"}},
]  # fmt: skip
HIDDEN_KEYS = [{**key, "style": {"display": "none"}} for key in KEYS]  # the small YAML editor

current = settings()
engine = store(current)

st.title("Prompts")
try:
    files = prompt_files([current.prompts_dir])
    config = load_budget_config(current.prompts_dir / BUDGET_FILE)
except WorkbenchError as exc:
    notice("error", str(exc))
    st.stop()
try:
    load_prompt_set(current.prompts_dir)  # as a run reads them: a broken file is named here
except WorkbenchError as exc:
    notice("error", str(exc))
if not files:
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
HEAD, BODY, GEN = f"head:{stage.name}", f"body:{stage.name}", f"generation:{stage.name}"
BASE, MESSAGE, SEEN = f"base:{stage.name}", f"message:{stage.name}", f"seen:{stage.name}"


def _load(text: str) -> None:
    """Put ``text`` in the editors (a new generation of them: they show it afresh)."""
    parts = split_parts(text)
    st.session_state[HEAD], st.session_state[BODY] = parts.head, parts.body
    st.session_state[GEN] = st.session_state.get(GEN, -1) + 1


def _text() -> str:
    return join_parts(st.session_state[HEAD], st.session_state[BODY])


def _editor_key(part: str) -> str:
    return f"editor-{part}:{stage.name}:{st.session_state[GEN]}"


if HEAD not in st.session_state:
    _load(newest.text if newest else "")
    st.session_state[BASE] = newest.number if newest else None
    st.session_state[SEEN] = set()


def _validate(text: str, path: Path) -> None:
    parse_prompt(text, path=path, stages=stage_orders(path.parent))


def _save() -> None:
    text = _text()
    try:
        version = pv.save_prompt(
            engine,
            current,
            stage,
            text,
            st.session_state.get(MESSAGE, ""),
            st.session_state[BASE],
            validate=_validate,
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


def _take_editor_events() -> None:
    """Take what the editors sent since the last run: their text, and a save on Ctrl+S."""
    save = False
    for part, target in (("head", HEAD), ("body", BODY)):
        event = st.session_state.get(_editor_key(part))
        if not isinstance(event, dict) or not event.get("id"):
            continue
        if event["id"] in st.session_state[SEEN]:
            continue
        st.session_state[SEEN].add(event["id"])
        st.session_state[target] = event.get("text", "")
        save = save or event.get("type") == "save"
    if save:
        _save()


_take_editor_events()


def _reload() -> None:
    version = pv.latest(engine, stage)
    _load(version.text if version else "")
    st.session_state[BASE] = version.number if version else None


def _restore() -> None:
    number = st.session_state[f"restore:{stage.name}"]
    try:
        version = pv.restore(engine, current, stage, number, st.session_state[BASE])
    except WorkbenchError as exc:
        st.session_state["notice"] = ("conflict", str(exc), "")
        return
    _load(version.text)
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


def _check(text: str) -> tuple[object | None, tuple, PromptError | None]:
    """The budget, the counted rules and the first validation error of ``text``."""
    try:
        budget = budget_text(text, path=stage, config=config)
    except PromptError as exc:
        return None, (), exc
    parts = split_parts(text)
    body = parts.body or ""
    rules = counted_rules(body, budget.measures, first_line=parts.body_first_line)
    try:
        parse_prompt(text, path=stage, stages=stage_orders(stage.parent))
    except PromptError as exc:
        return budget, rules, exc
    return budget, rules, None


def _ace_props(marks: list[LineMark], first_line: int, last_line: int) -> dict:
    """Gutter annotations and line highlights for the marks inside one editor."""
    inside = [m for m in marks if first_line <= m.line <= last_line]
    return {
        "theme": "tomorrow_night" if getattr(st.context.theme, "type", "") == "dark" else "tomorrow",
        "scrollMargin": [0, 0, 0, 0],
        # Keep the component's copy of the text current on every keystroke: with its
        # default 250 ms debounce, a check or save sent sooner redrew the old text.
        "debounceChangePeriod": 0,
        # Prose, not code: completion pop-ups would take the Enter key.
        "enableLiveAutocompletion": False,
        "enableBasicAutocompletion": False,
        "enableSnippets": False,
        "annotations": [
            {"row": m.line - first_line, "column": 0, "type": ANNOTATION[m.kind], "text": m.text}
            for m in inside
        ],
        "markers": [
            {"startRow": m.line - first_line, "startCol": 0, "endRow": m.line - first_line,
             "endCol": 1, "className": MARKER[m.kind], "type": "fullLine"}
            for m in inside if m.kind in MARKER
        ],
    }  # fmt: skip


def _editor(part: str, text: str, lang: str, first_line: int, marks: list[LineMark]) -> None:
    last_line = first_line + text.count("\n")
    code_editor(
        text,
        lang=lang,
        key=_editor_key(part),
        height=[3, 400] if part == "head" else [12, 400],
        response_mode=["blur"],
        buttons=KEYS if part == "body" else HIDDEN_KEYS,
        options={"showLineNumbers": True, "firstLineNumber": first_line, "useWorker": False,
                 "wrap": part == "body", "tabSize": 2},
        props=_ace_props(marks, first_line, last_line),
        component_props={"css": EDITOR_CSS},
    )  # fmt: skip


def _schema_panel(text: str) -> None:
    """What each schema variable the prompt declares renders to, as the stage receives it."""
    try:
        declared = [
            v
            for v in parse_prompt(text, path=stage, stages=stage_orders(stage.parent)).variables
            if v in SCHEMA_VARIABLES
        ]
    except PromptError:
        return  # the budget panel shows the error
    if not declared:
        return
    try:
        with st.spinner("Reading the schema…"):
            texts = workspace_schema(current)
    except WorkbenchError as exc:
        notice("error", f"The schema this prompt declares cannot be shown: {exc}")
        return
    source = f"{texts.curated} (hand-written)" if texts.curated else database_label(current)
    notice("caption", f"The schema as the stage receives it, from {source}")
    for warning in texts.warnings:
        notice("warning", warning)
    for name in declared:
        shown = texts.variables[name]
        tokens = count_tokens_offline(shown)
        with st.expander(f"What `{{{{{name}}}}}` renders to ({tokens:,} tokens)"):
            st.code(shown, language="sql" if name == "schema_sql" else None, wrap_lines=True)


with edit:
    text = _text()
    budget, rules, problem = _check(text)
    marks = list(line_marks(rules, budget.measures if budget else None, problem))
    left, right = st.columns([3, 2])
    with left:
        head, body = st.session_state[HEAD], st.session_state[BODY]
        if body is None:
            st.caption("The whole file (its front matter is not closed by a `---` line)")
            _editor("head", head, "markdown", 1, marks)
        else:
            first = body_first_line(head)
            st.caption(f"Front matter (YAML), lines 1–{first - 1}")
            _editor("head", head, "yaml", 1, marks)
            st.caption(f"Body (Markdown), from line {first}: the system prompt")
            _editor("body", body, "markdown", first, marks)
        st.text_input("Save message", key=MESSAGE, placeholder="what changed and why")
        st.caption(
            f"Editing from version {st.session_state[BASE] or '(new)'} of `{stage.name}`. "
            "**Ctrl+Enter** (or Check) checks the text; **Ctrl+S** (or Save, in the editor) "
            "saves it with the message above. Saving from inside the editor sends exactly "
            "what it shows."
        )
        _schema_panel(text)
    with right:
        st.subheader("Budget")
        if problem is not None:
            where = f"line {problem.line}: " if problem.line is not None else ""
            notice("error", str(problem))
            if problem.line is not None:
                st.caption(f"Marked at {where.rstrip(': ')} in the editor.")
            st.code(pv.error_excerpt(text, problem), language="markdown")
        if budget is not None:
            st.caption(f"Profile `{budget.profile}` · tokens by `{budget.measures.tokenizer}`")
            for verdict in budget.verdicts:
                st.markdown(f"{BADGES[verdict.status]} **{verdict.measure}** — {verdict.reason}")
            if rules:
                st.markdown("**Counted rules**, in the order the model reads them")
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"#": r.rank, "line": r.line, "where": f"{r.position:.0%} {r.third}",
                             "kind": r.kind, "macro-task": r.task, "rule": r.text}
                            for r in rules
                        ]
                    ),
                    hide_index=True,
                    height=min(38 + 35 * len(rules), 420),
                )  # fmt: skip
                late = sum(r.third == "late" for r in rules)
                st.caption(
                    f"Each counted rule is marked in the editor's margin. {late} of {len(rules)} "
                    "sit in the last third of the prompt: rules late in a long prompt are "
                    "followed less, so put the ones that matter most first."
                )
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
