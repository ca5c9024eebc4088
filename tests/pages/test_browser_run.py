"""The Run page in a real browser: live progress and the stage cards."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import browser_page, open_page, output_dir, running_app
from tests.pipeline.test_run import LINGUISTIC, prompts_dir
from tests.scripted_server import ScriptedServer

pytestmark = pytest.mark.browser

QUESTION = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back this quarter across all departments, sorted highest to lowest, and "
    "only show physicians involved with 3 or more COVID 19 related abnormal results, and ignore "
    "the normal results. Thank you."
)

FINISHED = re.compile(r"^Run [0-9a-f]{8} · ")  # the caption over a finished run


def open_run_page(page, url: str) -> None:  # type: ignore[no-untyped-def]
    open_page(page, url, "Run")
    page.get_by_label("Question").wait_for(timeout=120_000)


def start(page, question: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Question").fill(question)
    page.get_by_label("Question").press("Control+Enter")  # commit the text area
    page.get_by_role("button", name="Run", exact=True).click()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 200, 12_000)})
    page.get_by_role("button", name="Run", exact=True).wait_for(timeout=60_000)
    page.get_by_role("group", name="As-of date").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    shot = output_dir() / name
    page.screenshot(path=str(shot), full_page=True)
    return shot


def test_progress_then_cards_with_the_scripted_server(
    tmp_path: Path, scripted_server: ScriptedServer
) -> None:
    scripted_server.reply("breakdown by physician of abnormal CBC results", delay_s=1.0)
    scripted_server.reply("Show count abnormal CBC results by physician", delay_s=1.0)
    scripted_server.reply("Show count abnormal CBC results by physician", margins=[0.3, 5.0])
    scripted_server.reply("Show count abnormal CBC results by physician",
                          reasoning="Nothing to collapse.")  # fmt: skip
    env = {
        "WORKBENCH_DATA_DIR": str(tmp_path / "data"),
        "WORKBENCH_PROMPTS_DIR": str(prompts_dir(tmp_path, *LINGUISTIC)),
        "WORKBENCH_BASE_URL": scripted_server.base_url,
    }
    with running_app(env) as url, browser_page() as page:
        open_run_page(page, url)
        start(page, QUESTION)
        page.get_by_text("of 4 stages").first.wait_for(timeout=60_000)  # live progress
        page.get_by_text("could flip between identical runs").wait_for(timeout=120_000)
        page.get_by_text(FINISHED).first.wait_for(timeout=60_000)
        shot = screenshot(page, "run-page-scripted.png")
        assert page.locator("del.wb-del").count() >= 2
        assert page.locator("ins.wb-ins").count() >= 2
        assert page.locator("text=Traceback").count() == 0
    assert shot.stat().st_size > 20_000


def test_cancel_keeps_the_finished_stages(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    scripted_server.reply("breakdown by physician", delay_s=1.0)
    scripted_server.reply("never shown", delay_s=6.0)
    env = {
        "WORKBENCH_DATA_DIR": str(tmp_path / "data"),
        "WORKBENCH_PROMPTS_DIR": str(prompts_dir(tmp_path, *LINGUISTIC)),
        "WORKBENCH_BASE_URL": scripted_server.base_url,
    }
    with running_app(env) as url, browser_page() as page:
        open_run_page(page, url)
        start(page, QUESTION)
        page.get_by_text("1 of 4 stages").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelling after the current stage").first.wait_for(timeout=30_000)
        page.get_by_text("the stages that finished are kept").wait_for(timeout=60_000)
        shot = screenshot(page, "run-page-cancelled.png")
        assert page.locator(".wb-status-ok").count() == 2  # noise removal, then query
        assert page.locator(".wb-status-cancelled").count() == 2
    assert len(scripted_server.chat_requests) == 2
    assert shot.stat().st_size > 10_000


@pytest.mark.integration
@pytest.mark.timeout(2400)  # the session's model server may start inside this test
def test_a_question_through_the_local_model(tmp_path: Path, local_llm_url: str) -> None:
    """The shipped seven stages against the real local server. The small model's answers
    are poor; what must hold is that every stage gets a card (done, failed or skipped)
    and the page finishes the run without a traceback."""
    env = {"WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_BASE_URL": local_llm_url}
    with running_app(env) as url, browser_page() as page:
        open_run_page(page, url)
        page.get_by_text("Endpoint").first.wait_for(timeout=60_000)
        start(page, QUESTION)
        page.get_by_text(FINISHED).first.wait_for(timeout=900_000)
        shot = screenshot(page, "run-page.png")
        heads = page.locator(".wb-card-head")
        assert heads.count() == 8  # the question and seven stages
        for n, title in enumerate(["Date normalization", "Noise removal", "Query normalizer",
                                   "Reference normalizer", "Miscellaneous cleanup",
                                   "SQL generation", "Narrative answer"], start=1):  # fmt: skip
            assert f"{n}. {title}" in heads.nth(n).inner_text()
        assert page.locator(".wb-status-ok").count() >= 1
        assert page.locator("text=Traceback").count() == 0
    assert shot.stat().st_size > 20_000


def test_a_compare_link_opens_the_compare_view_on_its_two_runs(tmp_path: Path) -> None:
    """The Smoke page's "compare in Run" links are plain URLs: they must land on the Run
    page's compare tab with both runs picked, in a new browser session."""
    from dataclasses import replace

    from tests.pipeline.test_trace import make_trace
    from workbench.pipeline.compare import compare_link
    from workbench.pipeline.trace import save_trace
    from workbench.settings import Settings
    from workbench.store import open_store

    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data))
    before = make_trace("how many CBC results")
    after = replace(make_trace("how many CBC results"), stages=tuple(
        replace(s, output="SELECT COUNT(*) AS n FROM results JOIN tests USING (test_id)")
        if s.order == 6 else s
        for s in before.stages
    ))  # fmt: skip
    save_trace(store, before)
    save_trace(store, after)
    env = {
        "WORKBENCH_DATA_DIR": str(data),
        "WORKBENCH_PROMPTS_DIR": str(prompts_dir(tmp_path, *LINGUISTIC)),
        "WORKBENCH_BASE_URL": "http://127.0.0.1:9/v1",  # no model needed to compare
    }
    with running_app(env) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("Text2SQL Workbench").first.wait_for(timeout=120_000)
        page.goto(f"{url.rstrip('/')}/{compare_link(before.id, after.id)}")
        part_ways = page.get_by_text("The runs part ways at stage 6 (SQL generation)")
        part_ways.wait_for(state="visible", timeout=120_000)  # the compare tab is the one shown
        assert page.locator("ins.wb-ins").count() >= 1
        assert page.locator("text=Traceback").count() == 0
