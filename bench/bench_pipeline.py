"""The paper's worked example through a real model server: per-stage latency and what
the stage cache saves.

Three runs in one process against the configured server (``WORKBENCH_BASE_URL``, e.g.
the local server from ``python -m workbench serve``), on a copy of the prompts in a
temporary data directory: a full run with an empty cache, a re-run (every stage from
the cache) and a re-run after an edit to the SQL prompt (stage 6 and the narrative are
recomputed). Set ``BENCH_TRACE_OUT`` to a file to keep the first run's trace as JSON.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from workbench.llm import LLM, make_llm
from workbench.pipeline import RunEnvironment, Trace, run_pipeline, trace_to_json
from workbench.settings import PROJECT_ROOT, Settings, load_settings
from workbench.sql import demo_database
from workbench.store import open_store

QUESTION = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back this quarter across all departments, sorted highest to lowest, and "
    "only show physicians involved with 3 or more COVID 19 related abnormal results, and "
    "ignore the normal results. Thank you."
)


def timed_run(settings: Settings, llm: LLM, store: Engine) -> tuple[Trace, float]:
    """One run with the prompt files as they are now (read again for every run)."""
    started = time.perf_counter()
    env = RunEnvironment.load(settings, llm, store=store, database=demo_database(settings))
    trace = run_pipeline(QUESTION, env, as_of=settings.as_of)
    return trace, time.perf_counter() - started


def describe(label: str, trace: Trace, seconds: float) -> None:
    print(f"{label}: {seconds:7.2f} s, status {trace.status}")
    for stage in trace.stages:
        if stage.skipped:
            state = "skipped"
        elif not stage.called_model:
            state = "python"
        elif stage.cached:
            state = "cached"
        else:
            mode = "think" if stage.parameters and stage.parameters.thinking else "no-think"
            state = f"{stage.latency_s:6.2f} s {mode}"
        error = f"  [{stage.error_kind}]" if stage.error and not stage.skipped else ""
        print(f"  {stage.order} {stage.stage_id:20} {state}{error}")


def main() -> None:
    base = load_settings()
    with tempfile.TemporaryDirectory() as scratch:
        prompts = Path(scratch) / "prompts"
        shutil.copytree(PROJECT_ROOT / "prompts", prompts)
        settings = base.model_copy(
            update={"data_dir": Path(scratch) / "data", "prompts_dir": prompts}
        )
        engine = open_store(settings)
        llm = make_llm(settings)
        database_started = time.perf_counter()
        demo_database(settings)
        print(f"demo database ready in {time.perf_counter() - database_started:.1f} s")
        full, full_s = timed_run(settings, llm, engine)
        describe("full run, empty cache", full, full_s)
        cached, cached_s = timed_run(settings, llm, engine)
        describe("re-run, same prompts", cached, cached_s)
        sql_prompt = prompts / "06_sql.md"
        sql_prompt.write_text(
            sql_prompt.read_text().replace("Use only the tables", "Use just the tables")
        )
        edited, edited_s = timed_run(settings, llm, engine)
        describe("re-run after editing stage 6", edited, edited_s)
        print(f"cached re-run / full run:        {cached_s / full_s:.3f}")
        print(f"edit-stage-6 re-run / full run:  {edited_s / full_s:.3f}")
        out = os.environ.get("BENCH_TRACE_OUT")
        if out:
            Path(out).write_text(trace_to_json(full), encoding="utf-8")
            print(f"trace written to {out}")


if __name__ == "__main__":
    main()
