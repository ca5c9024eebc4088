"""``workbench run``: the trace printed for people, and the whole trace as JSON."""

from __future__ import annotations

from tests.pipeline.test_trace import make_trace
from workbench.commands.run import format_trace


def test_people_see_each_stage_its_gate_dates_and_errors() -> None:
    text = format_trace(make_trace())
    lines = text.splitlines()
    assert lines[0] == "question  Hi, how many CBC results this quarter?"
    assert "1. Date normalization  [Python only, no model call]" in lines
    assert "   date  'this quarter' -> from 2026-01-01 through 2026-03-31  [python]" in lines
    assert "   date  'lately' not resolved" in lines
    assert (
        "6. SQL generation  [qwen3-32b · think · cached · tokens 120/40 · "
        "min margin 0.12 at token 3]"
    ) in lines
    assert "   gate2: thinking (many filters: 5 > 4)" in lines
    assert "7. Narrative answer  [skipped] skipped: stage 6 failed" in lines
    assert "physician_name" not in text
    assert lines[-1] == "status failed in 3.88 s"


def test_run_prints_the_trace_as_json_and_exits_1_on_a_failed_stage(
    tmp_path, data_dir, scripted_server, monkeypatch, capsys
) -> None:
    import json
    import shutil

    from workbench.cli import main
    from workbench.settings import PROJECT_ROOT

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for name in ("02_noise.md", "03_query.md", "gates.yaml"):
        shutil.copy(PROJECT_ROOT / "prompts" / name, prompts / name)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(prompts))
    monkeypatch.setenv("WORKBENCH_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
    scripted_server.reply("count CBC results").reply("Show count CBC results")
    assert main(["run", "hi, count CBC results", "--as-of", "2026-01-15", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2026-01-15"
    assert [s["output"] for s in data["stages"]] == ["count CBC results", "Show count CBC results"]

    # Same question again: answered from the cache, no request goes out.
    assert main(["run", "hi, count CBC results", "--as-of", "2026-01-15"]) == 0
    assert "cached" in capsys.readouterr().out
    assert len(scripted_server.chat_requests) == 2

    scripted_server.reply("down", status=500)
    assert main(["run", "hi, count CBC results", "--no-cache", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "failed"
    assert data["stages"][0]["error_kind"] == "LLMResponseError"
    assert data["stages"][1]["skipped"]
