"""A smoke run whose PostgreSQL database goes away mid-run: the case it went away under is an
error, the run stops as interrupted, and resuming it once the database is back finishes it.

The database really goes away: the run reaches the real server through a TCP relay that the
test closes (connections refused) and opens again, as a restarted database or a dropped
tunnel would do.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from tests.conftest import PostgresLab
from tests.postgres import PostgresCluster
from tests.smoke_script import CASES, SQL, PipelineScript
from workbench.pipeline import RunEnvironment
from workbench.prompts import load_prompt_set
from workbench.settings import Settings
from workbench.smoke.runner import SmokeOptions, resume_run, run_suite
from workbench.sql import PostgresDatabase
from workbench.store import open_store

pytestmark = pytest.mark.postgres

SIMPLE_002, SIMPLE_003, SIMPLE_007 = CASES


class Relay:
    """Forwards TCP connections from a local port to the database; ``close`` refuses them."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_the_database_going_away_mid_run_is_an_error_then_a_resume_finishes(
    settings: Settings, postgres: PostgresCluster, postgres_lab: PostgresLab
) -> None:
    relay = Relay(postgres.port)
    url = postgres.url("lab", user="workbench_ro").replace(f":{postgres.port}/", f":{relay.port}/")
    script = PipelineScript()

    def database_goes_away() -> str:
        relay.close()
        return SIMPLE_003.gold_sql

    script.plant(SQL, SIMPLE_003.question, database_goes_away)
    store = open_store(settings)
    env = RunEnvironment(
        settings,
        script.llm(),
        load_prompt_set(settings.prompts_dir),
        PostgresDatabase(url),
        store,
    )
    try:
        record = run_suite(env, SmokeOptions(repeats=1), cases=CASES)
        assert record.status == "interrupted"
        verdicts = {r.case_id: (r.verdict, r.resumable) for r in record.results}
        assert verdicts == {"simple-002": ("pass", False), "simple-003": ("error", True)}
        [lost] = [r for r in record.results if r.resumable]
        assert "the database went away" in lost.reason and "cannot reach" in lost.reason

        relay.open()  # the database is back
        resumed = resume_run(env, record.id, cases=CASES)
    finally:
        relay.close()
    assert resumed.status == "done"
    assert [(r.case_id, r.verdict) for r in resumed.results] == [
        ("simple-002", "pass"),
        ("simple-003", "pass"),
        ("simple-007", "pass"),
    ]
    assert not any(r.resumable for r in resumed.results)
    assert script.calls[(SQL, SIMPLE_002.question)] == 1  # the finished case was not run again
