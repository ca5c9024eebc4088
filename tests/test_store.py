"""The store: workspaces sharing one never mix, older stores upgrade, PostgreSQL loses nothing;
opened by several processes at once, and refused with the setting to fix when its location
cannot be used."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.pipeline.test_trace import make_trace
from tests.postgres import PostgresCluster
from tests.smoke_records import manifest, result
from workbench.errors import ConfigError, StoreError
from workbench.llm import Completion
from workbench.pipeline.cache import StageCache
from workbench.pipeline.trace import load_trace, recent_traces, save_trace, trace_to_json
from workbench.prompts.versions import (
    history,
    latest,
    prompt_set_at,
    save_prompt,
    sha256_text,
    timeline,
)
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.results import create_run, list_runs, load_run, save_case_result
from workbench.store import PromptVersionRow, SmokeRunRow, open_store, store_workspace

BEFORE_WORKSPACES = Path(__file__).parent / "fixtures" / "store" / "before_workspaces.sql"
NO_CHECK = {"validate": lambda _text, _path: None}


def store_of(settings: Settings, workspace: str) -> Engine:
    return open_store(settings.model_copy(update={"workspace_name": workspace}))


def test_two_workspaces_sharing_a_store_never_see_each_others_records(
    settings: Settings, tmp_path: Path
) -> None:
    ours, theirs = store_of(settings, "ours"), store_of(settings, "theirs")
    assert (store_workspace(ours), store_workspace(theirs)) == ("ours", "theirs")

    trace_id = save_trace(ours, make_trace("ours only?"))
    assert [t.id for t in recent_traces(ours)] == [trace_id]
    assert recent_traces(theirs) == []
    with pytest.raises(StoreError, match="in workspace 'theirs'"):
        load_trace(theirs, trace_id)

    stage = tmp_path / "06_sql.md"
    save_prompt(ours, settings, stage, "ours v1\n", "first", None, **NO_CHECK)
    save_prompt(ours, settings, stage, "ours v2\n", "second", 1, **NO_CHECK)
    other_stage = tmp_path / "theirs" / "06_sql.md"  # the same stage, their own file
    version = save_prompt(theirs, settings, other_stage, "theirs v1\n", "first", None, **NO_CHECK)
    assert version.number == 1  # numbered per workspace
    assert [v.text for v in history(ours, stage)] == ["ours v1\n", "ours v2\n"]
    assert [v.text for v in timeline(theirs)] == ["theirs v1\n"]
    assert prompt_set_at(theirs, datetime.now(UTC)) == {"06_sql.md": "theirs v1\n"}

    run_id = create_run(ours, manifest(), ("simple-001",))
    save_case_result(ours, run_id, result("simple-001", "pass"))
    assert [r.id for r in list_runs(ours)] == [run_id]
    assert list_runs(theirs) == []
    with pytest.raises(StoreError, match="in workspace 'theirs'"):
        load_run(theirs, run_id)

    answer = Completion(text="SELECT 1", model="m", finish_reason="stop")
    our_cache, their_cache = StageCache(ours), StageCache(theirs)
    our_cache.put("k", "sql", answer)
    assert our_cache.get("k") == answer and their_cache.get("k") is None
    their_cache.put("k", "sql", answer)
    their_cache.clear()
    assert (len(our_cache), len(their_cache)) == (1, 0)


def old_store(path: Path) -> None:
    """A store written by the workbench before workspaces, with one row of each kind."""
    connection = sqlite3.connect(path)
    connection.executescript(BEFORE_WORKSPACES.read_text())
    trace = make_trace("from before?", id="old-trace")
    connection.execute(
        "INSERT INTO traces VALUES ('old-trace', ?, '2026-03-31', '2026-03-01 09:00:00', 'ok', ?)",
        (trace.question, trace_to_json(trace)),
    )
    for number in (1, 2):
        connection.execute(
            "INSERT INTO prompt_version (stage, number, text, sha256, created_at, author, "
            "message, origin) VALUES ('06_sql.md', ?, ?, ?, ?, 'ann', 'm', 'save')",
            (
                number,
                f"old v{number}\n",
                sha256_text(f"old v{number}\n"),
                f"2026-03-0{number} 09:00",
            ),
        )
    connection.execute(
        "INSERT INTO smoke_run VALUES ('old-run', '2026-03-01 09:00:00', NULL, 'done', '', ?, ?)",
        (json.dumps(manifest().__dict__, default=list), json.dumps(["simple-001"])),
    )
    connection.execute(
        "INSERT INTO stage_cache VALUES ('k', 'sql', 'm', '2026-03-01 09:00:00', ?)",
        (json.dumps({"text": "SELECT 1", "model": "m", "finish_reason": "stop"}),),
    )
    connection.commit()
    connection.close()


def test_a_store_from_before_workspaces_keeps_working_as_the_demos(
    settings: Settings, tmp_path: Path
) -> None:
    settings.ensure_data_dir()
    path = settings.data_dir / "workbench.sqlite"
    old_store(path)
    demo = open_store(settings)
    assert [t.id for t in recent_traces(demo)] == ["old-trace"]
    assert load_trace(demo, "old-trace").question == "from before?"
    assert [r.id for r in list_runs(demo)] == ["old-run"]
    assert StageCache(demo).get("k").text == "SELECT 1"
    stage = tmp_path / "06_sql.md"
    stage.write_text("old v2\n")
    assert latest(demo, stage).number == 2
    assert save_prompt(demo, settings, stage, "new v3\n", "", 2, **NO_CHECK).number == 3

    other = store_of(settings, "ours")
    assert recent_traces(other) == [] and list_runs(other) == []
    assert StageCache(other).get("k") is None
    other_stage = tmp_path / "ours" / "06_sql.md"
    assert save_prompt(other, settings, other_stage, "ours v1\n", "", None, **NO_CHECK).number == 1

    inspector = inspect(demo)
    for table in ("traces", "stage_cache", "prompt_version", "smoke_run"):
        assert "workspace" in {c["name"] for c in inspector.get_columns(table)}
        assert f"ix_{table}_workspace" in {i["name"] for i in inspector.get_indexes(table)}
    assert {
        tuple(u["column_names"]) for u in inspector.get_unique_constraints("prompt_version")
    } == {("workspace", "stage", "number")}
    open_store(settings)  # a second open changes nothing
    with Session(demo) as session:
        ids = [
            row.id for row in session.exec(select(PromptVersionRow).order_by(PromptVersionRow.id))
        ]
    assert ids == [1, 2, 3, 4]  # the old rows kept their ids


def test_two_processes_opening_an_old_store_at_once_upgrade_it_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old_store(data / "workbench.sqlite")
    code = (
        "from workbench.settings import Settings; from workbench.store import open_store; "
        "from workbench.pipeline.trace import recent_traces; "
        f"print(len(recent_traces(open_store(Settings(data_dir={str(data)!r})))))"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [(w.returncode, out.strip()) for w, (out, _) in zip(workers, outputs, strict=True)] == [
        (0, "1"),
        (0, "1"),
    ], outputs


@pytest.mark.postgres
def test_a_postgres_store_from_before_workspaces_is_upgraded_too(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    import psycopg
    import sqlglot

    postgres.admin("CREATE DATABASE old_store")
    url = postgres.url("old_store")
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in sqlglot.transpile(
            BEFORE_WORKSPACES.read_text(), read="sqlite", write="postgres"
        ):
            connection.execute(statement.replace("id INT NOT NULL", "id SERIAL NOT NULL"))
        connection.execute(
            "INSERT INTO prompt_version (stage, number, text, sha256, created_at, author, "
            "message, origin) VALUES ('06_sql.md', 1, 'old v1', %s, now(), 'ann', '', 'save')",
            [sha256_text("old v1")],
        )
    demo = open_store(Settings(data_dir=tmp_path / "data", store_url=url))
    ours = store_of(Settings(data_dir=tmp_path / "data", store_url=url), "ours")
    stage = tmp_path / "06_sql.md"
    assert [v.text for v in history(demo, stage)] == ["old v1"]
    assert history(ours, stage) == []
    assert save_prompt(ours, Settings(), stage, "ours v1", "", None, **NO_CHECK).number == 1
    uniques = inspect(demo).get_unique_constraints("prompt_version")
    assert [u["column_names"] for u in uniques] == [["workspace", "stage", "number"]]


@pytest.mark.postgres
def test_the_store_on_postgres_two_processes_saving_at_once_lose_nothing(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    postgres.admin("CREATE DATABASE store")
    url = postgres.url("store")
    open_store(Settings(data_dir=tmp_path / "data", store_url=url))  # tables made once
    count = 12
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store_worker", url, "team", name, str(tmp_path), str(count)],
            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("ann", "bob")
    ]  # fmt: skip
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    saved = [json.loads(out) for out, _ in outputs]

    store = open_store(Settings(data_dir=tmp_path / "data", store_url=url, workspace_name="team"))
    traces = {t.id for t in recent_traces(store, limit=1000)}
    assert traces == {t for s in saved for t in s["traces"]}
    runs = {r.id: r for r in list_runs(store, limit=1000)}
    assert set(runs) == {r for s in saved for r in s["runs"]}
    assert all(r.counts.passed == 1 for r in runs.values())
    for name, s in zip(("ann", "bob"), saved, strict=True):
        versions = history(store, tmp_path / f"{name}.md")
        assert [v.text for v in versions] == s["own"]
    shared = history(store, tmp_path / "shared.md")
    assert [v.number for v in shared] == list(range(1, len(shared) + 1))
    committed = {v.text for v in shared if v.origin == "save"}
    assert committed == {text for s in saved for text in s["shared"]}
    assert recent_traces(open_store(Settings(data_dir=tmp_path / "d2", store_url=url))) == []


# -- opening a store -------------------------------------------------------------

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
