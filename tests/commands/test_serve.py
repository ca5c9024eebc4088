"""``serve --status`` and ``serve --stop`` on a stand-in server process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.llm.fake_server import FakeVLLM, free_port
from tests.scripted_server import ScriptedServer
from workbench.cli import main
from workbench.llm.serverprocess import write_record
from workbench.settings import Settings


@pytest.fixture
def served(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVLLM]:
    """A server started by `serve` at the configured port."""
    manager = FakeVLLM(settings, free_port(), starter="serve")
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(manager.port))
    manager.start(warm_up=False)
    yield manager
    if manager.status().owned:
        manager.stop(timeout_s=5)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["serve", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_shows_the_running_server(
    served: FakeVLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = run_json(capsys, "--status")["servers"]
    pid = served.status().pid
    assert row["running"] and row["healthy"] and row["managed"] and row["state"] == "running"
    assert (row["pid"], row["port"], row["model"]) == (pid, served.port, "smollm2-135m-instruct")
    assert row["started_by"] == "serve" and row["owner_pid"] == os.getpid()
    assert row["log"] == str(served.log_path)
    assert main(["serve", "--status"]) == 0
    text = capsys.readouterr().out
    assert f"port {served.port}: running, healthy" in text
    assert f"pid {pid}, model smollm2-135m-instruct, found running: started by `serve`" in text


def test_stop_stops_it_and_says_what(served: FakeVLLM, capsys: pytest.CaptureFixture[str]) -> None:
    pid = served.status().pid
    assert main(["serve", "--stop"]) == 0
    out = capsys.readouterr().out
    assert f"stopped the model server pid {pid}, model smollm2-135m-instruct" in out
    assert served.status().state == "stopped" and not served.record_path.exists()
    assert main(["serve", "--stop"]) == 0  # nothing left: says so, exits 0
    assert "no managed model server was running; nothing to stop" in capsys.readouterr().out


def test_status_and_stop_with_nothing_running(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(port))
    (row,) = run_json(capsys, "--status")["servers"]
    assert (row["running"], row["pid"], row["state"]) == (False, None, "stopped")
    assert run_json(capsys, "--stop") == {"stopped": [], "not_managed": []}


def test_a_stale_record_is_cleaned_up_and_reported(
    served: FakeVLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    record = served.record()
    assert record is not None
    served.stop(timeout_s=5)
    write_record(served.run_dir, record)  # the process is gone, its record left behind
    assert main(["serve", "--status"]) == 0
    out = capsys.readouterr().out
    assert f"port {served.port}: removed a stale record (pid {record.pid} is gone" in out
    assert not served.record_path.exists()
    write_record(served.run_dir, record)
    stopped = run_json(capsys, "--stop")
    assert stopped["stopped"] == [] and not served.record_path.exists()


def test_status_finds_every_recorded_port(
    served: FakeVLLM, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    other = FakeVLLM(settings, free_port(), starter="serve")
    other.start(warm_up=False)
    try:
        rows = run_json(capsys, "--status")["servers"]
        assert {r["port"] for r in rows if r["running"]} == {served.port, other.port}
        (row,) = run_json(capsys, "--status", "--port", str(other.port))["servers"]
        assert row["pid"] == other.status().pid
    finally:
        other.stop(timeout_s=5)


def test_stop_refuses_a_server_the_workbench_did_not_start(
    data_dir: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer() as server:
        port = server.base_url.rsplit(":", 1)[1].split("/")[0]
        monkeypatch.setenv("WORKBENCH_SERVER_PORT", port)
        assert main(["serve", "--stop"]) == 1
        assert "was not started by the workbench; stop it where it runs" in capsys.readouterr().err
        (row,) = run_json(capsys, "--status")["servers"]
        assert row["running"] and not row["managed"] and row["state"] == "adopted"
