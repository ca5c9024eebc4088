"""``workbench smoke run`` and ``smoke export`` end to end, against a scripted HTTP server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.scripted_server import ScriptedServer
from tests.smoke_script import CASES, QUERY, SQL, PipelineScript, asked
from workbench.cli import main
from workbench.settings import PROJECT_ROOT, Settings, load_settings
from workbench.smoke.results import list_runs, load_run
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, _ = CASES
ARGS = ["--case", "simple-002", "--case", "simple-003"]


@pytest.fixture
def server(settings: Settings, installed_demo: Path, monkeypatch: pytest.MonkeyPatch):
    script = PipelineScript()  # answers the self-test too: it uses the noise-removal prompt
    with ScriptedServer() as scripted:
        scripted.respond_with(script.reply)
        monkeypatch.setenv("WORKBENCH_BASE_URL", scripted.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        scripted.script = script
        yield scripted


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["smoke", "run", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_json_summary_junit_and_a_baseline_that_regressed(server, capsys, tmp_path):
    code, first = run_json(capsys, *ARGS, "--junit", str(tmp_path / "a.xml"))
    assert code == 0
    assert {k: first[k] for k in ("cases", "passed", "failed", "flaky", "errors")} == {
        "cases": 2, "passed": 2, "failed": 0, "flaky": 0, "errors": 0,
    }  # fmt: skip
    assert set(first) >= {"run_id", "wall_s", "results"}
    assert [r["case"] for r in first["results"]] == ["simple-002", "simple-003"]
    assert ET.parse(tmp_path / "a.xml").getroot().get("tests") == "2"
    assert first["manifest"]["endpoint"] == server.base_url
    # never tested with these settings: the self-test ran first, and it allows four at once
    assert first["manifest"]["concurrency"] == 4

    for call in (3, 4, 5, 6, 7, 8):  # the next three runs' two repeats of simple-003
        server.script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
    code, second = run_json(capsys, *ARGS, "--baseline", first["run_id"], "--fail-on-regression")
    assert second["failed"] == 1, (second["results"], server.script.calls)
    assert code == 1
    assert second["comparison"]["changed"][0]["case"] == "simple-003"
    assert second["comparison"]["changed"][0]["change"] == "new failure"

    assert second["comparison"]["paired_test"]["regressions"] == 1
    assert second["comparison"]["paired_test"]["p_value"] == 1.0

    code, _ = run_json(capsys, *ARGS, "--baseline", first["run_id"])
    assert code == 0  # a regression only fails the command when asked to
    argv = ["--baseline", first["run_id"], "--fail-on-significant-regression"]
    code, third = run_json(capsys, *ARGS, *argv)
    assert third["comparison"]["counts"]["new failure"] == 1
    assert code == 0  # one regression is not distinguishable from noise


def test_people_get_a_summary_and_export_writes_training_examples(server, capsys, tmp_path):
    assert main(["smoke", "run", *ARGS, "--repeat", "1", "--concurrency", "1"]) == 0
    captured = capsys.readouterr()
    assert "concurrency 1" in captured.out and "self-test" not in captured.err  # not needed

    # Asked for two at once with no self-test yet: the self-test runs first (the scripted
    # server passes it), rather than the run going one at a time.
    assert main(["smoke", "run", *ARGS, "--repeat", "1", "--concurrency", "2"]) == 0
    captured = capsys.readouterr()
    assert "running it first" in captured.err and "passed: 8 prompts" in captured.err
    out = captured.out
    assert "passed 2 · failed 0 · flaky 0 · errors 0" in out
    assert "repeats" in out and "concurrency 2" in out
    assert "Hunt flakes: about " in captured.err and "2 cases" in captured.err
    assert "stage 14/14, " in captured.err
    run_id = out.split()[2]

    target = tmp_path / "train.jsonl"
    assert main(["smoke", "export", "--run", run_id, "--stage", QUERY, "-o", str(target)]) == 0
    assert "2 examples from 2 cases" in capsys.readouterr().out
    questions = [asked(json.loads(line)) for line in target.read_text().splitlines()]
    assert questions == [SIMPLE_002.question, SIMPLE_003.question]


def test_kill_marks_the_run_interrupted_and_keeps_what_finished(server, capsys):
    """SIGTERM (``kill``) in the middle of a case ends the command as Ctrl-C does: the run
    is marked interrupted with the reason, never left running, and can be resumed."""

    def kill_me():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(2)  # the signal is handled in the main thread meanwhile
        return SIMPLE_003.gold_sql

    server.script.plant(SQL, SIMPLE_003.question, kill_me, call=1)
    code = main(["smoke", "run", *ARGS, "--repeat", "1", "--concurrency", "1"])
    assert code == 128 + signal.SIGTERM
    (summary,) = list_runs(open_store(load_settings()))
    record = load_run(open_store(load_settings()), summary.id)
    assert record.status == "interrupted"
    assert "SIGTERM" in record.note and "resume" in record.note
    assert [r.case_id for r in record.results] == ["simple-002"]
    capsys.readouterr()
    assert main(["smoke", "run", "--resume", summary.id]) == 0
    assert "passed 2 · failed 0" in capsys.readouterr().out


def test_resume_of_an_unknown_run_names_what_exists(server, capsys):
    assert main(["smoke", "run", "--resume", "nope"]) == 1
    assert "no smoke run with id 'nope'" in capsys.readouterr().err


def test_an_experiment_over_two_models_shows_rates_and_the_flipped_case(server, capsys):
    for call in (3, 4):  # the second model's two repeats of simple-003
        server.script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=call)
    code = main(["smoke", "experiment", "--json", *ARGS, "--model", "base", "--model", "retrained"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    rates = {r["setting"]: (r["cases"], r["pass rate"], r["flaky rate"]) for r in data["settings"]}
    assert rates == {"base": (2, 1.0, 0.0), "retrained": (2, 0.5, 0.0)}
    assert data["flipped"] == ["simple-003"]
    from workbench.settings import load_settings
    from workbench.smoke.results import list_runs
    from workbench.store import open_store

    labels = [r.label for r in list_runs(open_store(load_settings()))]
    assert sorted(labels) == ["experiment base", "experiment retrained"]  # as the page lists them
    assert "[1/2] simple-002: pass" in captured.err  # progress goes to stderr

    main(["smoke", "experiment", *ARGS, "--repeat", "1", "--model", "base"])
    text = capsys.readouterr().out
    assert text.splitlines()[1].startswith("base") and " 100% " in text


def test_server_settings_need_the_managed_server(server, capsys):
    assert main(["smoke", "experiment", *ARGS]) == 1
    assert "needs the managed model server" in capsys.readouterr().err


def test_an_experiment_with_no_matching_case_fails_before_anything_runs(server, capsys):
    assert main(["smoke", "experiment", "--tag", "no-such-tag", "--model", "base"]) == 1
    assert "no smoke case matches" in capsys.readouterr().err
    assert server.script.calls == {}


def test_check_an_edit_lists_the_regression_first_and_fails_the_gate(
    server, capsys, tmp_path, monkeypatch
):
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(prompts))
    code, full = run_json(capsys, *ARGS)
    assert code == 0
    assert main(["smoke", "run", "--quick", *ARGS]) == 1
    assert "--quick checks an edit against a finished full run" in capsys.readouterr().err

    sql = prompts / "06_sql.md"
    sql.write_text(sql.read_text(encoding="utf-8") + "\n- Keep it short.\n", encoding="utf-8")
    calls = sum(server.script.calls.values())
    assert main(["smoke", "run", "--quick", "--baseline", full["run_id"], "--estimate"]) == 0
    estimate = capsys.readouterr().out
    assert estimate.startswith("Check an edit: about ") and "2 cases" in estimate
    assert "2 of 14 stages to compute" in estimate
    assert sum(server.script.calls.values()) == calls  # nothing ran

    server.script.plant(SQL, SIMPLE_003.question, SIMPLE_003.wrong_sql, call=3)
    argv = ["--quick", "--baseline", full["run_id"], "--fail-on-regression"]
    code = main(["smoke", "run", *argv])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"against {full['run_id']}: new failure 1")
    assert lines[1].startswith("  new failure: simple-003 pass -> fail")
    assert "a quick check against" in out and "8 of 14 stages reused" in out
    assert sum(server.script.calls.values()) == calls + 2  # one SQL call per case
