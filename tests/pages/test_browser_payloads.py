"""Untrusted text in a real browser: the payload set planted in every field of two stored traces
and in the URL's query values. The pages must show it as text, load nothing from another host,
and create no link or other element that points anywhere the payload says.

Escaping must hold on its own: a request the content-security policy blocked still counts as a
failure (Chromium reports the attempt, and the policy logs a violation). The policy, the second
line, is tested apart by planting an image with a script, past the escaping.
"""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.browser import browser_page, output_dir, running_app
from tests.payloads import PAYLOADS, REMOTE
from tests.pipeline.test_run import LINGUISTIC, prompts_dir
from tests.pipeline.test_trace import make_trace
from workbench.pipeline.trace import StageTrace, Trace, save_trace, trace_from_dict, trace_to_dict
from workbench.settings import Settings
from workbench.store import open_store

pytestmark = pytest.mark.browser

PAYLOAD = "\n".join(PAYLOADS)
"""The whole payload set, in one text: every planted field holds all of it."""
KEEP = {"id", "as_of", "started", "finished", "kind", "role", "resolved_by", "start", "end"}
"""Fields whose value the trace needs as it is (its id, dates, a stage's kind)."""
URL_ATTRIBUTES = ("href", "src", "srcset", "action", "formaction", "data", "poster", "style",
                  "xlink:href", "background", "content")  # fmt: skip
MARKERS = (REMOTE, "example.org", "javascript:", "mailto:")


def planted(trace: Trace, prefix: str = "") -> Trace:
    """``trace`` with every string field (but ``KEEP``) replaced by the payload set."""

    def plant(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: plant(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plant(v, key) for v in value]
        if isinstance(value, str) and key not in KEEP:
            return prefix + PAYLOAD
        return value

    data = plant(trace_to_dict(trace))
    for stage in data["stages"]:  # stage ids must stay apart: runs are compared stage by stage
        stage["stage_id"] += f" #{stage['order']}"
    return trace_from_dict(data)


def stages_of_every_kind() -> tuple[StageTrace, ...]:
    """A dates card, an ok rewrite card with a runaway warning, a failed SQL card, a skipped
    narrative: between them every element the Run page draws for a stage."""
    dates, sql, narrative = make_trace().stages
    rewrite = replace(
        sql,
        stage_id="noise",
        title="Noise removal",
        order=2,
        kind="rewrite",
        runaway="the output loops",
        cached=False,
    )
    failed_sql = replace(sql, order=6, error="boom", error_kind="SQLExecutionError")
    return dates, rewrite, failed_sql, narrative


def store_planted_traces(data_dir: Path) -> tuple[str, str]:
    store = open_store(Settings(data_dir=data_dir))
    base = make_trace(stages=stages_of_every_kind(), narrative="the answer")
    first = planted(base)
    second = replace(planted(base, prefix="B "), id="b" * 32)
    return save_trace(store, first), save_trace(store, second)


class Recorder:
    """Every request the page made, and every console message."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.console: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.console.append(message.text))

    def remote(self, app_url: str) -> list[str]:
        here = urlsplit(app_url).netloc
        return [
            u for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).netloc != here
        ]  # fmt: skip


def pointing_elements(page: Any) -> list[str]:
    """Elements with a URL-bearing attribute that carries a payload's address."""
    return page.evaluate(
        """([names, markers]) => [...document.querySelectorAll('*')].flatMap(element =>
            names.map(name => [name, element.getAttribute(name)])
              .filter(([, value]) => value && markers.some(m => value.toLowerCase().includes(m)))
              .map(([name, value]) => `${element.tagName} ${name}=${value.slice(0, 80)}`))""",
        [list(URL_ATTRIBUTES), [m.lower() for m in MARKERS]],
    )


def assert_inert(page: Any, recorder: Recorder, url: str, shot: str) -> None:
    page.wait_for_timeout(2000)  # let images, fonts and frames start loading, if any would
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 200, 12_000)})
    page.screenshot(path=str(output_dir() / shot), full_page=True)
    assert recorder.remote(url) == []
    assert pointing_elements(page) == []
    assert [m for m in recorder.console if "Content Security Policy" in m] == []
    assert page.locator("text=Traceback").count() == 0


def test_planted_payloads_show_as_text_load_nothing_and_link_nowhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = store_planted_traces(data)
    env = {
        "WORKBENCH_DATA_DIR": str(data),
        "WORKBENCH_PROMPTS_DIR": str(prompts_dir(tmp_path, *LINGUISTIC)),
        "WORKBENCH_BASE_URL": "http://127.0.0.1:9/v1",  # nothing to run: stored traces only
    }
    with running_app(env) as url, browser_page() as page:
        recorder = Recorder(page)
        page.goto(url)
        page.get_by_text("Text2SQL Workbench").first.wait_for(timeout=120_000)

        # One stored run: every card, the SQL, the rows, the answer.
        page.goto(f"{url}/run?trace={first}")
        page.locator(".wb-card-head").nth(4).wait_for(timeout=120_000)
        shown = page.locator(".wb-text").first.inner_text()
        assert f"![x](http://{REMOTE}/md-image.png)" in shown  # the text itself, as text
        assert page.locator(".wb-notice-error").count() >= 1  # the failed stage's error
        assert page.locator(".wb-notice-warning").count() >= 1  # the runaway warning
        assert_inert(page, recorder, url, "payloads-run.png")
        page.get_by_role("tab", name="History").click()
        assert_inert(page, recorder, url, "payloads-history.png")

        # The two runs compared, stage by stage.
        page.goto(f"{url}/run?a={first}&b={second}")
        page.get_by_text("The runs part ways at").first.wait_for(timeout=120_000)
        assert_inert(page, recorder, url, "payloads-compare.png")

        # Payloads as URL values: links to runs and prompt files that do not exist.
        value = quote(PAYLOAD, safe="")
        page.goto(f"{url}/run?trace={value}&a={value}&b=B{value}")
        page.locator(".wb-notice-warning").nth(1).wait_for(timeout=120_000)  # trace and pair
        assert_inert(page, recorder, url, "payloads-url-run.png")
        page.goto(f"{url}/prompts?stage={value}")
        page.locator(".wb-notice-warning").first.wait_for(timeout=120_000)
        assert "No prompt file named" in page.locator(".wb-notice-warning").first.inner_text()
        assert_inert(page, recorder, url, "payloads-url-prompts.png")
    assert recorder.requests, "the recorder saw the page's own requests"


def test_the_policy_blocks_a_remote_image_that_got_past_the_escaping(tmp_path: Path) -> None:
    env = {
        "WORKBENCH_DATA_DIR": str(tmp_path / "data"),
        "WORKBENCH_BASE_URL": "http://127.0.0.1:9/v1",
    }
    with running_app(env) as url:
        with urllib.request.urlopen(url + "/") as response:
            policy = response.headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob:" in policy and "default-src 'self'" in policy
        with browser_page() as page:
            recorder = Recorder(page)
            page.goto(url)
            page.get_by_text("Text2SQL Workbench").first.wait_for(timeout=120_000)
            loaded = page.evaluate(
                """(address) => new Promise(resolve => {
                    const image = document.createElement('img');
                    image.onload = () => resolve(true);
                    image.onerror = () => resolve(false);
                    image.src = `http://${address}/planted-by-script.png`;
                    document.body.appendChild(image);
                })""",
                REMOTE,
            )
    assert loaded is False
    assert any("Content Security Policy" in m and REMOTE in m for m in recorder.console)
