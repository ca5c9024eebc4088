"""The home page in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import browser_page, output_dir, running_app

pytestmark = pytest.mark.browser


def test_home_page_renders_in_chromium(tmp_path: Path) -> None:
    with running_app({"WORKBENCH_DATA_DIR": str(tmp_path / "data")}) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("Text2SQL Workbench").first.wait_for(timeout=60_000)
        shot = output_dir() / "home.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert page.locator("text=Traceback").count() == 0


def test_a_direct_link_as_first_request_gets_the_app_navigation(tmp_path: Path) -> None:
    # A fresh server's first request for /<page> would otherwise run the page file
    # alone, with file-based navigation listing every module in pages/.
    with running_app({"WORKBENCH_DATA_DIR": str(tmp_path / "data")}) as url, browser_page() as page:
        page.goto(url + "/budget")
        page.get_by_text("Prompt budget").first.wait_for(timeout=90_000)
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        assert "Home" in nav and "Model server" in nav
        assert "common" not in nav
