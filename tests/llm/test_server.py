"""The server manager: command lines, process handling, and the real local vLLM server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm.fake_server import FakeVLLM, free_port
from tests.scripted_server import ScriptedServer
from workbench.errors import ServerError
from workbench.llm.client import OpenAIClient
from workbench.llm.launch import BATCH_INVARIANT_ON_CPU
from workbench.llm.protocol import ChatRequest, Message
from workbench.llm.server import ServerManager, serving
from workbench.llm.serverprocess import write_record
from workbench.settings import LOCAL_MODEL_NAME, PROJECT_ROOT, Settings


def flag_value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


# -- command lines -----------------------------------------------------------------
def test_cpu_command_uses_the_module_and_the_settings(settings: Settings) -> None:
    s = settings.model_copy(
        update={"server_dtype": "float32", "server_max_num_seqs": 1, "server_prefix_caching": False}
    )
    command = ServerManager(s, port=8123).command(Path("/models/smol"))
    assert command[:5] == [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "/models/smol",
    ]
    assert flag_value(command, "--served-model-name") == LOCAL_MODEL_NAME
    assert flag_value(command, "--port") == "8123"
    assert flag_value(command, "--dtype") == "float32"
    assert flag_value(command, "--max-num-seqs") == "1"
    assert flag_value(command, "--kv-cache-memory-bytes") == str(2**30)
    assert "--no-enable-prefix-caching" in command and "--enable-prefix-caching" not in command
    assert "--enforce-eager" in command
    assert "--reasoning-parser" not in command


def test_cpu_serves_every_model_name_the_roles_use(settings: Settings) -> None:
    s = settings.model_copy(update={"model_think": "thinker", "model_sql_think": "thinker"})
    command = ServerManager(s).command(Path("/m"))
    start = command.index("--served-model-name") + 1
    assert command[start : start + 3] == [LOCAL_MODEL_NAME, "thinker", "--host"]


def test_gpu_command_has_the_reasoning_parser_lora_and_determinism_switches(
    settings: Settings,
) -> None:
    s = settings.model_copy(
        update={
            "server_profile": "gpu",
            "server_gpu_model": "Qwen/Qwen3-14B-AWQ",
            "server_lora_modules": "sql=/adapters/sql,dates=/adapters/dates",
            "server_batch_invariant": True,
            "server_enforce_eager": False,
            "seed": 42,
            "model_main": "qwen3",
            "model_think": "qwen3",
            "model_sql_think": "sql",
        }
    )
    manager = ServerManager(s)
    command = manager.command()
    assert command[:3] == ["vllm", "serve", "Qwen/Qwen3-14B-AWQ"]
    assert flag_value(command, "--reasoning-parser") == "qwen3"
    assert flag_value(command, "--seed") == "42"
    lora = command.index("--lora-modules")
    assert command[lora + 1 : lora + 3] == ["sql=/adapters/sql", "dates=/adapters/dates"]
    assert "--enable-lora" in command and "--enforce-eager" not in command
    names = command.index("--served-model-name")
    assert command[names + 1 : names + 3] == ["qwen3", "--host"]  # "sql" is an adapter
    assert manager.env()["VLLM_BATCH_INVARIANT"] == "1"
    assert manager.env()["HF_HUB_OFFLINE"] == "1"
    assert manager.notes() == []
    assert manager.flags()["batch_invariant"] is True
    # float32 is the CPU default only: an AWQ model on a GPU is served in bf16 unless told
    assert flag_value(command, "--dtype") == "bfloat16" and manager.flags()["dtype"] == "bfloat16"
    told = ServerManager(s.model_copy(update={"server_dtype": "float16"}))
    assert flag_value(told.command(), "--dtype") == "float16"
    assert flag_value(ServerManager(settings).command(), "--dtype") == "float32"


def test_batch_invariance_on_cpu_is_reported_not_passed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "1")
    manager = ServerManager(settings.model_copy(update={"server_batch_invariant": True}))
    assert "VLLM_BATCH_INVARIANT" not in manager.env()
    assert manager.notes() == [BATCH_INVARIANT_ON_CPU]
    assert manager.flags()["batch_invariant"] is False
    assert BATCH_INVARIANT_ON_CPU in manager.status().note


def test_flags_record_what_changes_outputs(settings: Settings) -> None:
    flags = ServerManager(settings).flags()
    assert {k: flags[k] for k in ("profile", "dtype", "max_num_seqs", "enforce_eager")} == {
        "profile": "cpu",
        "dtype": settings.server_dtype,
        "max_num_seqs": settings.server_max_num_seqs,
        "enforce_eager": settings.server_enforce_eager,
    }
    assert flags["prefix_caching"] == settings.server_prefix_caching


def test_gpu_profile_without_vllm_says_where_to_run_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    manager = ServerManager(settings.model_copy(update={"server_profile": "gpu"}), port=free_port())
    with pytest.raises(ServerError, match="vllm serve.*WORKBENCH_BASE_URL"):
        manager.start()


# -- process handling (a stand-in server process) ------------------------------------
@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeVLLM]:
    manager = FakeVLLM(settings, free_port())
    yield manager
    if manager.status().owned:
        manager.stop(timeout_s=5)


def test_start_waits_for_health_and_stop_ends_the_group(fake: FakeVLLM) -> None:
    messages: list[str] = []
    assert fake.status().state == "stopped"
    status = fake.start(messages.append)
    assert status.state == "running" and status.owned and status.healthy
    assert status.seconds_to_healthy is not None and status.seconds_to_healthy > 0
    assert any("healthy after" in m for m in messages)
    assert any("Application startup complete." in line for line in fake.last_log_lines(5))
    pid = status.pid
    assert pid is not None
    worker_pids = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _pgid(int(p.name)) == pid
    ]
    assert len(worker_pids) >= 2  # the launcher and its worker

    fake.stop(timeout_s=5)
    assert fake.status().state == "stopped"
    assert not fake.record_path.exists()
    assert all(not _running(p) for p in worker_pids)


def test_another_manager_adopts_and_can_stop_an_owned_server(
    fake: FakeVLLM, settings: Settings
) -> None:
    fake.start()
    other = ServerManager(settings, port=fake.port)
    status = other.status()
    assert status.owned and status.state == "running"
    assert other.start().pid == status.pid  # adopts instead of starting a second one
    other.stop(timeout_s=5)
    assert fake.status().state == "stopped"


def test_a_foreign_server_is_used_but_never_stopped(settings: Settings) -> None:
    with ScriptedServer() as server:
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        manager = ServerManager(settings, port=port)
        status = manager.start()
        assert status.state == "adopted" and status.healthy and not status.owned
        with pytest.raises(ServerError, match="not started by the workbench"):
            manager.stop()
        assert server.chat_requests == []  # adopting sends no warm-up


def test_a_server_that_dies_while_starting_reports_its_log(settings: Settings) -> None:
    manager = FakeVLLM(settings, free_port(), "--exit-early")
    with pytest.raises(ServerError, match="exited with code 3(.|\n)*out of memory"):
        manager.start()
    assert manager.status().state == "exited"


def test_restart_gives_a_new_process(fake: FakeVLLM) -> None:
    first = fake.start().pid
    second = fake.restart().pid
    assert first != second and second is not None
    assert not _running(first)  # type: ignore[arg-type]


def test_background_start_reports_progress(fake: FakeVLLM) -> None:
    assert fake.start_in_background()
    assert not fake.start_in_background()  # one at a time
    assert fake._worker is not None
    fake._worker.join(timeout=60)
    assert fake.last_error is None
    assert fake.status().state == "running"
    assert any("healthy after" in line for line in fake.progress_lines)


def test_autostart_starts_the_embedded_server_once(settings: Settings) -> None:
    manager = FakeVLLM(settings.model_copy(update={"server_autostart": True}), free_port())
    try:
        assert manager.autostart()
        assert not manager.autostart()  # already starting
        assert manager._worker is not None
        manager._worker.join(timeout=60)
        assert manager.status().state == "running"
        assert not manager.autostart()  # already healthy
    finally:
        if manager.status().owned:
            manager.stop(timeout_s=5)


@pytest.mark.parametrize(
    "update",
    [{"server_autostart": False}, {"server_autostart": True, "base_url": "http://127.0.0.1:9/v1"}],
)
def test_autostart_only_for_the_managed_default(settings: Settings, update: dict) -> None:
    manager = FakeVLLM(settings.model_copy(update=update), free_port())
    assert not manager.autostart()
    assert manager._worker is None


def test_a_command_starts_the_server_it_needs_and_stops_it_after(settings: Settings) -> None:
    current = settings.model_copy(update={"server_autostart": True})
    manager = FakeVLLM(current, free_port())
    said: list[str] = []
    try:
        with serving(current, said.append, manager=manager) as used:
            assert used is manager
            assert manager.status().state == "running" and manager.status().owned
        assert manager.status().state == "stopped"
        assert any("starting the local one for this command" in m for m in said)
        assert said[-1] == "stopping the model server started for this command"
    finally:
        if manager.status().owned:
            manager.stop(timeout_s=5)


def test_a_command_uses_a_running_server_and_leaves_it_running(fake: FakeVLLM) -> None:
    fake.settings = fake.settings.model_copy(update={"server_autostart": True})
    pid = fake.start().pid
    with serving(fake.settings, manager=fake) as used:
        assert used is fake
    assert fake.status().state == "running" and fake.status().pid == pid


def test_a_command_starts_nothing_without_autostart_or_for_a_named_server(
    settings: Settings,
) -> None:
    manager = FakeVLLM(settings.model_copy(update={"server_autostart": False}), free_port())
    with serving(manager.settings, manager=manager) as used:
        assert used is manager and manager.status().state == "stopped"
    named = settings.model_copy(
        update={"server_autostart": True, "base_url": "http://127.0.0.1:9/v1"}
    )
    with serving(named) as used:
        assert used is None


def test_the_record_says_what_runs_and_who_started_it(fake: FakeVLLM, settings: Settings) -> None:
    status = fake.start(warm_up=False)
    record = status.record
    assert record is not None and status.started_here
    assert (record.pid, record.port, record.owner_pid) == (status.pid, fake.port, os.getpid())
    assert record.model == settings.local_model and record.served_names == (LOCAL_MODEL_NAME,)
    assert record.started_by == "command" and record.log_path == str(fake.log_path)
    assert record.healthy_at is not None  # the status saw it healthy and wrote it down
    assert status.origin.startswith("started by this command at ")
    found = ServerManager(settings, port=fake.port, starter="app").status()
    assert found.state == "running" and found.pid == status.pid and not found.started_here
    assert found.origin.startswith("found running: started by a command at ")


def test_a_record_whose_process_is_gone_is_removed_and_reported(
    fake: FakeVLLM, settings: Settings
) -> None:
    fake.start(warm_up=False)
    record = fake.record()
    assert record is not None
    fake.stop(timeout_s=5)
    write_record(fake.run_dir, record)  # as a crash leaves it: the process gone, its record not
    other = ServerManager(settings, port=fake.port)
    status = other.status()
    assert status.state == "stopped" and status.stale == record
    assert f"removed the record of a server that had ended (pid {record.pid}" in status.note
    assert not fake.record_path.exists()
    assert other.status().stale is None  # reported once


def test_a_reused_pid_is_not_taken_for_the_server(fake: FakeVLLM) -> None:
    fake.start(warm_up=False)
    record = fake.record()
    assert record is not None
    fake.stop(timeout_s=5)
    # this test's own process stands in for an unrelated process that got the pid
    write_record(fake.run_dir, record.with_changes(pid=os.getpid()))
    assert fake.status().state == "stopped" and fake.status().pid is None


def test_stop_kills_a_server_that_ignores_sigterm(settings: Settings) -> None:
    manager = FakeVLLM(settings, free_port(), "--ignore-term")
    pid = manager.start(warm_up=False).pid
    assert pid is not None
    stopped = manager.stop(timeout_s=1)
    assert stopped is not None and stopped.how == "killed" and stopped.record.pid == pid
    assert not _running(pid) and manager.status().state == "stopped"


def test_stop_says_so_when_nothing_runs(fake: FakeVLLM) -> None:
    assert fake.stop(timeout_s=5) is None


APP = """
import json, sys, time
from tests.llm.fake_server import FakeVLLM
from workbench.settings import Settings

manager = FakeVLLM(Settings(data_dir=sys.argv[1]), int(sys.argv[2]), starter="app")
manager.stop_at_exit()
if sys.argv[3] == "start":
    manager.start(warm_up=False)
status = manager.status()
print(json.dumps({"pid": status.pid, "origin": status.origin, "owner": status.record.owner_pid}),
      flush=True)
time.sleep(600)
"""


def run_app(settings: Settings, port: int, action: str) -> tuple[subprocess.Popen[str], dict]:
    """An app process (stop_at_exit, as pages/common.py does) that starts or adopts."""
    app = subprocess.Popen(
        [sys.executable, "-c", APP, str(settings.data_dir), str(port), action],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    return app, json.loads(app.stdout.readline())


def end(app: subprocess.Popen[str]) -> None:
    """Ctrl-C: Streamlit, too, ends by a normal exit on Ctrl-C and on SIGTERM."""
    app.send_signal(signal.SIGINT)
    app.wait(timeout=60)


def test_the_app_stops_the_server_it_started_when_it_ends(settings: Settings) -> None:
    port = free_port()
    app, shown = run_app(settings, port, "start")
    try:
        assert shown["owner"] == app.pid and shown["origin"].startswith("started by this app")
        record = ServerManager(settings, port=port).record()
        assert record is not None and record.pid == shown["pid"] and record.started_by == "app"
    finally:
        end(app)
    assert not _group_alive(shown["pid"])
    assert ServerManager(settings, port=port).status().state == "stopped"


def test_the_next_app_adopts_a_server_whose_owner_has_ended(
    fake: FakeVLLM, settings: Settings
) -> None:
    pid = fake.start(warm_up=False).pid
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record = fake.record()
    assert record is not None
    write_record(fake.run_dir, record.with_changes(owner_pid=int(gone.stdout)))  # an app killed
    fake._process = None  # this test process plays no part any more
    app, shown = run_app(settings, fake.port, "adopt")
    try:
        assert shown["pid"] == pid and shown["owner"] == app.pid
        assert shown["origin"].startswith("found running: started by a command")
    finally:
        end(app)
    assert not _running(pid)


def test_an_app_leaves_a_server_whose_owner_runs(fake: FakeVLLM, settings: Settings) -> None:
    pid = fake.start(warm_up=False).pid
    app, shown = run_app(settings, fake.port, "adopt")
    try:
        assert shown["pid"] == pid and shown["owner"] == os.getpid()
    finally:
        end(app)
    assert fake.status().state == "running" and fake.status().pid == pid


def _group_alive(pgid: int) -> bool:
    return any(
        _running(int(p.name))
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _pgid(int(p.name)) == pgid
    )


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- the real local server -----------------------------------------------------------
QUESTION = (
    Message("system", "Rewrite the user's question as one short sentence."),
    Message("user", "hi, pls give me abnormal CBC results this quarter, thx"),
)


@pytest.fixture(scope="module")
def real(local_llm_url: str) -> Iterator[OpenAIClient]:
    client = OpenAIClient(local_llm_url, request_timeout_s=120)
    yield client
    client.close()


def ask(**kwargs: object) -> ChatRequest:
    fields: dict[str, object] = {"model": LOCAL_MODEL_NAME, "messages": QUESTION, "max_tokens": 32}
    fields.update(kwargs)
    return ChatRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.integration
def test_real_chat_at_temperature_0_repeats(real: OpenAIClient) -> None:
    first = real.complete(ask())
    second = real.complete(ask())
    assert first.text.strip()
    assert first.text == second.text
    assert first.finish_reason in ("stop", "length")
    assert first.completion_tokens > 0 and first.model == LOCAL_MODEL_NAME


@pytest.mark.integration
def test_real_thinking_switch_is_accepted(real: OpenAIClient) -> None:
    completion = real.complete(ask(thinking=True, max_thinking_tokens=16))
    assert completion.text.strip()
    assert completion.runaway is False


@pytest.mark.integration
def test_real_prefill_is_continued(real: OpenAIClient) -> None:
    prefill = "Rewritten question: Show"
    completion = real.complete(ask(prefill=prefill, stop=("\n",)))
    assert completion.text.startswith(prefill)
    assert len(completion.text) > len(prefill)
    assert completion.completion_tokens > 0


@pytest.mark.integration
def test_real_logprob_margins(real: OpenAIClient) -> None:
    completion = real.complete(ask())
    assert len(completion.margins) == completion.completion_tokens == len(completion.tokens)
    assert all(m >= 0 for m in completion.margins)  # greedy: the chosen token is the top one
    assert completion.min_margin == min(completion.margins)
    # every generated token, the end-of-sequence one included
    assert "".join(completion.tokens).startswith(completion.text)


@pytest.mark.integration
@pytest.mark.parametrize("kwargs", [{}, {"prefill": "Rewritten: "}, {"thinking": True}])
def test_real_tokenize_agrees_with_usage(real: OpenAIClient, kwargs: dict) -> None:
    request = ask(max_tokens=4, **kwargs)
    assert real.count_tokens(request) == real.complete(request).prompt_tokens


@pytest.mark.integration
def test_real_model_list_and_health(real: OpenAIClient) -> None:
    models = real.list_models()
    assert [m.id for m in models] == [LOCAL_MODEL_NAME]
    assert models[0].max_model_len and models[0].max_model_len >= 2048
    assert real.health()


@pytest.mark.integration
def test_real_restart_keeps_sequential_outputs(
    local_server: ServerManager | None, real: OpenAIClient
) -> None:
    if local_server is None:
        pytest.skip("WORKBENCH_TEST_BASE_URL points at a server this session does not manage")
    before = real.complete(ask())
    old_pid = local_server.status().pid
    status = local_server.restart()
    assert status.state == "running" and status.pid != old_pid
    assert real.complete(ask()).text == before.text


# -- the commands ------------------------------------------------------------------
def test_serve_print_command(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_SERVER_DTYPE", "float32")
    assert main(["serve", "--print-command", "--port", "8200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert flag_value(out["command"], "--port") == "8200"
    assert out["flags"]["dtype"] == "float32"


def test_models_command_lists_every_server_of_the_pool(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    with (
        ScriptedServer(models=("a",)) as first,
        ScriptedServer(models=("b",), lora=("l",)) as second,
    ):
        monkeypatch.setenv("WORKBENCH_BASE_URL", f"{first.base_url},{second.base_url}")
        assert main(["models", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["served"]
        assert [(r["id"], r["parent"], r["base_url"]) for r in rows] == [
            ("a", None, first.base_url),
            ("b", None, second.base_url),
            ("l", "b", second.base_url),
        ]


def test_models_command_without_a_server_lists_the_catalog_and_says_how_to_start_one(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "python -m workbench serve" in out
    assert "* smollm2-135m-instruct" in out and "qwen2.5-coder-0.5b-instruct" in out
