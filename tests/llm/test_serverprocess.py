"""The record of a managed server: written whole, read back, older pid files, stale ones."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.llm.serverprocess import (
    ServerRecord,
    legacy_pid_path,
    process_start,
    read_record,
    record_path,
    recorded_ports,
    remove_record,
    write_record,
)

URL = "http://127.0.0.1:8123/v1"


def record(**changes: object) -> ServerRecord:
    base = ServerRecord(
        pid=os.getpid(),
        port=8123,
        base_url=URL,
        model="smollm2-135m-instruct",
        served_names=("smollm2-135m-instruct",),
        profile="cpu",
        started=1_700_000_000.0,
        started_by="app",
        owner_pid=os.getpid(),
        log_path="/tmp/vllm-8123.log",
        process_start=process_start(os.getpid()),
    )
    return base.with_changes(**changes)


def test_a_record_reads_back_as_written(tmp_path: Path) -> None:
    written = record()
    write_record(tmp_path, written)
    assert read_record(tmp_path, 8123, URL) == written
    assert written.alive() and written.owner_alive()
    assert [p.name for p in tmp_path.iterdir()] == ["vllm-8123.json"]  # no partial file left


def test_a_pid_that_names_another_process_is_not_alive(tmp_path: Path) -> None:
    assert not record(process_start=(process_start(os.getpid()) or 0) + 1).alive()


def test_an_older_pid_file_is_read_as_a_record_that_knows_the_pid(tmp_path: Path) -> None:
    legacy_pid_path(tmp_path, 8123).write_text(f"{os.getpid()}\n")
    old = read_record(tmp_path, 8123, URL)
    assert old is not None and old.pid == os.getpid() and old.started_by == "unknown"
    assert old.owner_pid == 0 and not old.owner_alive()
    assert recorded_ports(tmp_path) == [8123]
    remove_record(tmp_path, 8123)
    assert read_record(tmp_path, 8123, URL) is None and recorded_ports(tmp_path) == []


def test_an_unreadable_record_is_removed(tmp_path: Path) -> None:
    record_path(tmp_path, 8123).write_text("{not json")
    assert read_record(tmp_path, 8123, URL) is None
    assert not record_path(tmp_path, 8123).exists()
