"""The Server page renders for a stopped server and for one that answers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.scripted_server import Reply, ScriptedServer
from workbench.settings import PROJECT_ROOT

PAGE = str(PROJECT_ROOT / "pages" / "server.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def labels(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_stopped_server(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(port))
    monkeypatch.setenv("WORKBENCH_SERVER_BATCH_INVARIANT", "true")
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not app.exception
    assert "stopped" in labels(app)["State"]
    assert labels(app)["Base URL"] == f"http://127.0.0.1:{port}/v1"
    buttons = {b.label: b for b in app.button}
    assert set(buttons) == {"Start", "Restart", "Stop", "Run the self-test"}
    assert not buttons["Start"].disabled
    assert buttons["Restart"].disabled and buttons["Stop"].disabled
    assert any("not supported by the CPU build" in w.value for w in app.warning)
    assert any("--enforce-eager" in c.value for c in app.code)


def test_adopted_server_lists_its_models(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer(models=("qwen3-32b",), lora=("sql-lora",)) as server:
        port = server.base_url.rsplit(":", 1)[1].split("/")[0]
        monkeypatch.setenv("WORKBENCH_SERVER_PORT", port)
        app = AppTest.from_file(PAGE, default_timeout=30).run()
        assert not app.exception
        assert "adopted" in labels(app)["State"]
        table = app.dataframe[0].value
        assert list(table["model"]) == ["qwen3-32b", "sql-lora"]
        assert list(table["adapter of"]) == ["", "qwen3-32b"]
        assert {b.label: b.disabled for b in app.button} == {
            "Start": True,
            "Restart": True,
            "Stop": True,
            "Run the self-test": False,
        }


def test_the_self_test_runs_from_the_page_and_its_result_is_kept(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedServer() as server:
        server.respond_with(lambda body: Reply(content="Show " + body["messages"][-1]["content"]))
        monkeypatch.setenv("WORKBENCH_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        app = AppTest.from_file(PAGE, default_timeout=60).run()
        assert any("not tested with its current settings" in c.value for c in app.caption)
        next(b for b in app.button if b.label == "Run the self-test").click().run()
        assert not app.exception
        assert any("passed: 8 prompts gave the same tokens" in s.value for s in app.success)
        table = next(d.value for d in app.dataframe if "passed" in d.value.columns)
        assert list(table["passed"]) == [True] and list(table["dtype"]) == ["unknown"]
