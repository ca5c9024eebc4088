"""A run started from the Smoke page: the self-test first, the run, then the re-asks."""

from __future__ import annotations

import threading

from tests.environment import environment
from tests.smoke_script import CASES, PipelineScript
from workbench.settings import Settings
from workbench.smoke.calibration import ServerSpeed
from workbench.smoke.job import suite_run
from workbench.smoke.plan import SmokeOptions
from workbench.smoke.progress import SmokeProgress
from workbench.store import open_store


def test_a_self_test_that_cannot_run_leaves_the_cases_one_at_a_time(
    settings: Settings, demo_database
) -> None:
    down = settings.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})  # nobody listens
    llm = PipelineScript().llm()
    env = environment(down, llm, store=open_store(down), database=demo_database)
    seen: list[SmokeProgress] = []
    options = SmokeOptions(repeats=1, ids=tuple(c.id for c in CASES))
    record = suite_run(env, options, ServerSpeed())(seen.append, threading.Event())

    assert record.status == "done" and len(record.results) == len(CASES)
    assert record.manifest.concurrency == 1
    assert "has no self-test" in record.manifest.concurrency_note
    assert seen[-1].state == "done"
    assert llm.closed
