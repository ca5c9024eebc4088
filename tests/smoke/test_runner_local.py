"""The smoke runner against the real local model server: the flakiness detector
sequential and concurrent, a quick check, and the concurrency self-test.

Whatever the small model answers, the detector's verdict must agree with a direct
comparison of the stored outputs of each case's repeats; a quick check must ask the
real server for the edited stage alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.environment import environment
from tests.smoke_script import CASES
from workbench.llm.pool import make_llm
from workbench.pipeline.trace import load_trace
from workbench.prompts import load_prompt_set
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke import check_servers
from workbench.smoke.plan import resolve_concurrency
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
        # unchecked: the detector must see the flips batching causes, not avoid them
        SmokeOptions(repeats=2, concurrency=concurrency, unchecked_concurrency=True),
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


class Counting:
    """The real client, counting the calls that reach it."""

    def __init__(self, llm):
        self.llm = llm
        self.asked: list[str] = []

    @property
    def endpoint(self) -> str:
        return self.llm.endpoint

    def complete(self, request):
        self.asked.append(request.messages[0].content[:40])
        return self.llm.complete(request)

    def close(self) -> None:
        self.llm.close()


@pytest.mark.timeout(2400)
def test_a_quick_check_on_the_real_server_asks_only_the_edited_stage(
    local_llm_url: str, data_dir: Path, demo_database: Path, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    settings = Settings(
        data_dir=data_dir, base_url=local_llm_url, request_timeout_s=600, prompts_dir=prompts
    )
    engine = open_store(settings)
    llm = Counting(make_llm(settings))
    baseline = run_suite(
        environment(settings, llm, store=engine, database=demo_database),
        SmokeOptions(repeats=1),
        cases=CASES[:1],
    )
    assert baseline.status == "done"
    sql = prompts / "06_sql.md"
    sql.write_text(sql.read_text(encoding="utf-8") + "\n- Keep the query short.\n", "utf-8")
    llm.asked.clear()
    checked = run_suite(
        environment(settings, llm, store=engine, database=demo_database),
        SmokeOptions(mode="quick", repeats=1, baseline=baseline.id),
        cases=CASES[:1],
    )
    assert checked.status == "done"
    before = load_trace(engine, baseline.results[0].trace_ids[0])
    after = load_trace(engine, checked.results[0].trace_ids[0])
    called_before_sql = [s for s in before.stages if s.called_model and s.order < 6]
    failed = before.failed_stage
    if failed is not None and failed.order < 6:  # never stored: asked again
        assert next(s for s in after.stages if s.order == failed.order).reused_from is None
    else:
        assert [
            s.reused_from is not None for s in after.stages if s.order < 6 and s.called_model
        ] == [True] * len(called_before_sql)
        assert [s.output for s in after.stages[:5]] == [s.output for s in before.stages[:5]]
        assert llm.asked == [next(s for s in after.stages if s.order == 6).messages[0].content[:40]]
    assert after.stages[-1].skipped  # the narrative is left out


@pytest.mark.timeout(1200)
def test_the_self_test_on_the_real_server_decides_the_concurrency(
    local_llm_url: str, data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir, base_url=local_llm_url, request_timeout_s=600)
    engine = open_store(settings)
    (result,) = check_servers(settings, engine, load_prompt_set(settings.prompts_dir))
    assert result.prompts == 8 and result.concurrency == 4
    assert set(result.differing) <= set(range(8))
    assert result.sequential_s > 0 and result.concurrent_s > 0
    llm = make_llm(settings)
    env = environment(settings, llm, store=engine)
    allowed = resolve_concurrency(env, SmokeOptions(), None)
    assert allowed.total == (4 if result.passed else 1)
    llm.close()
