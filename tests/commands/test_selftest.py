"""``workbench selftest`` against scripted servers: one whose answers ignore the batch, one
whose answers depend on it; the Smoke runner then sends cases at once only to the first."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.scripted_server import Reply, ScriptedServer
from workbench.cli import main
from workbench.settings import load_settings
from workbench.smoke import stored_checks
from workbench.store import open_store


def steady(body: dict) -> Reply:
    return Reply(content="Show " + body["messages"][-1]["content"])


def crowd_sensitive():
    """Answers differently while another request is in flight (as bf16 batches do)."""
    lock = threading.Lock()
    in_flight = [0]

    def reply(body: dict) -> Reply:
        with lock:
            in_flight[0] += 1
            crowded = in_flight[0] > 1
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return Reply(content=("List " if crowded else "Show ") + body["messages"][-1]["content"])

    return reply


@pytest.mark.parametrize(("responder", "code"), [(steady, 0), (crowd_sensitive(), 1)])
def test_the_self_test_is_stored_per_server_and_fails_the_command_when_it_fails(
    data_dir, monkeypatch, capsys, responder, code
) -> None:
    with ScriptedServer() as server:
        server.respond_with(responder)
        monkeypatch.setenv("WORKBENCH_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        assert main(["selftest", "--json", "--concurrency", "3"]) == code
        (result,) = json.loads(capsys.readouterr().out)
        assert result["passed"] is (code == 0) and result["concurrency"] == 3
        settings = load_settings()
        stored = stored_checks(settings, open_store(settings))[server.base_url]
    assert stored is not None and stored.passed is (code == 0)
    # the self-test speaks in the pipeline's own words: the noise-removal prompt
    assert server.chat_requests[0]["messages"][0]["content"].startswith("You clean a question")
