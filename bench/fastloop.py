"""The fast loop on the local model: a quick check against a full run of the same cases.

``python -m bench.fastloop`` against the configured server (``WORKBENCH_BASE_URL``, e.g.
the local server from ``python -m workbench serve``), in a temporary data directory on
a copy of the prompts. In one process, on a stratified sample of ``BENCH_CASES`` cases
(default 20):

1. a full run (Hunt flakes, ``BENCH_REPEATS`` repeats, default 2), estimated from a
   calibration of the server (the store is empty);
2. a quick check after an edit to stage 6 (SQL generation), against run 1;
3. a quick check after an edit to stage 2 (noise removal) instead, against run 1.

The concurrency self-test runs first, so that the runs send as many cases at once as
it allows (as the command line does). It prints each run's wall time and estimate, the
ratios full / quick, how far each estimate was from the wall time, and the workbench's
overhead in the full run: each case's time less the time it spent waiting for the model
(every fresh call's latency, as the client measured it), summed over the cases, as a
share of their time. Each estimate is made just before its run, after measuring
the server's pace (and calibrating it when the store has no timings); those calls are
timed apart. Not part of ``python -m bench``: it takes about an hour on
the CPU default. Set ``BENCH_OUT`` to a file to keep the numbers as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.cases import load_cases, stratified_sample
from workbench.llm import make_llm
from workbench.pipeline import RunEnvironment, load_trace
from workbench.prompts import load_prompt_set
from workbench.settings import PROJECT_ROOT, load_settings
from workbench.smoke import (
    RunRecord,
    SmokeOptions,
    check_servers,
    compare_smoke_runs,
    measure_speed,
    plan_run,
    run_plan,
)
from workbench.sql import demo_database
from workbench.store import open_store

EDITS = {
    "06_sql.md": ("- Use only the tables", "- Use just the tables"),
    "02_noise.md": ("## Keep everything else", "## Keep all the rest"),
}


def model_seconds(engine: Any, record: RunRecord) -> float:
    """Seconds the run's cases spent waiting for the model: every fresh call's latency."""
    return sum(
        stage.latency_s
        for result in record.results
        for trace_id in result.trace_ids
        for stage in load_trace(engine, trace_id).stages
    )


def case_seconds(record: RunRecord) -> float:
    """Seconds the run's cases took, each from its start to its verdict (summed over cases
    that ran side by side, like ``model_seconds``: their difference is the workbench's own
    time, whatever the concurrency)."""
    return sum(result.elapsed_s for result in record.results)


def timed(env: RunEnvironment, options: SmokeOptions, cases) -> dict[str, Any]:
    probing = time.perf_counter()
    speed = measure_speed(env)  # model calls: timed apart from the run
    probe_s = time.perf_counter() - probing
    started = time.perf_counter()
    plan = plan_run(env, options, cases=cases, speed=speed)
    planned = time.perf_counter() - started
    record = run_plan(env, plan)
    wall = time.perf_counter() - started
    assert env.store is not None
    waiting = model_seconds(env.store, record)
    row = {
        "run": record.id,
        "mode": options.mode,
        "status": record.status,
        "cases": len(record.results),
        "verdicts": {r.case_id: r.verdict for r in record.results},
        "wall_s": wall,
        "plan_s": planned,
        "probe_s": probe_s,
        "calibrated": speed.calibration is not None,
        "estimate_s": plan.estimate.total_s,
        "estimate_basis": plan.estimate.basis,
        "model_s": waiting,
        "case_s": case_seconds(record),
        "reused_stages": sum(r.reused_stages for r in record.results),
        "stages": sum(len(rep.stages) for r in record.results for rep in r.repeats),
    }
    print(
        f"{options.mode:5} {row['cases']:3} cases, {record.manifest.concurrency} at a time  "
        f"wall {wall:8.1f} s  estimate "
        f"{row['estimate_s']:8.1f} s ({(row['estimate_s'] - wall) / wall:+.0%})  waiting for the "
        f"model {waiting:8.1f} s  reused {row['reused_stages']}/{row['stages']} stages",
        flush=True,
    )
    row["record"] = record
    return row


def edit(prompts: Path, name: str) -> None:
    old, new = EDITS[name]
    path = prompts / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} no longer holds {old!r}: update the benchmark's edit"
    path.write_text(text.replace(old, new), encoding="utf-8")


def main() -> None:
    base = load_settings()
    n_cases = int(os.environ.get("BENCH_CASES", "20"))
    repeats = int(os.environ.get("BENCH_REPEATS", "2"))
    with tempfile.TemporaryDirectory(prefix="fastloop-") as scratch:
        prompts = Path(scratch) / "prompts"
        shutil.copytree(PROJECT_ROOT / "prompts", prompts)
        settings = base.model_copy(
            update={"data_dir": Path(scratch) / "data", "prompts_dir": prompts}
        )
        engine = open_store(settings)
        demo_database(settings)
        suite = load_cases(settings.smoke_cases_dir, settings.as_of)
        cases = stratified_sample(suite, n_cases)
        print(f"{len(cases)} cases: {' '.join(c.id for c in cases)}", flush=True)
        llm = make_llm(settings)

        def env() -> RunEnvironment:  # the prompt files as they are now
            return RunEnvironment.load(settings, llm, store=engine)

        started = time.perf_counter()
        for check in check_servers(settings, engine, load_prompt_set(prompts)):
            print(f"self-test ({time.perf_counter() - started:.0f} s): {check.summary()}")
        full = timed(env(), SmokeOptions(repeats=repeats), cases)
        quick = SmokeOptions(mode="quick", repeats=1, baseline=full["run"])
        pristine = {name: (prompts / name).read_text(encoding="utf-8") for name in EDITS}
        results = {"full": full}
        for name in EDITS:
            edit(prompts, name)
            results[name] = timed(env(), quick, cases)
            (prompts / name).write_text(pristine[name], encoding="utf-8")
        llm.close()

        print()
        for name, label in (("06_sql.md", "stage 6"), ("02_noise.md", "stage 2")):
            row = results[name]
            ratio = full["wall_s"] / row["wall_s"]
            print(f"full run / quick check after editing {label}: {ratio:6.1f}x")
            comparison = compare_smoke_runs(full["record"], row["record"])
            print(f"  verdict changes against the full run: {comparison.counts}")
        own = full["case_s"] - full["model_s"]  # judging, SQL, the store, the pipeline
        print(
            f"workbench overhead in the full run: {own:.1f} s of {full['case_s']:.1f} case-seconds "
            f"({own / full['case_s']:.1%}), planning {full['plan_s']:.1f} s of "
            f"{full['wall_s']:.1f} s wall"
        )
        for key, row in results.items():
            error = (row["estimate_s"] - row["wall_s"]) / row["wall_s"]
            print(f"estimate vs wall, {key:11}: {error:+.0%} ({row['estimate_basis']})")
        out = os.environ.get("BENCH_OUT")
        if out:
            for row in results.values():
                row.pop("record")
            Path(out).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
