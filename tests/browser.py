"""Real-browser harness: a live ``streamlit run webapp.py`` and headless Debian chromium.

Used by the tests marked ``browser``. Screenshots go to the test run's output
directory (``test-output/`` at the project root, or ``WORKBENCH_TEST_OUTPUT``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from workbench.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def output_dir() -> Path:
    path = Path(os.environ.get("WORKBENCH_TEST_OUTPUT", PROJECT_ROOT / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(env: Mapping[str, str], timeout_s: float = 90.0) -> Iterator[str]:
    """Start the app on a free port with extra environment; yield its URL."""
    port = free_port()
    log = (output_dir() / f"streamlit-{port}.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "webapp.py"),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        ],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not come up; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def browser_page() -> Iterator[object]:
    """A Playwright page in headless Debian chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            browser.close()


def open_page(page, url: str, link: str) -> None:  # type: ignore[no-untyped-def]
    """Open the app's home, wait until it has rendered, then follow a navigation link.

    A click on the navigation before the first script run has finished can be lost
    (the session is not connected yet), leaving the browser on the home page; and a
    fresh server whose first run is a page other than app.py falls back to
    Streamlit's pages/ folder navigation for that session, so deep links are avoided.
    """
    page.goto(url)
    page.get_by_text("Text2SQL Workbench").first.wait_for(timeout=120_000)
    page.get_by_role("link", name=link, exact=True).click()
