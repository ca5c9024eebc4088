"""The Budget page (AppTest): all stages against their limits, one stage over its versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.shown import notices
from workbench.prompts.versions import save_prompt, sync_from_disk
from workbench.settings import PROJECT_ROOT, load_settings
from workbench.store import open_store

DATES = "---\nid: dates\n---\n## Dates\n- Resolve relative dates.\n"
BIG = "---\nid: big\n---\n" + "".join(f"## Task {n}\n- rule {n}\n" for n in range(4))


@pytest.fixture
def prompts(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "01_dates.md").write_text(DATES)
    (folder / "02_big.md").write_text(BIG)
    (folder / "03_broken.md").write_text("no front matter\n")
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    return folder


def open_page() -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "budget.py"), default_timeout=60)
    page.run()
    assert not page.exception, page.exception
    return page


def test_all_stages_side_by_side(prompts: Path) -> None:
    page = open_page()
    table = page.dataframe[0].value
    assert list(table["stage"]) == ["dates", "big"]
    assert list(table["status"]) == ["ok", "over"]
    assert table.loc[1, "macro_tasks"] == "4 over"
    assert table.loc[0, "edit"] == "prompts?stage=01_dates.md"  # opens it on the Prompts page
    assert any("03_broken.md:1" in shown for shown in notices(page, "error"))
    charts = page.get("plotly_chart")
    assert len(charts) >= 7  # one per measure, then the history chart


def test_measures_over_versions(prompts: Path) -> None:
    settings = load_settings()
    engine = open_store(settings)
    stage = prompts / "01_dates.md"
    sync_from_disk(engine, stage)
    save_prompt(engine, settings, stage, DATES + "- Use ISO dates.\n- Keep times.\n", "more", 1)

    page = open_page()
    page.selectbox(key="history_stage").set_value("dates").run()
    assert not page.exception, page.exception
    series = page.dataframe[1].value
    assert list(series["version"]) == ["v1", "v2"]
    assert list(series["rules"]) == [1, 3]
