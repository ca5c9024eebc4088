"""The store: opened by several processes at once, upgraded in place, and refused with the
setting to fix when its location cannot be used."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from sqlmodel import Session

from workbench.errors import ConfigError
from workbench.settings import Settings
from workbench.store import SmokeRunRow, open_store

ROUNDS = 15


def _open(data_dir: str, barrier) -> str | None:  # type: ignore[no-untyped-def]
    barrier.wait()
    try:
        open_store(Settings(data_dir=Path(data_dir))).dispose()
    except Exception as exc:  # reported to the test, which names it
        return f"{type(exc).__name__}: {exc}"
    return None


def test_three_processes_opening_a_fresh_data_dir_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    failures: list[str] = []
    with context.Manager() as manager, context.Pool(3) as pool:
        for round_ in range(ROUNDS):
            barrier = manager.Barrier(3)
            data_dir = str(tmp_path / f"data-{round_}")
            results = pool.starmap(_open, [(data_dir, barrier)] * 3)
            failures += [r for r in results if r is not None]
    assert failures == []


def test_a_store_made_before_a_column_existed_gets_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "workbench.sqlite") as old:
        old.execute(
            "CREATE TABLE smoke_run (id VARCHAR NOT NULL PRIMARY KEY, created DATETIME NOT NULL, "
            "finished DATETIME, status VARCHAR NOT NULL, label VARCHAR NOT NULL, "
            "manifest VARCHAR NOT NULL, case_ids VARCHAR NOT NULL)"
        )
        old.execute(
            "INSERT INTO smoke_run VALUES ('r1', '2026-01-01 00:00:00', NULL, 'done', '', '{}', '[]')"
        )
    engine = open_store(Settings(data_dir=data_dir))
    with Session(engine) as session:
        assert session.get(SmokeRunRow, "r1").note == ""
    open_store(Settings(data_dir=data_dir))  # a second open finds nothing to add


def test_a_data_dir_that_cannot_be_made_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for data_dir in (blocker, blocker / "below"):
        with pytest.raises(ConfigError, match=f"WORKBENCH_DATA_DIR={data_dir}"):
            open_store(Settings(data_dir=data_dir))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////nonexistent/dir/x.sqlite", "unable to open database file"),
        ("nosuchdriver://host/db", "cannot be used"),
        ("postgresql+psycopg://someone:secret@127.0.0.1:9/db", "someone:***@127.0.0.1:9"),
    ],
)
def test_a_store_url_that_cannot_be_used_is_a_config_error(
    tmp_path: Path, url: str, shown: str
) -> None:
    with pytest.raises(ConfigError, match="WORKBENCH_STORE_URL") as caught:
        open_store(Settings(data_dir=tmp_path / "data", store_url=url))
    assert shown in str(caught.value)
    assert "secret" not in str(caught.value)
