"""The Smoke page in a real browser: hunt flakes once, edit the SQL prompt, check the edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser import browser_page, open_page, output_dir, running_app
from tests.scripted_server import ScriptedServer
from tests.smoke_script import CASES, SQL, PipelineScript, write_suite
from workbench.settings import PROJECT_ROOT, Settings
from workbench.sql.demo import demo_database_path

pytestmark = pytest.mark.browser

SIMPLE_002, SIMPLE_003, _ = CASES


def test_hunt_flakes_then_check_an_edit(
    tmp_path: Path, scripted_server: ScriptedServer, demo_database: Path
) -> None:
    write_suite(tmp_path / "fixtures", (SIMPLE_002, SIMPLE_003))
    data = tmp_path / "data"
    target = demo_database_path(Settings(data_dir=data))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_database, target)
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    script = PipelineScript()
    scripted_server.respond_with(script.reply)
    env = {
        "WORKBENCH_DATA_DIR": str(data),
        "WORKBENCH_PROMPTS_DIR": str(prompts),
        "WORKBENCH_FIXTURES_DIR": str(tmp_path / "fixtures"),
        "WORKBENCH_BASE_URL": scripted_server.base_url,
        "WORKBENCH_MAX_RETRIES": "0",
    }
    with running_app(env) as url, browser_page() as page:
        open_page(page, url, "Smoke")
        page.get_by_text("Hunt flakes: about").wait_for(timeout=120_000)
        page.get_by_text("All 2 cases: about").wait_for(timeout=60_000)
        page.get_by_role("button", name="Run the smoke suite").click()
        page.get_by_text("Check an edit: about").wait_for(timeout=120_000)  # a baseline now

        sql = prompts / "06_sql.md"
        sql.write_text(sql.read_text(encoding="utf-8") + "\n- Keep it short.\n", "utf-8")
        script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=3)
        modes = page.get_by_role("radiogroup", name="What do you want to know?")
        modes.get_by_text("Hunt flakes", exact=True).click()  # a rerun reads the edit
        page.get_by_text("Hunt flakes: about").wait_for(timeout=60_000)
        modes.get_by_text("Check an edit", exact=True).click()
        page.get_by_text("2 of 14 stages to compute").wait_for(timeout=60_000)
        page.get_by_role("button", name="Run the smoke suite").click()
        page.get_by_text("Against its baseline").wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        shot = output_dir() / "smoke-page-check-an-edit.png"
        page.screenshot(path=str(shot), full_page=True)
        new_failure = page.locator('[data-testid="stMetric"]').filter(has_text="new failure")
        assert "1" in new_failure.first.inner_text()
        assert page.locator("text=Traceback").count() == 0
    assert sum(script.calls[(SQL, c.question)] for c in (SIMPLE_002, SIMPLE_003)) == 6
