"""The Prompts and Budget pages in a real browser: type in the code editor, check with
Ctrl+Enter, see the rules marked, save with Ctrl+S and with the button, see an error at
its line; the editor loads nothing from outside the app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser import browser_page, open_page, output_dir, running_app

pytestmark = pytest.mark.browser

DATES = (
    "---\nid: dates\ntitle: Dates\norder: 1\nmode: no_think\n---\n"
    "## Dates\n- Resolve relative dates.\n"
)
EDITOR = "iframe[title='code_editor.code_editor']"


def type_at_end(page, editor, text: str) -> None:
    editor.locator(".ace_content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def gutter(editor, line: int):
    """The editor's margin cell for a file line (the editors number lines as the file does)."""
    return editor.locator(".ace_gutter-cell", has_text=str(line)).first


def test_edit_check_and_save_a_prompt_in_the_code_editor(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "01_dates.md").write_text(DATES)
    env = {"WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_PROMPTS_DIR": str(prompts)}
    with running_app(env) as url, browser_page() as page:
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        # Through the app's navigation (exact, capitalized titles): Streamlit's
        # legacy pages/ folder discovery also lists the page files by file name,
        # and those links (and a deep link to /prompts) run a page without app.py.
        open_page(page, url, "Prompts")
        page.locator(EDITOR).nth(1).wait_for(timeout=90_000)
        head = page.frame_locator(EDITOR).nth(0)
        body = page.frame_locator(EDITOR).nth(1)
        body.locator(".ace_content").first.wait_for(timeout=90_000)
        # The body editor numbers its lines as the file does, and marks the counted rule.
        gutter(body, 7).wait_for(timeout=30_000)
        assert "ace_info" in (gutter(body, 8).get_attribute("class") or "")

        type_at_end(page, body, "- Never guess a year. IMPORTANT")
        page.keyboard.press("Control+Enter")
        page.get_by_text("2 rules in total").first.wait_for(timeout=90_000)
        page.get_by_text("IMPORTANT").nth(1).wait_for(timeout=90_000)
        marked = gutter(body, 9)
        body.locator(".ace_gutter-cell.ace_warning").first.wait_for(timeout=30_000)
        assert "ace_warning" in (marked.get_attribute("class") or "")  # shouting

        page.get_by_label("Save message").fill("add year rule")
        body.locator(".ace_content").first.click()
        page.keyboard.press("Control+s")
        page.get_by_text("Saved 01_dates.md as version 2.").wait_for(timeout=90_000)
        assert (prompts / "01_dates.md").read_text() == DATES + "- Never guess a year. IMPORTANT"

        # Typing and then pressing the editor's Save button saves what is on screen.
        type_at_end(page, body, "\nKeep ISO dates.")  # Enter continues the list: "- "
        body.get_by_text("Save (Ctrl+S)").click()
        page.get_by_text("Saved 01_dates.md as version 3.").wait_for(timeout=90_000)
        assert (prompts / "01_dates.md").read_text().endswith("IMPORTANT\n- Keep ISO dates.")

        # A bad front matter: the error names the line, and the editor marks it there.
        head.locator(".ace_content").first.click()
        page.keyboard.press("Control+Home")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("End")
        page.keyboard.type(": relative")
        page.keyboard.press("Control+Enter")
        page.get_by_text("01_dates.md:3").first.wait_for(timeout=90_000)
        head.locator(".ace_gutter-cell.ace_error").first.wait_for(timeout=30_000)
        assert gutter(head, 3).get_attribute("class").count("ace_error") == 1
        page.screenshot(path=str(output_dir() / "prompts.png"), full_page=True)
        assert "title: Dates: relative" not in (prompts / "01_dates.md").read_text()

        outside = {urlparse(u).hostname for u in requested} - {"127.0.0.1", "localhost", None}
        assert not outside, f"the page fetched from outside the app: {sorted(outside)}"

        page.get_by_role("link", name="Budget", exact=True).click()
        page.get_by_text("Over versions").wait_for(timeout=90_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        page.screenshot(path=str(output_dir() / "budget.png"), full_page=True)
        assert page.locator("text=Traceback").count() == 0
