"""``workbench schema``: exactly what each schema variable renders to, and the warnings."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import use_database
from tests.sql.musicstore import build_duckdb
from workbench.cli import main
from workbench.settings import load_settings
from workbench.sql import load_schema_notes, open_database, schema_description, schema_statements


@pytest.fixture
def workspace(tmp_path: Path, data_dir: Path) -> Path:
    """A new workspace on a music-store DuckDB file, with a schema.yaml."""
    folder = tmp_path / "ws"
    assert main(["init", str(folder)]) == 0
    build_duckdb(folder / "store.duckdb")
    with duckdb.connect(str(folder / "store.duckdb")) as connection:
        connection.execute("CREATE SCHEMA archive; CREATE TABLE archive.old (id INTEGER)")
    use_database(folder, "duckdb:///store.duckdb")
    (folder / "schema.yaml").write_text(
        "exclude: [customer.email, employee]\ndescribe:\n  invoice.total: amount in USD\n"
    )
    return folder


def test_prints_each_variable_as_the_stage_receives_it(workspace: Path, capsys) -> None:
    assert main(["--workspace", str(workspace), "schema", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    settings = load_settings(workspace)
    database, notes = open_database(settings), load_schema_notes(settings.schema_notes)
    assert shown["variables"] == {
        "schema": schema_description(database, notes=notes),
        "schema_sql": schema_statements(database, notes=notes),
    }
    assert shown["source"] == f"read from duckdb:///{(workspace / 'store.duckdb').resolve()}"
    assert shown["notes"] == str(workspace.resolve() / "schema.yaml")
    assert shown["warnings"] == [
        "schema archive holds 1 table(s) outside the main schema; they are left out "
        "(queries name main's tables without a schema)"
    ]
    assert 0 < shown["tokens"]["schema"] < shown["tokens"]["schema_sql"]
    sql = shown["variables"]["schema_sql"]
    assert "  PRIMARY KEY (playlist_id, track_id)" in sql and "employee" not in sql
    assert "  total NUMERIC(10,2) NOT NULL  -- amount in USD" in sql


def test_text_output_has_the_warnings_then_each_variable(workspace: Path, capsys) -> None:
    assert main(["--workspace", str(workspace), "schema"]) == 0
    out = capsys.readouterr().out
    assert "\nnotes: " in out and "(2 left out, 1 described)" in out
    assert "\nwarning: schema archive holds 1 table(s)" in out
    assert out.index("== {{schema}}: ") < out.index("== {{schema_sql}}: ")
    assert "CREATE TABLE playlist_track (  -- 1,529 rows" in out


def test_one_variable_alone_is_the_bare_text(workspace: Path, capsys) -> None:
    assert main(["--workspace", str(workspace), "schema", "--variable", "schema_sql"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CREATE TABLE artist (")
    assert out.rstrip("\n").endswith(");")


def test_a_hand_written_schema_wins_and_the_notes_are_said_to_be_unused(
    workspace: Path, capsys
) -> None:
    (workspace / "schema.md").write_text("invoice: one row per sale\n")
    assert main(["--workspace", str(workspace), "schema", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["variables"] == {
        "schema": "invoice: one row per sale",
        "schema_sql": "invoice: one row per sale",
    }
    assert shown["source"].endswith("schema.md (hand-written)")
    assert shown["warnings"] == [
        f"{workspace.resolve() / 'schema.yaml'}: not used, because the hand-written "
        f"{workspace.resolve() / 'schema.md'} wins"
    ]


def test_a_name_the_database_lacks_is_an_error_naming_file_and_line(
    workspace: Path, capsys
) -> None:
    (workspace / "schema.yaml").write_text("exclude:\n  - customer.mail\n")
    assert main(["--workspace", str(workspace), "schema"]) == 1
    err = capsys.readouterr().err
    assert f"{workspace.resolve() / 'schema.yaml'}:2: 'customer.mail' names no column" in err
    assert "did you mean 'customer.email'?" in err


@pytest.mark.parametrize(
    "command", [["schema"], ["run", "how many customers are there?"], ["smoke", "check"]]
)
def test_a_database_without_tables_is_named_before_anything_runs(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, command: list[str]
) -> None:
    folder = tmp_path / "ws"
    assert main(["init", str(folder)]) == 0
    duckdb.connect(str(folder / "empty.duckdb")).close()
    use_database(folder, "duckdb:///empty.duckdb")
    monkeypatch.setenv("WORKBENCH_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    capsys.readouterr()
    assert main(["--workspace", str(folder), *command]) != 0
    err = capsys.readouterr().err
    empty = (folder / "empty.duckdb").resolve()
    assert f"the database duckdb:///{empty} has no table the role can read" in err
