"""The starter pipeline that plain ``init`` writes, run on a database that is not the demo's:
the SQL stage sees the schema and the nearest bank entries, the gates count the workspace's
own values, and a case is never shown its own bank entry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.environment import environment
from tests.scripted_llm import ScriptedLLM
from workbench.commands.init import STARTER
from workbench.pipeline.run import run_pipeline
from workbench.settings import Settings
from workbench.workspace import init_workspace

AS_OF = date(2026, 6, 30)
GENRES = ("Rock", "Jazz", "Blues", "Metal", "Latin", "Pop", "Reggae")

BANK = """\
- question: How many albums does each artist have?
  sql: SELECT artist.name, COUNT(*) AS albums FROM album JOIN artist ON album.artist_id = artist.id GROUP BY artist.name
- question: Show the tracks longer than five minutes
  sql: SELECT name FROM track WHERE milliseconds > 300000
- question: Show the number of tracks per genre
  sql: SELECT genre.name, COUNT(*) AS tracks FROM track JOIN genre ON track.genre_id = genre.id GROUP BY genre.name
"""


def music_database(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE artist (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
    con.execute("CREATE TABLE genre (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
    con.execute(
        "CREATE TABLE album (id INTEGER PRIMARY KEY, title VARCHAR NOT NULL, "
        "artist_id INTEGER NOT NULL REFERENCES artist (id))"
    )
    con.execute(
        "CREATE TABLE track (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "album_id INTEGER REFERENCES album (id), genre_id INTEGER REFERENCES genre (id), "
        "milliseconds INTEGER NOT NULL)"
    )
    con.executemany("INSERT INTO artist VALUES (?, ?)", [(i, f"Artist {i}") for i in range(1, 9)])
    con.executemany("INSERT INTO genre VALUES (?, ?)", list(enumerate(GENRES, 1)))
    con.executemany(
        "INSERT INTO album VALUES (?, ?, ?)", [(i, f"Album {i}", 1 + i % 8) for i in range(1, 21)]
    )
    con.executemany(
        "INSERT INTO track VALUES (?, ?, ?, ?, ?)",
        [(i, f"Track {i}", 1 + i % 20, 1 + i % 7, 120_000 + 3_000 * i) for i in range(1, 141)],
    )
    con.close()
    return path


@pytest.fixture
def starter(tmp_path: Path, data_dir: Path) -> Settings:
    made = init_workspace(tmp_path / "music", STARTER)
    (made.prompts_dir / "examples.yaml").write_text(BANK, encoding="utf-8")
    return Settings(
        data_dir=data_dir, prompts_dir=made.prompts_dir, cases_dir=made.cases_dir, seed=3
    )


def test_a_plain_lookup_runs_through_the_starter_pipeline(
    starter: Settings, tmp_path: Path
) -> None:
    question = "Hi! How many tracks are there in each genre? Thanks"
    request = "Show count tracks by genre"
    sql = (
        "SELECT genre.name, COUNT(*) AS tracks FROM track "
        "JOIN genre ON track.genre_id = genre.id GROUP BY genre.name"
    )
    llm = ScriptedLLM(
        "How many tracks are there in each genre?",
        request,
        request,
        request,
        sql + "\n```",
        "Each of the seven genres has 20 tracks.",
    )
    database = music_database(tmp_path / "music.duckdb")
    trace = run_pipeline(question, environment(starter, llm, database=database), as_of=AS_OF)
    assert trace.status == "ok", trace.failed_stage
    assert trace.result is not None and len(trace.result.rows) == len(GENRES)
    sql_request = llm.requests[4]
    system = sql_request.messages[0].content
    assert "CREATE TABLE" in system and "genre" in system and "Rock" in system
    shots = [m.content for m in sql_request.messages[1:-1]]
    assert shots[-2] == "Show the number of tracks per genre"  # the nearest entry, last
    assert shots[-1].startswith("```sql\nSELECT genre.name")
    assert sql_request.messages[-1].content == request
    # the rewrite stages see one bank question, left unchanged
    query_request = llm.requests[1]
    assert [m.role for m in query_request.messages] == ["system", "user", "assistant", "user"]
    assert query_request.messages[1].content == query_request.messages[2].content


def test_the_sql_gate_counts_the_workspace_s_own_values(starter: Settings, tmp_path: Path) -> None:
    request = (
        "Show count tracks in Rock, Jazz, Blues, Metal or Latin by genre, sorted highest to lowest"
    )
    llm = ScriptedLLM(request, request, request, request, "SELECT 1\n```", "One.")
    database = music_database(tmp_path / "music.duckdb")
    trace = run_pipeline(request, environment(starter, llm, database=database), as_of=AS_OF)
    sql_stage = trace.stages[5]
    assert sql_stage.gate is not None and sql_stage.gate.thinking
    assert "5 workspace values" in sql_stage.gate.fired[0]


def test_a_question_in_the_bank_is_never_shown_its_own_entry(
    starter: Settings, tmp_path: Path
) -> None:
    question = "Show the tracks longer than five minutes"
    sql = "SELECT name FROM track WHERE milliseconds > 300000"
    llm = ScriptedLLM(question, question, question, question, sql + "\n```", "Many.")
    database = music_database(tmp_path / "music.duckdb")
    run_pipeline(question, environment(starter, llm, database=database), as_of=AS_OF)
    for request in llm.requests[1:5]:
        shown = [m.content for m in request.messages[1:-1] if m.role == "user"]
        assert question not in shown
