"""The music-store example: its generator, its keys, and its workspace's gold cases proved on
DuckDB and PostgreSQL (the second domain that shows the workbench is not tied to the demo)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from rapidfuzz import fuzz

from fixtures import musicdb
from tests.postgres import PostgresCluster
from workbench.cases import load_cases, load_tags
from workbench.cases.suite import count_by_category
from workbench.cli import main
from workbench.commands.smokecheck import check_suite
from workbench.prompts import load_prompt_set
from workbench.prompts.bank import BankRef, load_bank
from workbench.settings import load_settings
from workbench.smoke import check_cases
from workbench.sql import (
    DuckDBDatabase,
    PostgresDatabase,
    QueryResult,
    compare_results,
    gold_is_ordered,
)

WORKSPACE = Path(__file__).resolve().parents[1] / "examples" / "music"
CASES_DIR = WORKSPACE / "cases"
CASES = load_cases(CASES_DIR, musicdb.AS_OF)
BANK = load_bank(WORKSPACE / "prompts" / "examples.yaml", BankRef())


@pytest.fixture(scope="module")
def music_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The music database with the default seed, built once for this module."""
    path = tmp_path_factory.mktemp("music") / "music.duckdb"
    musicdb.build(path, musicdb.DEFAULT_SEED)
    return path


@pytest.fixture(scope="module")
def music_postgres(postgres: PostgresCluster, music_db: Path) -> PostgresDatabase:
    """The same rows in the session's PostgreSQL cluster, in a database of their own."""
    postgres.admin("CREATE DATABASE musicdb")
    musicdb.copy_to_postgres(music_db, postgres.url("musicdb"))
    # A database and role of their own: the lab fixtures and the schema tests' music store
    # create theirs in the same cluster, in whatever order.
    postgres.admin(f"CREATE ROLE musicdb_ro LOGIN PASSWORD '{postgres.reader_password}'")
    postgres.admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO musicdb_ro", "musicdb")
    return PostgresDatabase(postgres.url("musicdb", user="musicdb_ro"))


def table_rows(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in musicdb.TABLES
        }


# -- the generator ------------------------------------------------------------------------


def test_the_same_seed_builds_the_same_rows_and_another_seed_other_sales(
    tmp_path: Path, music_db: Path
) -> None:
    again, other = tmp_path / "again.duckdb", tmp_path / "other.duckdb"
    musicdb.build(again, musicdb.DEFAULT_SEED)
    musicdb.build(other, musicdb.DEFAULT_SEED + 1)
    first, second, third = table_rows(music_db), table_rows(again), table_rows(other)
    assert first == second
    assert all(first[name] for name in musicdb.TABLES)
    reference = [name for name in musicdb.TABLES if not name.startswith("invoice")]
    assert {name: third[name] for name in reference} == {name: first[name] for name in reference}
    assert third["invoice"] != first["invoice"]


def test_keys_and_not_null_columns_are_declared(music_db: Path) -> None:
    with duckdb.connect(str(music_db), read_only=True) as con:
        constraints = con.execute(
            "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints()"
        ).fetchall()
        nullable = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE is_nullable AND NOT internal AND schema_name = 'main'"
        ).fetchall()
    primary = {t: tuple(c) for t, kind, c in constraints if kind == "PRIMARY KEY"}
    foreign = {(t, tuple(c)) for t, kind, c in constraints if kind == "FOREIGN KEY"}
    assert primary.pop("playlist_track") == ("playlist_id", "track_id")
    assert primary == {name: ("id",) for name in musicdb.TABLES if name != "playlist_track"}
    assert foreign == {
        ("album", ("artist_id",)),
        ("track", ("album_id",)),
        ("track", ("media_type_id",)),
        ("track", ("genre_id",)),
        ("playlist_track", ("playlist_id",)),
        ("playlist_track", ("track_id",)),
        ("employee", ("reports_to",)),
        ("customer", ("support_rep_id",)),
        ("invoice", ("customer_id",)),
        ("invoice_line", ("invoice_id",)),
        ("invoice_line", ("track_id",)),
    }
    assert sorted(name for (name,) in nullable) == [
        "customer.company",
        "customer.phone",
        "employee.reports_to",
        "track.composer",
    ]


def test_invoice_totals_are_the_sum_of_their_lines_and_within_the_range(music_db: Path) -> None:
    with duckdb.connect(str(music_db), read_only=True) as con:
        mismatched = con.execute(
            "SELECT COUNT(*) FROM invoice i JOIN (SELECT invoice_id, SUM(unit_price * quantity) "
            "AS s FROM invoice_line GROUP BY invoice_id) l ON l.invoice_id = i.id "
            "WHERE l.s <> i.total"
        ).fetchone()
        first, last = con.execute(
            "SELECT MIN(invoice_date), MAX(invoice_date) FROM invoice"
        ).fetchone()
    assert mismatched == (0,)
    assert first >= musicdb.START and last <= musicdb.END


@pytest.mark.parametrize("offset", [1, 2])
def test_the_suite_holds_on_other_seeds(tmp_path: Path, offset: int) -> None:
    """The planted facts do not hang on one draw of the sales: every gold returns its rows
    and every wrong reading is told apart on other seeds too."""
    path = tmp_path / "music.duckdb"
    musicdb.build(path, musicdb.DEFAULT_SEED + offset)
    report = check_cases(
        CASES,
        DuckDBDatabase(path),
        known_tags=load_tags(CASES_DIR),
        minimums={},
        min_wrong_sql=0,
    )
    assert report.failures == ()


# -- the workspace's suite ------------------------------------------------------------------


def test_the_suite_has_its_promised_shape() -> None:
    counts = count_by_category(CASES)
    assert len(CASES) >= 30 and all(counts.values())
    assert counts["simple"] >= 8 and counts["medium"] >= 8
    assert sum(1 for c in CASES if c.wrong_readings) >= 12
    assert all(c.as_of == musicdb.AS_OF for c in CASES)


def test_smoke_check_reports_the_music_suite_clean(music_db: Path, tmp_path: Path) -> None:
    settings = load_settings(
        WORKSPACE, database_url=f"duckdb:///{music_db}", data_dir=tmp_path / "data"
    )
    assert settings.workspace_name == "music-store"
    outcome = check_suite(argparse.Namespace(strict=True), settings)
    assert (outcome.data["failures"], outcome.data["lint"]) == ([], [])
    assert (outcome.exit_code, outcome.data["cases"]) == (0, len(CASES))


def test_strict_fails_on_an_unjustified_gold_lint_finding(music_db: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    shutil.copytree(CASES_DIR, cases)
    unordered = (
        "\n- id: extra-order\n  question: List the genres sorted by name.\n"
        "  gold_sql: SELECT name FROM genre\n  tags: [simple]\n"
    )
    with (cases / "simple.yaml").open("a", encoding="utf-8") as file:
        file.write(unordered)
    settings = load_settings(
        WORKSPACE,
        database_url=f"duckdb:///{music_db}",
        data_dir=tmp_path / "data",
        cases_dir=cases,
    )
    lenient = check_suite(argparse.Namespace(strict=False), settings)
    strict = check_suite(argparse.Namespace(strict=True), settings)
    assert [(f["case"], f["rule"]) for f in strict.data["lint"]] == [
        ("extra-order", "order-missing")
    ]
    assert strict.data["lint"][0]["source"].endswith(
        "simple.yaml:" + str(_line_of(cases, "extra-order"))
    )
    assert "[order-missing]" in strict.text and "--strict fails on them" in strict.text
    assert (lenient.exit_code, strict.exit_code) == (0, 1)

    justified = unordered + "  lint: {order-missing: the catalogue order is fine}\n"
    (cases / "simple.yaml").write_text(
        (cases / "simple.yaml").read_text(encoding="utf-8").replace(unordered, justified),
        encoding="utf-8",
    )
    assert check_suite(argparse.Namespace(strict=True), settings).exit_code == 0


def _line_of(cases: Path, case_id: str) -> int:
    lines = (cases / "simple.yaml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if f"id: {case_id}" in line)


def test_a_plain_init_with_the_music_cases_and_bank_checks_clean(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/music/README.md's recipe: the starter pipeline, the team's cases and bank."""
    folder = tmp_path / "music"
    assert main(["init", str(folder)]) == 0
    (folder / "cases" / "cases.yaml").unlink()
    for path in (WORKSPACE / "cases").glob("*.yaml"):
        shutil.copy(path, folder / "cases" / path.name)
    shutil.copy(WORKSPACE / "prompts" / "examples.yaml", folder / "prompts" / "examples.yaml")
    musicdb.build(folder / "music.duckdb", musicdb.DEFAULT_SEED)
    toml = folder / "workbench.toml"
    text = toml.read_text().replace('url = "demo"', 'url = "duckdb:///music.duckdb"', 1)
    toml.write_text(text.replace("# as_of = 2026-03-31", "as_of = 2026-06-30", 1))
    capsys.readouterr()
    assert main(["--workspace", str(folder), "smoke", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["failures"], report["warnings"]) == ([], [])
    assert report["cases"] == len(CASES)
    sql = load_prompt_set(folder / "prompts").stages[5]
    assert sql.bank is not None and len(sql.bank.entries) == len(BANK.entries)


def test_every_wrong_reading_returns_another_result_than_its_gold(music_db: Path) -> None:
    database = DuckDBDatabase(music_db)
    same = [
        case.id
        for case in CASES
        for wrong in case.wrong_readings
        if same_answer(case.gold_sql, database.run(case.gold_sql), database.run(wrong))
    ]
    assert same == []


def test_no_bank_question_is_nearly_a_case_question() -> None:
    assert 8 <= len(BANK.entries) <= 12
    near = [
        (entry.question, case.id)
        for entry in BANK.entries
        for case in CASES
        if fuzz.ratio(entry.question.lower(), case.question.lower()) >= 90
    ]
    assert near == []


def test_every_bank_query_runs(music_db: Path) -> None:
    database = DuckDBDatabase(music_db)
    assert all(database.run(entry.sql).row_count for entry in BANK.entries)


@pytest.mark.postgres
def test_every_gold_gives_the_same_rows_on_postgres_and_duckdb(
    music_postgres: PostgresDatabase, music_db: Path
) -> None:
    """Order-insensitive unless the gold has an outer ORDER BY (the comparator's rule)."""
    duck = DuckDBDatabase(music_db)
    disagreements = []
    for case in CASES:
        native, transpiled = music_postgres.run(case.gold_sql), duck.run(case.gold_sql)
        verdict = compare_results(native, transpiled, ordered=gold_is_ordered(case.gold_sql))
        if not verdict.equivalent:
            disagreements.append(f"{case.id}: {verdict.reason}")
        assert bool(native.row_count) != case.empty_expected, case.id
    assert disagreements == []


@pytest.mark.postgres
def test_every_wrong_reading_is_told_apart_on_postgres_too(
    music_postgres: PostgresDatabase,
) -> None:
    same = [
        case.id
        for case in CASES
        for wrong in case.wrong_readings
        if same_answer(case.gold_sql, music_postgres.run(case.gold_sql), music_postgres.run(wrong))
    ]
    assert same == []


@pytest.mark.postgres
def test_postgres_holds_every_row(music_postgres: PostgresDatabase, music_db: Path) -> None:
    counts = {name: len(rows) for name, rows in table_rows(music_db).items()}
    assert music_postgres.table_counts() == counts


def same_answer(gold_sql: str, gold: QueryResult, other: QueryResult) -> bool:
    return compare_results(gold, other, ordered=gold_is_ordered(gold_sql)).equivalent
