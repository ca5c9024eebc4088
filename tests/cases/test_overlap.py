"""``smoke check`` on a workspace: a case that is a bank entry, expect keys of its own stages."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pipeline.test_starter import BANK, music_database
from workbench.cli import main

CASES = """\
- id: simple-001
  question: Show the tracks longer than five minutes.
  gold_sql: SELECT name FROM track WHERE milliseconds > 300000
  tags: [simple]
- id: simple-002
  question: How many genres are there?
  gold_sql: SELECT COUNT(*) FROM genre
  tags: [simple, aggregate]
"""


def test_smoke_check_warns_of_a_case_that_is_a_bank_entry(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    folder = tmp_path / "music"
    assert main(["init", str(folder)]) == 0
    (folder / "prompts" / "examples.yaml").write_text(BANK, encoding="utf-8")
    (folder / "cases" / "cases.yaml").write_text(CASES, encoding="utf-8")
    database = music_database(tmp_path / "music.duckdb")
    toml = folder / "workbench.toml"
    toml.write_text(
        toml.read_text().replace('url = "demo"', f'url = "duckdb:///{database}"', 1),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["--workspace", str(folder), "smoke", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failures"] == []
    [warning] = report["warnings"]
    assert warning.startswith("simple-001 (") and "cases.yaml:1" in warning
    assert "examples.yaml:3" in warning  # the entry, by file and line
    assert main(["--workspace", str(folder), "smoke", "check"]) == 0
    assert "warning: simple-001" in capsys.readouterr().out


def test_smoke_check_holds_expect_keys_to_the_workspace_s_own_stages(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    folder = tmp_path / "music"
    assert main(["init", str(folder)]) == 0
    (folder / "prompts" / "07_narrative.md").rename(folder / "prompts" / "07_answer.md")
    answer = folder / "prompts" / "07_answer.md"
    answer.write_text(answer.read_text().replace("id: narrative", "id: answer"))
    cases = CASES.replace(
        "  tags: [simple, aggregate]\n",
        "  tags: [simple, aggregate]\n  expect: {answer: {contains: ['7']}, narrative: {}}\n",
    )
    (folder / "cases" / "cases.yaml").write_text(cases, encoding="utf-8")
    database = music_database(tmp_path / "music.duckdb")
    toml = folder / "workbench.toml"
    toml.write_text(toml.read_text().replace('url = "demo"', f'url = "duckdb:///{database}"', 1))
    capsys.readouterr()
    assert main(["--workspace", str(folder), "smoke", "check", "--json"]) == 1
    [failure] = json.loads(capsys.readouterr().out)["failures"]
    assert (failure["case"], failure["check"]) == ("simple-002", "expect-stage")
    assert "unknown stages narrative" in failure["message"]
    assert "answer" in failure["message"].split("stage ids are")[1]
