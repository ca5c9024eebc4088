"""The Prompts page (AppTest): the editors, live budget and rule marks, save (Ctrl+S and the
button), conflict, validation errors at their line, restore.

AppTest cannot type into the code editor component; it hands the page what the editor
sends (``{"id", "type", "text"}`` under the editor's key), as the browser test does
for real.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.shown import notices
from workbench.prompts.versions import history, save_prompt
from workbench.settings import PROJECT_ROOT, load_settings
from workbench.store import open_store

DATES = "---\nid: dates\ntitle: Dates\norder: 1\nmode: no_think\n---\n## Dates\n- Resolve relative dates.\n"
SQL = "---\nid: sql\ntitle: SQL\norder: 6\nmode: think\n---\n## SQL\n- Write one query.\n"
HEAD, BODY = DATES.split("\n---\n", 1)[0] + "\n---", DATES.split("\n---\n", 1)[1]


@pytest.fixture
def prompts(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "01_dates.md").write_text(DATES)
    (folder / "06_sql.md").write_text(SQL)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    monkeypatch.setenv("WORKBENCH_AUTHOR", "ann")
    return folder


def open_page() -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "prompts.py"), default_timeout=60)
    page.run()
    assert not page.exception, page.exception
    return page


def editor(page: AppTest, part: str, stage: str = "01_dates.md"):
    """The editor component's key and arguments, for the front matter or the body."""
    generation = page.session_state[f"generation:{stage}"]
    key = f"editor-{part}:{stage}:{generation}"
    element = next(e for e in page.get("component_instance") if e.key == key)
    return key, json.loads(element.proto.json_args)


def send(page: AppTest, part: str, text: str, kind: str = "submit", stage: str = "01_dates.md"):
    """What the editor sends on Ctrl+Enter (submit), Ctrl+S (save) or when left (blur)."""
    key, _ = editor(page, part, stage)
    page.session_state[key] = {"id": uuid.uuid4().hex[:8], "type": kind, "text": text}
    page.run()
    assert not page.exception, page.exception
    return page


def edit_and_save(page: AppTest, body: str, message: str) -> None:
    page.text_input[0].set_value(message).run()
    send(page, "body", body, kind="save")


def meter(page: AppTest) -> str:
    return " ".join(m.value for m in page.markdown)


def test_page_shows_the_two_editors_with_the_files_line_numbers(prompts: Path) -> None:
    page = open_page()
    assert page.selectbox[0].label == "Stage"
    assert page.selectbox[0].options == ["01_dates.md", "06_sql.md"]
    _, head = editor(page, "head")
    _, body = editor(page, "body")
    assert (head["code"], head["lang"], head["options"]["firstLineNumber"]) == (HEAD, "yaml", 1)
    assert (body["code"], body["lang"], body["options"]["firstLineNumber"]) == (BODY, "markdown", 7)
    assert head["options"]["showLineNumbers"] and body["options"]["showLineNumbers"]
    assert any(b.get("bindKey", {}).get("win") == "Ctrl-S" for b in body["buttons"])
    assert "1 rules in total" in meter(page)
    assert "qwen3-32b-no-think" in " ".join(c.value for c in page.caption)
    # The one counted rule: in the table with its line, and marked in the body's margin.
    rules = next(d.value for d in page.dataframe if "rule" in d.value.columns)
    assert list(rules["line"]) == [8] and list(rules["rule"]) == ["- Resolve relative dates."]
    assert [(a["row"], a["type"]) for a in body["props"]["annotations"]] == [(1, "info")]
    assert body["props"]["annotations"][0]["text"].startswith(
        "rule 1 of 1: list item under 'Dates'"
    )


def test_ctrl_enter_updates_the_budget_and_marks_each_rule_and_its_position(
    prompts: Path,
) -> None:
    page = open_page()
    filler = "".join(f"Background sentence number {n} about the data.\n" for n in range(30))
    send(page, "body", BODY + filler + "- Never guess. IMPORTANT!!\n")
    assert "2 rules in total" in meter(page)
    assert "IMPORTANT" in meter(page)
    rules = next(d.value for d in page.dataframe if "rule" in d.value.columns)
    assert list(rules["line"]) == [8, 39]
    assert rules["where"][0].endswith("early") and rules["where"][1].endswith("late")
    _, body = editor(page, "body")
    at_39 = [a for a in body["props"]["annotations"] if a["row"] == 32]  # line 39
    assert [a["type"] for a in at_39] == ["warning"] * 3  # a late rule, and shouting twice
    assert "rules late in a long prompt are followed less" in at_39[0]["text"]
    assert {a["text"] for a in at_39[1:]} == {"shouting: IMPORTANT", "shouting: !!"}
    assert {m["className"] for m in body["props"]["markers"]} == {"wb-rule", "wb-late"}
    assert any("1 of 2 sit in the last third" in c.value for c in page.caption)


def test_saving_writes_a_version_and_the_file(prompts: Path) -> None:
    page = open_page()
    edited = DATES + "- Use ISO dates.\n"
    edit_and_save(page, BODY + "- Use ISO dates.\n", "add ISO rule")
    assert notices(page, "success") == ["Saved 01_dates.md as version 2."]
    assert (prompts / "01_dates.md").read_text() == edited
    engine = open_store(load_settings())
    assert [(v.number, v.author, v.message) for v in history(engine, prompts / "01_dates.md")] == [
        (1, "(edited on disk)", "first seen on disk"),
        (2, "ann", "add ISO rule"),
    ]


def test_ctrl_s_in_one_editor_saves_what_both_hold(prompts: Path) -> None:
    page = open_page()
    page.text_input[0].set_value("from the keyboard").run()
    send(page, "head", HEAD.replace("title: Dates", "title: Dates first"), kind="blur")
    send(page, "body", BODY + "- Keep the question's own words.\n", kind="save")
    assert notices(page, "success") == ["Saved 01_dates.md as version 2."]
    assert (prompts / "01_dates.md").read_text() == (
        DATES.replace("title: Dates", "title: Dates first") + "- Keep the question's own words.\n"
    )
    # A later run does not take the same keystroke again.
    page.run()
    assert not notices(page, "success")
    assert len(history(open_store(load_settings()), prompts / "01_dates.md")) == 2


def test_a_stale_save_shows_the_conflict(prompts: Path) -> None:
    page = open_page()
    # Another tab saves first.
    settings = load_settings()
    engine = open_store(settings)
    other = settings.model_copy(update={"author": "bob"})
    save_prompt(engine, other, prompts / "01_dates.md", DATES + "- From bob.\n", "bob's rule", 1)

    edit_and_save(page, BODY + "- From ann.\n", "ann's rule")
    assert notices(page, "error"), "the conflict must be shown"
    assert "version 2 was saved by bob" in notices(page, "error")[0]
    assert "+- From bob." in page.code[0].value
    assert (prompts / "01_dates.md").read_text() == DATES + "- From bob.\n"
    assert any(b.label.startswith("Load the latest version") for b in page.button)


def test_a_validation_error_points_at_its_line_and_nothing_is_saved(prompts: Path) -> None:
    page = open_page()
    bad_head = "---\nid: dates\ntitle: Dates: relative\norder: 1\n---"
    send(page, "head", bad_head)
    assert "01_dates.md:3" in notices(page, "error")[0]
    assert any("title: Dates: relative" in c.value for c in page.code)
    _, head = editor(page, "head")
    assert [(a["row"], a["type"]) for a in head["props"]["annotations"]] == [(2, "error")]
    assert head["props"]["markers"][0]["className"] == "wb-error"

    send(page, "head", bad_head, kind="save")
    assert (prompts / "01_dates.md").read_text() == DATES
    assert not notices(page, "success")


def test_a_file_the_pipeline_would_refuse_is_marked_and_not_saved(prompts: Path) -> None:
    page = open_page()
    send(page, "body", BODY + "Today is {{as_of}}.\n", kind="save")
    error = notices(page, "error")[0]
    assert "01_dates.md:9" in error and "{{as_of}} is not declared" in error
    _, body = editor(page, "body")
    assert (2, "error") in [(a["row"], a["type"]) for a in body["props"]["annotations"]]
    assert (prompts / "01_dates.md").read_text() == DATES


def test_an_unclosed_front_matter_is_shown_in_one_editor(prompts: Path) -> None:
    (prompts / "01_dates.md").write_text("---\nid: dates\n## Dates\n")
    page = open_page()
    _, whole = editor(page, "head")
    assert whole["lang"] == "markdown" and whole["code"] == "---\nid: dates\n## Dates\n"
    assert not any(e.key.startswith("editor-body") for e in page.get("component_instance"))
    assert "front matter is never closed" in notices(page, "error")[0]
    assert [(a["row"], a["type"]) for a in whole["props"]["annotations"]] == [(0, "error")]


def test_restore_from_history(prompts: Path) -> None:
    page = open_page()
    edit_and_save(page, DATES + "- Use ISO dates.\n", "add ISO rule")
    restore_box = next(s for s in page.selectbox if s.label == "Version to restore")
    restore_box.set_value(1)
    next(b for b in page.button if b.label == "Restore").click()
    page.run()
    assert not page.exception, page.exception
    assert notices(page, "success") == ["Restored version 1 as version 3."]
    assert (prompts / "01_dates.md").read_text() == DATES
    # New editors show the restored text; the edit sent before is not taken again.
    _, body = editor(page, "body")
    assert body["code"] == BODY
    page.run()
    assert "1 rules in total" in meter(page)


def test_compare_versions_and_sets(prompts: Path) -> None:
    page = open_page()
    edit_and_save(page, BODY.replace("relative dates", "relative dates first"), "reword")
    labels = [s.label for s in page.selectbox]
    assert {"From", "To", "Prompt set as of", "compared with the set as of"} <= set(labels)
    diffs = [h.proto.body for h in page.get("html")]
    # The versions diff and the set diff (first moment vs last) both mark the new word.
    assert sum('<ins class="wb-ins">first</ins>' in d for d in diffs) == 2


def test_the_run_page_link_opens_its_stage(prompts: Path) -> None:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "prompts.py"), default_timeout=60)
    page.query_params["stage"] = "06_sql.md"
    page.run()
    assert not page.exception, page.exception
    assert page.selectbox[0].value.name == "06_sql.md"
    assert editor(page, "body", "06_sql.md")[1]["code"] == SQL.split("\n---\n", 1)[1]
    page.selectbox[0].set_value(prompts / "01_dates.md").run()  # the link does not pin the choice
    assert editor(page, "body")[1]["code"] == BODY


def test_a_link_to_an_unknown_stage_says_so(prompts: Path) -> None:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "prompts.py"), default_timeout=60)
    page.query_params["stage"] = "09_nope.md"
    page.run()
    assert not page.exception, page.exception
    assert any("No prompt file named 09_nope.md" in w for w in notices(page, "warning"))
    assert editor(page, "head")[1]["code"] == HEAD


def test_the_sql_stage_shows_what_its_schema_variable_renders_to(
    demo_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.sql import workspace_schema

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(demo_database.parent.parent))
    page = open_page()
    assert not [e for e in page.expander if "{{schema" in e.label]  # 01 declares none
    page.selectbox(key="stage").set_value("06_sql.md").run()
    assert not page.exception, page.exception
    (shown,) = [e for e in page.expander if "{{schema_sql}}" in e.label]
    expected = workspace_schema(load_settings()).schema_sql
    assert shown.code[0].value == expected
    assert expected.startswith("CREATE TABLE ")
    assert re.search(r"What `\{\{schema_sql\}\}` renders to \([\d,]+ tokens\)", shown.label)
    assert not [e for e in page.expander if "{{schema}}" in e.label]  # not declared


def test_a_schema_that_cannot_be_read_is_a_notice_beside_the_editor(
    prompts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (prompts / "06_sql.md").write_text(SQL.replace("mode: think\n", "variables: [schema_sql]\n"))
    missing = tmp_path / "gone.duckdb"
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", f"duckdb:///{missing}")
    page = open_page()
    page.selectbox(key="stage").set_value("06_sql.md").run()
    assert not page.exception, page.exception
    assert any(
        e.startswith("The schema this prompt declares cannot be shown: ") and str(missing) in e
        for e in notices(page, "error")
    ), notices(page, "error")
