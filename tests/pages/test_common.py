"""What every page shares (pages/common.py): settings and store problems, and unknown
variables, are shown on the page instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.shown import notices
from workbench.settings import PROJECT_ROOT


def run_app() -> AppTest:
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    return app.run()


def test_an_unknown_variable_is_a_warning_on_the_page(
    demo_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(demo_database.parent.parent))
    monkeypatch.setenv("WORKBENCH_SQL_ROWCAP", "5")
    app = run_app()
    assert not app.exception
    assert notices(app, "warning") == [
        "WORKBENCH_SQL_ROWCAP is not a setting and is ignored; did you mean WORKBENCH_SQL_ROW_CAP?"
    ]


def test_a_store_that_cannot_be_opened_stops_a_page_with_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WORKBENCH_STORE_URL", "sqlite:////nonexistent/dir/store.sqlite")
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "run.py"), default_timeout=60).run()
    assert not page.exception
    assert "WORKBENCH_STORE_URL" in notices(page, "error")[0]
