"""A run whose process was killed outright is marked interrupted by the next reader."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlmodel import Session

from tests.smoke_records import manifest
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.owner import Owner, this_process
from workbench.smoke.results import create_run, list_runs, load_run
from workbench.store import SmokeRunRow, open_store


def test_a_run_whose_process_was_killed_outright_reads_interrupted(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from tests.smoke_records import manifest
        from workbench.settings import Settings
        from workbench.smoke.results import create_run
        from workbench.store import open_store
        print(create_run(open_store(Settings(data_dir=Path({str(tmp_path)!r}))), manifest(), ("simple-002",)), flush=True)
        time.sleep(600)
    """)  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        store = open_store(Settings(data_dir=tmp_path))
        assert load_run(store, run_id).status == "running"  # its process is alive
    finally:
        child.send_signal(signal.SIGKILL)  # no handler runs: nothing can mark it
        child.wait(timeout=30)

    (summary,) = list_runs(store)
    assert summary.status == "interrupted"
    record = load_run(store, run_id)
    assert record.status == "interrupted" and record.finished is not None
    assert f"process {child.pid} on {socket.gethostname()}" in record.note
    assert "resume the run" in record.note


def test_a_run_of_a_live_process_or_another_host_is_left_running(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    mine = create_run(store, manifest(), ("simple-002",))
    elsewhere = create_run(store, manifest(), ("simple-002",))
    with Session(store) as session:
        row = session.get(SmokeRunRow, elsewhere)
        assert row is not None
        row.owner = "another-host:1:123"
        session.add(row)
        session.commit()
    assert {s.id: s.status for s in list_runs(store)} == {mine: "running", elsewhere: "running"}


def test_an_owner_names_its_process_and_a_reused_pid_is_told_apart() -> None:
    me = this_process()
    assert Owner.parse(str(me)) == me and not me.gone()
    assert me.host == socket.gethostname() and me.pid == os.getpid() and me.started
    assert Owner(me.host, me.pid, str(int(me.started) + 1)).gone()  # same pid, another process
    assert not Owner("another-host", 1, "5").gone()
    assert Owner.parse("") is None and Owner.parse("host:x:1") is None
    assert Owner.parse("a:b:7:99") == Owner("a:b", 7, "99")  # a host name with a colon
