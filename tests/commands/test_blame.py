"""``smoke run --quick --blame`` and ``smoke blame`` end to end, against a scripted server:
a harmless hunk in one prompt file, a breaking one in another; blame names the second."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlmodel import Session, delete

from tests.scripted_server import ScriptedServer
from tests.smoke_script import CASES, PipelineScript
from workbench.cli import main
from workbench.settings import PROJECT_ROOT, Settings, load_settings
from workbench.store import PromptVersionRow, open_store

_, SIMPLE_003, _ = CASES
ARGS = ["--case", "simple-002", "--case", "simple-003"]
MARKER = "- Prefer a subquery to a join."


@pytest.fixture
def prompts(settings: Settings, installed_demo: Path, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", folder)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    script = PipelineScript()

    def reply(body):
        answer = script.reply(body)
        if (
            MARKER in body["messages"][0]["content"]
            and answer.content == SIMPLE_003.gold_sql + "\n"
        ):
            return type(answer)(content=SIMPLE_003.wrong_sql)
        return answer

    with ScriptedServer() as scripted:
        scripted.respond_with(reply)
        monkeypatch.setenv("WORKBENCH_BASE_URL", scripted.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        yield folder


def append(folder: Path, name: str, line: str) -> None:
    path = folder / name
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_quick_check_blames_the_hunk_that_broke_the_case(prompts, capsys, tmp_path) -> None:
    assert main(["smoke", "run", "--json", *ARGS]) == 0
    baseline = json.loads(capsys.readouterr().out)["run_id"]
    append(prompts, "02_noise.md", "- Keep every number.")
    append(prompts, "06_sql.md", MARKER)
    junit = tmp_path / "quick.xml"

    argv = ["--quick", "--baseline", baseline, "--blame", "--junit", str(junit)]
    assert main(["smoke", "run", "--json", *argv]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    blamed = data["blame"]["simple-003"]
    assert blamed["status"] == "found" and blamed["change"] == "new failure"
    assert [h["file"] for h in blamed["hunks"]] == ["06_sql.md"]
    assert MARKER in blamed["hunks"][0]["diff"]
    assert data["blame_probes"]["hunks_in_edit"] == 2
    assert 1 <= data["blame_probes"]["probes"] <= data["blame_probes"]["budget"]
    assert "blame: 1 flipped cases, 2 hunks in the edit: about" in out.err
    case = next(c for c in ET.parse(junit).getroot() if c.get("name") == "simple-003")
    assert "edit blame: broken by 06_sql.md hunk 1" in case.find("failure").get("message")
    assert MARKER in case.find("system-out").text

    quick = data["run_id"]
    assert main(["smoke", "blame", "--baseline", baseline, "--run", quick]) == 0
    text = capsys.readouterr().out
    assert "  simple-003: broken by 06_sql.md hunk 1, line" in text
    assert f"+{MARKER}" in text and "02_noise.md" not in text.split("simple-003", 1)[1]


def test_blame_without_a_quick_check_is_refused(prompts, capsys) -> None:
    assert main(["smoke", "run", "--blame", *ARGS]) == 1
    assert "--blame explains a quick check's flips" in capsys.readouterr().err


def test_a_baseline_text_lost_from_the_history_stops_blame_not_the_check(prompts, capsys) -> None:
    assert main(["smoke", "run", "--json", *ARGS]) == 0
    baseline = json.loads(capsys.readouterr().out)["run_id"]
    append(prompts, "06_sql.md", MARKER)
    with Session(open_store(load_settings())) as session:
        session.exec(delete(PromptVersionRow))  # type: ignore[call-overload]
        session.commit()

    assert main(["smoke", "run", "--json", "--quick", "--baseline", baseline, "--blame"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["failed"] == 1 and data["blame"] == {}
    assert "neither in the prompts folder nor in the prompt version history" in data["blame_error"]
    assert main(["smoke", "blame", "--baseline", baseline, "--run", data["run_id"]]) == 1
    assert "blame cannot rebuild it" in capsys.readouterr().err
