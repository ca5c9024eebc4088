"""The Prompts page (AppTest): edit, live budget, save, conflict, validation error, restore."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.shown import notices
from workbench.prompts.versions import history, save_prompt
from workbench.settings import PROJECT_ROOT, load_settings
from workbench.store import open_store

DATES = "---\nid: dates\nmode: no_think\n---\n## Dates\n- Resolve relative dates.\n"
SQL = "---\nid: sql\nmode: think\n---\n## SQL\n- Write one query.\n"


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


def edit_and_save(page: AppTest, text: str, message: str) -> None:
    page.text_area[0].set_value(text)
    page.text_input[0].set_value(message)
    next(b for b in page.button if b.label == "Save").click()
    page.run()
    assert not page.exception, page.exception


def test_page_shows_stage_editor_and_live_budget(prompts: Path) -> None:
    page = open_page()
    assert page.selectbox[0].label == "Stage"
    assert page.selectbox[0].options == ["01_dates.md", "06_sql.md"]
    assert page.text_area[0].value == DATES
    assert any(b.label == "Save" for b in page.button)
    meter = " ".join(m.value for m in page.markdown)
    assert "1 rules in total" in meter
    assert "qwen3-32b-no-think" in " ".join(c.value for c in page.caption)

    page.text_area[0].set_value(DATES + "- Never guess. IMPORTANT!!\n").run()
    meter = " ".join(m.value for m in page.markdown)
    assert "2 rules in total" in meter
    assert "IMPORTANT" in meter


def test_saving_writes_a_version_and_the_file(prompts: Path) -> None:
    page = open_page()
    edited = DATES + "- Use ISO dates.\n"
    edit_and_save(page, edited, "add ISO rule")
    assert notices(page, "success") == ["Saved 01_dates.md as version 2."]
    assert (prompts / "01_dates.md").read_text() == edited
    engine = open_store(load_settings())
    assert [(v.number, v.author, v.message) for v in history(engine, prompts / "01_dates.md")] == [
        (1, "(edited on disk)", "first seen on disk"),
        (2, "ann", "add ISO rule"),
    ]


def test_a_stale_save_shows_the_conflict(prompts: Path) -> None:
    page = open_page()
    # Another tab saves first.
    settings = load_settings()
    engine = open_store(settings)
    other = settings.model_copy(update={"author": "bob"})
    save_prompt(engine, other, prompts / "01_dates.md", DATES + "- From bob.\n", "bob's rule", 1)

    edit_and_save(page, DATES + "- From ann.\n", "ann's rule")
    assert notices(page, "error"), "the conflict must be shown"
    assert "version 2 was saved by bob" in notices(page, "error")[0]
    assert "+- From bob." in page.code[0].value
    assert (prompts / "01_dates.md").read_text() == DATES + "- From bob.\n"
    assert any(b.label.startswith("Load the latest version") for b in page.button)


def test_a_validation_error_is_shown_inline_and_nothing_saved(prompts: Path) -> None:
    page = open_page()
    bad = "---\nid: dates\ntitle: Dates: relative\n---\n## Dates\n"
    page.text_area[0].set_value(bad).run()
    assert "01_dates.md:3" in notices(page, "error")[0]
    assert any("title: Dates: relative" in c.value for c in page.code)

    edit_and_save(page, bad, "broken")
    assert (prompts / "01_dates.md").read_text() == DATES
    assert not notices(page, "success")


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
    assert page.text_area[0].value == DATES


def test_compare_versions_and_sets(prompts: Path) -> None:
    page = open_page()
    edit_and_save(page, DATES.replace("relative dates", "relative dates first"), "reword")
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
    assert page.text_area[0].value == SQL
    page.selectbox[0].set_value(prompts / "01_dates.md").run()  # the link does not pin the choice
    assert page.text_area[0].value == DATES


def test_a_link_to_an_unknown_stage_says_so(prompts: Path) -> None:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "prompts.py"), default_timeout=60)
    page.query_params["stage"] = "09_nope.md"
    page.run()
    assert not page.exception, page.exception
    assert any("No prompt file named 09_nope.md" in w for w in notices(page, "warning"))
    assert page.text_area[0].value == DATES
