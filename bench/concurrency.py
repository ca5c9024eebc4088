"""Concurrency that keeps determinism, on the CPU default: bf16 against float32.

``python -m bench.concurrency`` starts the local server once per dtype (its own data
directory and port), runs the concurrency self-test, then a sample of ``BENCH_CASES``
cases (default 8) once each one case at a time, and, where the self-test passed, four
at a time. It prints the self-test's verdict and speed-up, each run's wall time and
estimate, the speed-up of four at a time over one at a time, and how many verdicts and
stage outputs differ between the two (there should be none). Not part of
``python -m bench``: it needs the local profile and takes about twenty minutes.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

from workbench.cases import load_cases, stratified_sample
from workbench.llm import ServerManager, make_llm
from workbench.pipeline import RunEnvironment, load_trace
from workbench.prompts import load_prompt_set
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke import (
    RunRecord,
    SmokeOptions,
    check_servers,
    plan_run,
    run_plan,
)
from workbench.store import open_store

DTYPES = (("bf16", "bfloat16"), ("float32", "float32"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed_run(env: RunEnvironment, options: SmokeOptions, cases) -> tuple[RunRecord, float, float]:
    started = time.perf_counter()
    plan = plan_run(env, options, cases=cases)
    record = run_plan(env, plan)
    return record, time.perf_counter() - started, plan.estimate.total_s


def outputs(env: RunEnvironment, record: RunRecord) -> dict[str, list[str | None]]:
    assert env.store is not None
    return {
        r.case_id: [s.output for s in load_trace(env.store, r.trace_ids[0]).stages]
        for r in record.results
        if r.trace_ids
    }


def run_dtype(label: str, dtype: str, work: Path, cases) -> None:
    model_dir = Path(os.environ.get("WORKBENCH_MODEL_DIR") or PROJECT_ROOT / ".workbench/models")
    settings = Settings(
        data_dir=work / label,
        model_dir=model_dir,
        base_url="",
        server_port=free_port(),
        server_dtype=dtype,  # type: ignore[arg-type]
        request_timeout_s=900,
    )
    manager = ServerManager(settings)
    manager.start()
    llm = make_llm(settings)
    try:
        store = open_store(settings)
        env = RunEnvironment.load(settings, llm, store=store)
        (check,) = check_servers(settings, store, load_prompt_set(settings.prompts_dir))
        print(f"\n[{label}] self-test: {check.summary()}", flush=True)
        print(f"  one at a time {check.sequential_s:.1f} s, {check.concurrency} at a time "
              f"{check.concurrent_s:.1f} s", flush=True)  # fmt: skip
        one, one_s, one_est = timed_run(env, SmokeOptions(repeats=1, concurrency=1), cases)
        print(f"  {len(cases)} cases one at a time: {one_s:.1f} s (estimate {one_est:.1f} s)",
              flush=True)  # fmt: skip
        if not check.passed:
            print("  four at a time: not run, the self-test failed", flush=True)
            return
        four, four_s, four_est = timed_run(env, SmokeOptions(repeats=1, concurrency=4), cases)
        assert four.manifest.concurrency == 4, four.manifest.concurrency_note
        verdicts = sum(
            one.result(c.id).verdict != four.result(c.id).verdict  # type: ignore[union-attr]
            for c in cases
        )
        a, b = outputs(env, one), outputs(env, four)
        stages = sum(x != y for case in a for x, y in zip(a[case], b[case], strict=True))
        print(f"  {len(cases)} cases four at a time: {four_s:.1f} s (estimate {four_est:.1f} s)")
        print(f"  speed-up four at a time / one at a time: {one_s / four_s:.2f}x")
        print(
            f"  verdicts that differ: {verdicts}; stage outputs that differ: {stages}", flush=True
        )
    finally:
        llm.close()
        manager.stop()


def main() -> None:
    n = int(os.environ.get("BENCH_CASES", "8"))
    base = Settings()
    cases = stratified_sample(load_cases(base.smoke_cases_dir, base.as_of), n)
    print(f"{len(cases)} cases: {' '.join(c.id for c in cases)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="concurrency-") as work:
        for label, dtype in DTYPES:
            run_dtype(label, dtype, Path(work), cases)


if __name__ == "__main__":
    main()
