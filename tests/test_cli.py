"""The command line prints untrusted text without terminal escapes, warns about unknown
WORKBENCH_* variables, refuses a question that is not valid Unicode with a clear error, and
a count flag out of range as an argument error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.labdb import build_lab_database
from workbench.cli import main
from workbench.settings import PROJECT_ROOT

ESCAPES = ("\x1b", "\x07", "\x9b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_text_for_people_shows_escape_sequences_as_text(data_dir: Path, capsys) -> None:
    assert main(["diff", "count \x1b[31mred\x1b[0m", "count blue \x1b]0;retitled\x07"]) == 0
    out = capsys.readouterr().out
    assert not any(e in out for e in ESCAPES)
    assert "[31mred\\x1b[0m" in out and "]0;retitled\\x07" in out


def test_query_results_and_errors_are_neutralised_too(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    database = build_lab_database(tmp_path / "lab.duckdb")
    assert main(["sql", "run", "SELECT chr(27) || '[2J' AS wipe", "--database", str(database)]) == 0
    assert "\\x1b[2J" in capsys.readouterr().out
    assert main(["sql", "check", "SELEC \x1b[2J nonsense"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and not any(e in err for e in ESCAPES)


def test_json_output_keeps_escapes_escaped(data_dir: Path, capsys) -> None:
    assert main(["diff", "a \x1b[31m", "b", "--json"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\u001b[31m" in out


def test_an_unknown_variable_is_warned_about_with_the_setting_meant(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("WORKBENCH_SQL_TIMEOUT", "3")
    assert main(["info"]) == 0
    err = capsys.readouterr().err
    assert "warning: WORKBENCH_SQL_TIMEOUT is not a setting" in err
    assert "did you mean WORKBENCH_SQL_TIMEOUT_S?" in err


def test_a_question_in_bytes_that_are_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WORKBENCH_DATA_DIR": str(tmp_path / "data"),
        "WORKBENCH_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "WORKBENCH_SERVER_AUTOSTART": "false",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "run", b"how many results \xff\xfe this year"],
        capture_output=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    err = out.stderr.decode(errors="replace")
    assert out.returncode == 1
    assert "error: the question is not valid text" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "flag", "allowed"),
    [
        (["smoke", "run", "--limit", "0"], "--limit", "from 1 to 100000"),
        (["smoke", "run", "--limit", "-1"], "--limit", "from 1 to 100000"),
        (["smoke", "run", "--limit", "many"], "--limit", "from 1 to 100000"),
        (["smoke", "run", "--repeat", "0"], "--repeat", "from 1 to 100"),
        (["smoke", "run", "--concurrency", "-2"], "--concurrency", "from 1 to 256"),
        (["smoke", "experiment", "--limit", "0"], "--limit", "from 1 to 100000"),
        (["selftest", "--concurrency", "0"], "--concurrency", "from 2 to 256"),
        (["serve", "--port", "70000"], "--port", "from 1 to 65535"),
    ],
)
def test_a_count_flag_out_of_range_is_an_argument_error_naming_flag_and_range(
    arguments: list[str], flag: str, allowed: str, capsys
) -> None:
    """``--limit 0`` used to come back as 'no smoke case matches the selection'."""
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {flag}: " in error and allowed in error, error
