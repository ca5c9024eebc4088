"""The home page: renders, names the workspace, and lists its database's tables with row counts."""

from __future__ import annotations

from pathlib import Path

import pandas
import pytest
from streamlit.testing.v1 import AppTest

from fixtures import labdb
from tests.pages.shown import banner, notices
from workbench.settings import PROJECT_ROOT
from workbench.sql.schema import table_counts


def run_app() -> AppTest:
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    return app.run()


def frame_with(app: AppTest, column: str) -> pandas.DataFrame | None:
    """The page's table that has ``column`` (None when there is none)."""
    return next((f.value for f in app.dataframe if column in f.value.columns), None)


def test_home_lists_the_demo_tables(demo_database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Point the app at the data directory of the session's database: no rebuild.
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(demo_database.parent.parent))
    app = run_app()
    assert not app.exception
    assert not app.error and not notices(app, "error")
    assert app.title[0].value == "Text2SQL Workbench"
    assert "Workspace `demo`" in banner(app)
    shown = frame_with(app, "table")
    assert list(shown["table"]) == list(table_counts(demo_database))
    assert dict(zip(shown["table"], shown["rows"], strict=True)) == table_counts(demo_database)
    assert set(shown["table"]) == set(labdb.TABLES)


def test_home_shows_a_build_failure_as_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(blocker))
    app = run_app()
    assert not app.exception
    assert "WORKBENCH_DATA_DIR" in notices(app, "error")[0]
    assert frame_with(app, "table") is None
