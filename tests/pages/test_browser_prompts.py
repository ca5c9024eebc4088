"""The Prompts and Budget pages in a real browser: edit, watch the meter, save."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import browser_page, output_dir, running_app

pytestmark = pytest.mark.browser

DATES = "---\nid: dates\nmode: no_think\n---\n## Dates\n- Resolve relative dates.\n"


def test_edit_and_save_a_prompt_then_see_the_budget(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "01_dates.md").write_text(DATES)
    env = {"WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_PROMPTS_DIR": str(prompts)}
    with running_app(env) as url, browser_page() as page:
        # Through the app's navigation (exact, capitalized titles): Streamlit's
        # legacy pages/ folder discovery also lists the page files by file name,
        # and those links (and a deep link to /prompts) run a page without app.py.
        page.goto(url)
        page.get_by_role("link", name="Prompts", exact=True).click()
        editor = page.get_by_label("Prompt file (front matter and body)")
        editor.wait_for(timeout=90_000)
        editor.fill(DATES + "- Never guess a year. IMPORTANT\n")
        editor.press("Control+Enter")
        page.get_by_text("2 rules in total").first.wait_for(timeout=90_000)
        page.get_by_text("IMPORTANT").nth(1).wait_for(timeout=90_000)
        page.get_by_label("Save message").fill("add year rule")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved 01_dates.md as version 2.").wait_for(timeout=90_000)
        page.screenshot(path=str(output_dir() / "prompts.png"), full_page=True)
        assert "Never guess a year" in (prompts / "01_dates.md").read_text()

        page.get_by_role("link", name="Budget", exact=True).click()
        page.get_by_text("Over versions").wait_for(timeout=90_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        page.screenshot(path=str(output_dir() / "budget.png"), full_page=True)
        assert page.locator("text=Traceback").count() == 0
