"""The flakiness detector against the real local model server, sequential and concurrent.

Whatever the small model answers, the detector's verdict must agree with a direct
comparison of the stored outputs of each case's repeats.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.environment import environment
from tests.smoke_script import CASES
from workbench.llm.pool import make_llm
from workbench.pipeline.trace import load_trace
from workbench.settings import Settings
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.store import open_store

pytestmark = pytest.mark.integration


def outputs(engine, trace_id: str) -> list[tuple[str, str | None]]:
    trace = load_trace(engine, trace_id)
    return [(s.stage_id, s.output) for s in trace.stages if s.called_model or s.order == 1]


# The first test pays for the server's start; on a loaded 2-core machine that and two
# cases x 2 repeats can pass the default 15 minutes.
@pytest.mark.timeout(2400)
@pytest.mark.parametrize("concurrency", [1, 2])
def test_verdicts_agree_with_a_direct_comparison_of_the_outputs(
    concurrency: int, local_llm_url: str, data_dir: Path, demo_database: Path
) -> None:
    settings = Settings(data_dir=data_dir, base_url=local_llm_url, request_timeout_s=600)
    engine = open_store(settings)
    llm = make_llm(settings)
    record = run_suite(
        environment(settings, llm, store=engine, database=demo_database),
        SmokeOptions(repeats=2, concurrency=concurrency),
        cases=CASES[:2],
    )
    assert record.status == "done" and len(record.results) == 2
    assert record.manifest.concurrency == concurrency
    for result in record.results:
        first, second = (outputs(engine, t) for t in result.trace_ids)
        differing = [a[0] for a, b in zip(first, second, strict=True) if a[1] != b[1]]
        if differing:
            assert result.verdict == "flaky", result.reason
            assert result.divergence.stage_id == differing[0]
            if result.divergence.unit == "token":
                assert result.divergence.margin is not None
        else:
            assert result.verdict != "flaky", result.reason
            assert result.verdict in ("pass", "fail", "error")
