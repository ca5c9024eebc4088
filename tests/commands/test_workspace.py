"""A workspace on PostgreSQL end to end: init from the demo, point it at the database, then
``info``, ``smoke check``, ``sql run``, ``run`` and ``smoke run`` all work against it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import use_database
from tests.scripted_server import ScriptedServer
from tests.smoke_script import CASES, PipelineScript
from workbench.cli import main

pytestmark = pytest.mark.postgres

SIMPLE_002 = CASES[0]


@pytest.fixture
def workspace(tmp_path: Path, data_dir: Path, lab_url: str) -> Path:
    """``init ws --from-demo``, its database.url set as README says (the password elsewhere)."""
    folder = tmp_path / "ws"
    assert main(["init", str(folder), "--from-demo"]) == 0
    use_database(folder, lab_url)
    return folder


def cli_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_info_names_the_workspace_its_database_and_endpoint(workspace: Path, capsys) -> None:
    code, info = cli_json(capsys, "--workspace", str(workspace), "info")
    assert code == 0
    assert info["workspace"] == "ws" and info["workspace_dir"] == str(workspace.resolve())
    assert re.fullmatch(r"postgresql://workbench_ro@127\.0\.0\.1:\d+/lab", info["database"])
    assert info["prompts_dir"] == str(workspace.resolve() / "prompts")
    assert info["cases_dir"] == str(workspace.resolve() / "cases")
    assert info["schema"] == "read from the database"


def test_smoke_check_proves_the_workspace_cases_on_postgres(workspace: Path, capsys) -> None:
    code, report = cli_json(capsys, "--workspace", str(workspace), "smoke", "check")
    assert report["failures"] == []
    assert code == 0
    assert report["database"].startswith("postgresql://workbench_ro@")
    assert report["cases"] >= 150


def test_a_broken_case_is_named_with_what_postgres_said(workspace: Path, capsys) -> None:
    for other in ("medium", "complex", "messy", "edge"):  # one file is enough here
        (workspace / "cases" / f"{other}.yaml").unlink()
    simple = workspace / "cases" / "simple.yaml"
    simple.write_text(simple.read_text().replace("FROM labs", "FROM labz", 1))
    code, report = cli_json(capsys, "--workspace", str(workspace), "smoke", "check")
    assert code == 1
    [failure] = report["failures"]
    assert failure["check"] == "gold-executes"
    assert 'relation "labz" does not exist' in failure["message"]
    assert re.fullmatch(r".*/cases/simple\.yaml:\d+", failure["source"])  # where to fix it


def test_sql_run_queries_the_workspace_database(workspace: Path, capsys) -> None:
    code, result = cli_json(
        capsys, "--workspace", str(workspace), "sql", "run", "SELECT AVG(value) FROM results"
    )
    assert code == 0
    assert result["executed_sql"] == "SELECT AVG(value) FROM results"  # natively
    assert isinstance(result["rows"][0][0], float)


def test_run_and_smoke_run_use_the_workspace_database(workspace: Path, capsys, monkeypatch) -> None:
    script = PipelineScript()
    with ScriptedServer() as server:
        server.respond_with(script.reply)
        monkeypatch.setenv("WORKBENCH_BASE_URL", server.base_url)
        monkeypatch.setenv("WORKBENCH_MAX_RETRIES", "0")
        code, trace = cli_json(capsys, "--workspace", str(workspace), "run", SIMPLE_002.question)
        assert code == 0, [s["error"] for s in trace["stages"]]
        assert trace["sql"]["executed"] == SIMPLE_002.gold_sql.strip().rstrip(";")
        assert trace["result"]["row_count"] >= 1

        argv = ("--workspace", str(workspace), "smoke", "run", "--case", SIMPLE_002.id)
        code, run = cli_json(capsys, *argv, "--repeat", "1")
    assert code == 0
    assert (run["cases"], run["passed"]) == (1, 1), run["results"]
    assert run["manifest"]["database"].startswith("postgresql://workbench_ro@")


def test_a_database_that_is_down_fails_before_any_model_is_started(
    workspace: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", "postgresql://workbench_ro@127.0.0.1:1/lab")
    code = main(["--workspace", str(workspace), "run", "How many labs are there?"])
    error = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the database at postgresql://workbench_ro@127.0.0.1:1/lab" in error
    assert "WORKBENCH_DATABASE_URL" in error


def test_smoke_check_on_a_database_that_is_down_says_so_once(
    workspace: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", "postgresql://workbench_ro@127.0.0.1:1/lab")
    code = main(["--workspace", str(workspace), "smoke", "check"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("cannot reach the database") == 1, captured.err


def locked_database(postgres) -> str:
    """A database whose tables the reader may SELECT, in a schema it may not use."""
    postgres.admin("DROP DATABASE IF EXISTS locked")
    postgres.admin("CREATE DATABASE locked")
    for statement in (
        "CREATE SCHEMA lab",
        "CREATE TABLE lab.labs (id int PRIMARY KEY, lab_name text)",
        "INSERT INTO lab.labs VALUES (1, 'North'), (2, 'South')",
        "GRANT SELECT ON ALL TABLES IN SCHEMA lab TO workbench_ro",
    ):
        postgres.admin(statement, "locked")
    return postgres.url("locked", user="workbench_ro", password=None)


def test_smoke_check_without_usage_on_the_schema_says_so_once(
    workspace: Path, postgres, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", locked_database(postgres))
    for file in (workspace / "cases").glob("*.yaml"):
        if file.name != "tags.yaml":
            file.unlink()
    (workspace / "cases" / "simple.yaml").write_text(
        "".join(
            f"- id: simple-00{n}\n  question: How many labs are there, take {n}?\n"
            f"  gold_sql: SELECT COUNT(*) + {n} FROM lab.labs\n  tags: [simple]\n"
            for n in (1, 2, 3)
        )
    )
    code = main(["--workspace", str(workspace), "smoke", "check"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("permission denied for schema lab") == 1, captured.err
    assert "GRANT USAGE ON SCHEMA lab TO workbench_ro" in captured.err


def test_smoke_check_on_postgres_lets_fetch_with_ties_through_and_catches_fetch_only(
    workspace: Path, capsys
) -> None:
    for file in (workspace / "cases").glob("*.yaml"):
        if file.name != "tags.yaml":
            file.unlink()
    gold = "SELECT physician_name FROM physicians ORDER BY department_id FETCH FIRST 1 ROWS"
    (workspace / "cases" / "simple.yaml").write_text(  # department 1 has six physicians
        f"- id: simple-001\n  question: Who works in the first department?\n"
        f"  gold_sql: {gold} WITH TIES\n  tags: [simple]\n"
        f"- id: simple-002\n  question: Who is one physician of the first department?\n"
        f"  gold_sql: {gold} ONLY\n  tags: [simple]\n"
    )
    code, report = cli_json(capsys, "--workspace", str(workspace), "smoke", "check")
    assert code == 1
    assert [(f["case"], f["check"]) for f in report["failures"]] == [
        ("simple-002", "gold-limit-tie")
    ]
