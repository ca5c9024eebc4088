"""Every refusal or error of a query is one line, on DuckDB and on PostgreSQL alike.

The databases' own errors run to several lines (the ``LINE 1:`` echo and its caret, candidate
lists, PostgreSQL's HINT); the message keeps one line and ``detail`` keeps the whole text,
which ``sql run --json`` prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PostgresLab
from tests.labdb import build_lab_database
from tests.sql.test_check import HOSTILE
from workbench.cli import main
from workbench.errors import SQLError, one_line
from workbench.sql import Database, DuckDBDatabase, PostgresDatabase

MISTAKES = [
    "SELECT lab_nam FROM labs",  # DuckDB: candidate bindings, LINE 1 and a caret
    "SELECT * FROM no_such_table",
    "SELECT 'a' + 1",  # DuckDB: an indented list of candidate functions
    "SELECT CAST('x' AS INT)",
    "SELECT * FROM labs WHERE id = 'abc'",
    "SELECT 1/0 FROM labs WHERE lab_name = 1",
    "SELECT FROM WHERE",
    "SELECT id\nFROM labs\nWHERE nope = 1",  # an error on the third line of the SQL
    "SELECT 1 -- harmless\n; DROP TABLE x",
]
CORPUS = [sql for sql, _reason in HOSTILE] + MISTAKES


@pytest.fixture(scope="module")
def duckdb_database(tmp_path_factory: pytest.TempPathFactory) -> DuckDBDatabase:
    return DuckDBDatabase(build_lab_database(tmp_path_factory.mktemp("messages") / "lab.duckdb"))


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def target(request: pytest.FixtureRequest) -> Database:
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_database")
    lab: PostgresLab = request.getfixturevalue("postgres_lab")
    return PostgresDatabase(lab.url)


def test_every_refusal_and_error_of_the_corpus_is_one_line(
    target: Database, tmp_path: Path
) -> None:
    several = []
    for sql in CORPUS:
        with pytest.raises(SQLError) as caught:
            target.run(sql.replace("/tmp/", f"{tmp_path}/"))
        message = str(caught.value)
        if "\n" in message or not message.strip():
            several.append((sql, message))
    assert several == []


def test_one_line_keeps_the_words_a_person_needs() -> None:
    duckdb = (
        'Binder Error: Referenced column "x" not found in FROM clause!\n'
        'Candidate bindings: "city"\n\nLINE 1: SELECT x FROM labs\n               ^'
    )
    assert one_line(duckdb) == (
        'Binder Error: Referenced column "x" not found in FROM clause! Candidate bindings: "city"'
    )
    postgres = (
        'column "x" does not exist\nLINE 1: SELECT x FROM labs\n               ^\n'
        'HINT:  Perhaps you meant to reference the column "labs.id".'
    )
    assert one_line(postgres) == (
        'column "x" does not exist; HINT: Perhaps you meant to reference the column "labs.id".'
    )


def test_sql_run_json_keeps_the_databases_whole_text(data_dir: Path, capsys) -> None:
    assert main(["sql", "run", "--json", "SELECT lab_nam FROM labs"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert "\n" not in printed["error"] and "lab_name" in printed["error"]
    assert "LINE 1: SELECT lab_nam FROM labs" in printed["detail"]
    assert "^" in printed["detail"]
