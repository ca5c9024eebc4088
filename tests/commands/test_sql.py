"""``workbench sql ...`` on the command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.labdb import build_lab_database
from workbench import cli
from workbench.commands.sql import render_table
from workbench.settings import PROJECT_ROOT
from workbench.sql import DuckDBDatabase


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lab_database(tmp_path_factory.mktemp("cli") / "lab.duckdb")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sql_run_prints_a_table_and_timing(database: Path, data_dir: Path, capsys) -> None:
    code, out, _ = run_cli(
        ["sql", "run", "SELECT id, lab_name FROM labs ORDER BY id", "--database", str(database)],
        capsys,
    )
    assert code == 0
    lines = out.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == ["id", "lab_name"]
    assert [c.strip() for c in lines[2].split("|")] == ["1", "Midwest Diagnostics"]
    assert lines[-1].startswith("4 rows in ") and lines[-1].endswith(" ms")


def test_sql_run_json(database: Path, data_dir: Path, capsys) -> None:
    sql = (
        "SELECT order_date, value FROM orders o JOIN results r ON r.order_id = o.id WHERE o.id = 1"
    )
    code, out, _ = run_cli(["sql", "run", sql, "--database", str(database), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["columns"] == ["order_date", "value"]
    assert data["row_count"] == 1 and data["truncated"] is False
    assert data["rows"][0][0] == "2025-10-12"
    assert data["sql"] == sql and "JOIN results AS r" in data["executed_sql"]
    assert data["elapsed_ms"] > 0


def test_sql_run_refusal_exits_1_with_the_reason(database: Path, data_dir: Path, capsys) -> None:
    code, out, err = run_cli(["sql", "run", "DROP TABLE labs", "--database", str(database)], capsys)
    assert code == 1 and out == ""
    assert "refused: DROP" in err
    code, out, _ = run_cli(
        ["sql", "run", "SELECT 1; DELETE FROM labs", "--database", str(database), "--json"], capsys
    )
    assert code == 1
    assert json.loads(out)["kind"] == "SQLRefused"


def test_sql_run_respects_the_row_cap_setting(
    database: Path, data_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_SQL_ROW_CAP", "5")
    code, out, _ = run_cli(
        ["sql", "run", "SELECT id FROM orders", "--database", str(database), "--json"], capsys
    )
    data = json.loads(out)
    assert code == 0 and data["row_count"] == 5 and data["truncated"] is True


def test_sql_compare_equivalent_and_different(database: Path, data_dir: Path, capsys) -> None:
    code, out, _ = run_cli(
        [
            "sql",
            "compare",
            "--gold",
            "SELECT id, lab_name FROM labs",
            "--pred",
            "SELECT lab_name AS name, id FROM labs",
            "--database",
            str(database),
            "--json",
        ],
        capsys,
    )
    assert code == 0
    verdict = json.loads(out)
    assert verdict["equivalent"] is True and "same 4 rows" in verdict["reason"]

    code, out, _ = run_cli(
        [
            "sql",
            "compare",
            "--gold",
            "SELECT lab_name FROM labs",
            "--pred",
            "SELECT lab_name, city FROM labs",
            "--database",
            str(database),
        ],
        capsys,
    )
    assert code == 1
    assert out.startswith("different: prediction has 1 extra column")


def test_sql_compare_on_the_demo_database_checks_its_variants_too(
    demo_settings, demo_database: Path, demo_variants, monkeypatch, capsys
) -> None:
    """A patient only a variant has: reading the name as a physician's returns no rows on the
    demo database either, which the variant tells apart."""
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(demo_settings.data_dir))
    query = "SELECT patient_name FROM patients"
    theirs = {row[0] for row in demo_variants[0].database.run(query).rows}
    name = sorted(theirs - {row[0] for row in DuckDBDatabase(demo_database).run(query).rows})[0]
    gold = f"SELECT o.id FROM orders o JOIN patients p ON o.patient_id = p.id WHERE p.patient_name = '{name}'"
    pred = f"SELECT o.id FROM orders o JOIN physicians p ON o.physician_id = p.id WHERE p.physician_name = '{name}'"
    code, out, _ = run_cli(["sql", "compare", "--gold", gold, "--pred", pred, "--json"], capsys)
    verdict = json.loads(out)
    assert code == 1 and verdict["database"] == demo_variants[0].name
    assert verdict["variants"] == [v.name for v in demo_variants]
    assert verdict["reason"].startswith(f"differs on variant database {demo_variants[0].name}")
    code, out, _ = run_cli(
        ["sql", "compare", "--gold", gold, "--pred", pred, "--no-variants"], capsys
    )
    # One database where both return nothing cannot tell the two apart either way.
    assert code == 1 and out.startswith("undetermined: the gold and the prediction both return")


def test_sql_check_and_format(data_dir: Path, capsys) -> None:
    code, out, _ = run_cli(["sql", "check", "SELECT x::date FROM t", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"ok": True, "duckdb": "SELECT CAST(x AS DATE) FROM t"}
    code, _, err = run_cli(["sql", "check", "SELECT * FROM read_csv('/etc/passwd')"], capsys)
    assert code == 1 and "read_csv" in err
    code, _, err = run_cli(["sql", "check", "SELECT FROM WHERE"], capsys)
    assert code == 1 and "line 1, column" in err
    code, out, _ = run_cli(["sql", "format", "select a, b from t where a > 1"], capsys)
    assert code == 0
    assert out.splitlines() == ["SELECT", "  a,", "  b", "FROM t", "WHERE", "  a > 1"]


def test_sql_reads_stdin_for_dash(data_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 1 AS one"))
    code, out, _ = run_cli(["sql", "check", "-"], capsys)
    assert code == 0 and "SELECT 1 AS one" in out


def test_sql_extract_reads_a_model_answer(data_dir: Path, capsys, monkeypatch) -> None:
    answer = "<think>\nhmm\n</think>\nHere:\n```sql\nSELECT id FROM labs;\n```\nDone."
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    code, out, _ = run_cli(["sql", "extract", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"sql": "SELECT id FROM labs"}


def test_python_dash_m_workbench_sql_run(database: Path, tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data")}
    completed = subprocess.run(
        [sys.executable, "-m", "workbench", "sql", "run", "SELECT COUNT(*) AS n FROM orders"]
        + ["--database", str(database), "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["rows"] == [[300]]


def test_render_table_pads_and_cuts() -> None:
    table = render_table(("a", "long"), ((1, None), (22, "x" * 50)), width=10)
    assert table.splitlines() == [
        "a  | long",
        "---+-----------",
        "1  | NULL",
        "22 | xxxxxxxxx…",
    ]


WITH_TIES = "SELECT lab_name FROM labs ORDER BY region FETCH FIRST 2 ROWS WITH TIES"


def test_sql_check_on_postgres_shows_no_transpile(data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", "postgresql://ro@db.internal:5432/lab")
    code, out, _ = run_cli(["sql", "check", WITH_TIES], capsys)
    assert code == 0
    assert out.splitlines() == [
        "ok: a single read-only query",
        "PostgreSQL: runs as written on postgresql://ro@db.internal:5432/lab",
    ]
    assert "LIMIT" not in out
    code, out, _ = run_cli(["sql", "check", "SELECT x::date FROM t", "--json"], capsys)
    assert json.loads(out) == {"ok": True}
    code, out, _ = run_cli(["sql", "check", "SELECT 1 LIMIT 1", "--dialect", "duckdb"], capsys)
    assert out.splitlines()[1] == "PostgreSQL: SELECT 1 LIMIT 1"


def test_sql_check_never_shows_a_transpile_that_changes_the_meaning(data_dir: Path, capsys) -> None:
    code, out, _ = run_cli(["sql", "check", WITH_TIES], capsys)
    assert code == 0
    assert "DuckDB: not transpiled, the transpile would change the meaning" in out
    assert "LIMIT 2" not in out.replace("LIMIT n", "")
    code, out, _ = run_cli(["sql", "check", WITH_TIES, "--json"], capsys)
    data = json.loads(out)
    assert data["duckdb"] is None and "WITH TIES" in data["not_transpiled"]


def test_duckdb_refuses_with_ties_rather_than_cut_the_ties(
    database: Path, data_dir: Path, capsys
) -> None:
    code, _, err = run_cli(["sql", "run", WITH_TIES, "--database", str(database)], capsys)
    assert code == 1 and "DuckDB cannot run this query as written" in err
