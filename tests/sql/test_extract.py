"""Extracting SQL from an answer never runs a part of a refused statement, and reads long
answers whole. (Everyday extraction cases are in test_check.py's MODEL_OUTPUTS.)"""

from __future__ import annotations

import pytest

from tests.labdb import build_lab_database
from workbench.errors import SQLParseError, SQLRefused
from workbench.sql import DuckDBDatabase, extract_sql
from workbench.sql.limits import MAX_SQL_CHARS

WRITING_ANSWERS = [
    # (the model's answer, the statement that must come out of it whole)
    ("INSERT INTO labs SELECT * FROM labs", "INSERT INTO labs SELECT * FROM labs"),
    (
        "Here:\nINSERT INTO labs (id)\nSELECT id + 100 FROM labs;",
        "INSERT INTO labs (id)\nSELECT id + 100 FROM labs",
    ),
    (
        "```sql\nCREATE TABLE copy AS SELECT * FROM labs;\n```",
        "CREATE TABLE copy AS SELECT * FROM labs",
    ),
    (
        "Sure.\nCREATE TABLE copy AS\nSELECT * FROM labs\nThis keeps a copy.",
        "CREATE TABLE copy AS\nSELECT * FROM labs",
    ),
    ("SELECT 1; DROP TABLE labs;", "SELECT 1; DROP TABLE labs"),
    (
        "```sql\nSELECT count(*) FROM labs;\n\nDELETE FROM labs;\n```",
        "SELECT count(*) FROM labs;\n\nDELETE FROM labs",
    ),
    (
        "WITH x AS (SELECT 1 AS id) INSERT INTO labs (id) SELECT id FROM x",
        "WITH x AS (SELECT 1 AS id) INSERT INTO labs (id) SELECT id FROM x",
    ),
]


@pytest.mark.parametrize(("answer", "statement"), WRITING_ANSWERS, ids=range(len(WRITING_ANSWERS)))
def test_a_query_inside_a_writing_statement_comes_out_with_it(answer: str, statement: str) -> None:
    assert extract_sql(answer) == statement


@pytest.mark.parametrize(("answer", "statement"), WRITING_ANSWERS, ids=range(len(WRITING_ANSWERS)))
def test_what_is_extracted_is_refused_as_sql_run_refuses_the_statement(
    tmp_path_factory: pytest.TempPathFactory, answer: str, statement: str
) -> None:
    database = DuckDBDatabase(build_lab_database(tmp_path_factory.mktemp("x") / "lab.duckdb"))
    with pytest.raises(SQLRefused):
        database.run(statement)
    with pytest.raises(SQLRefused):
        database.run(extract_sql(answer))


@pytest.mark.parametrize(
    ("answer", "query"),
    [
        ("Update: the fixed query\nSELECT a FROM t", "SELECT a FROM t"),
        ("Create a list of labs:\nSELECT lab_name FROM labs", "SELECT lab_name FROM labs"),
        ("We insert nothing. SELECT 1", "SELECT 1"),
        ("SELECT 1;\nInsert this into your report.", "SELECT 1"),
        ("Delete nothing; instead\nSELECT 1", "SELECT 1"),
        ("SELECT 1; SELECT 2", "SELECT 1"),
    ],
)
def test_prose_with_writing_words_is_not_a_statement(answer: str, query: str) -> None:
    assert extract_sql(answer) == query


@pytest.mark.parametrize("lines", [3_000])
def test_a_query_followed_by_thousands_of_lines_of_prose(lines: int) -> None:
    prose = "".join(
        f"Line {i} explains why the query counts every lab once.\n" for i in range(lines)
    )
    answer = "Here is the query:\nSELECT lab_name\nFROM labs\n" + prose
    assert len(answer) > 5 * MAX_SQL_CHARS
    assert extract_sql(answer) == "SELECT lab_name\nFROM labs"


def test_many_fences_are_each_read_once() -> None:
    fences = "".join(f"```sql\nSELECT {i} FROM\n```\nnot quite.\n" for i in range(500))
    answer = fences + "```sql\nSELECT lab_name FROM labs\n```"
    assert extract_sql(answer) == "SELECT lab_name FROM labs"


def _giant_query(columns: int, sep: str) -> str:
    return "SELECT " + sep.join(f"lab_name AS c{i}" for i in range(columns)) + "\nFROM labs"


@pytest.mark.parametrize(
    "answer",
    [
        _giant_query(100_000, ", "),  # one line (the probe's 2 MB answer)
        _giant_query(100_000, ",\n"),  # a column a line: the cut falls between two
        "```sql\n" + _giant_query(100_000, ",\n") + "\n```",
        "Here it is:\n" + _giant_query(100_000, ",\n") + ";\nThat is all.",
        "\n".join(f"SELECT {i} AS x UNION ALL" for i in range(5_000)) + "\nSELECT 0",
    ],
    ids=["one-line", "a-column-a-line", "fenced", "after-prose", "union-chain"],
)
def test_a_query_longer_than_the_cap_is_an_error_naming_length_and_cap(answer: str) -> None:
    with pytest.raises(SQLParseError, match=f"longer than the {MAX_SQL_CHARS:,} characters"):
        extract_sql(answer)


def test_a_short_query_with_a_semicolon_before_the_cap_is_kept_whatever_follows() -> None:
    answer = "SELECT lab_name FROM labs;\n" + "SELECT 1 AS x UNION ALL\n" * 5_000
    assert extract_sql(answer) == "SELECT lab_name FROM labs"
