"""A quick check's fixed cost: the time it spends outside the run itself.

Run: ``python -m bench quickcheck`` (or ``python -m bench.bench_quickcheck``). Blame and
re-asks run many small checks, so what a quick check costs besides its cases decides how
cheap a probe is. Against a scripted server that answers every call at once, in a
temporary data directory, on a copy of the demo's prompts with one line of the SQL stage
edited:

1. a full run of ``BENCH_CASES`` cases (default 4, a stratified sample), the baseline;
2. ``BENCH_REPEATS`` (default 3) quick checks from the command line, each a fresh process
   as a user runs one. Of the median wall time: the run itself (from its record's start
   to its end: the cases, with the SQL workers they start), and the fixed cost outside it,
   split into starting Python and importing the command line, and the rest (reading the
   suite, loading the prompts, reaching the database, the pace probe, planning, the
   summary, exiting). The target is a fixed cost of at most ``TARGET_S``;
3. the same quick check twice in one process, as blame's probes run: the second one's
   time, with the imports done, the suite read and the SQL workers warm.

No model server is needed. ``BENCH_OUT``: a file to keep the numbers as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.scripted_server import Reply, ScriptedServer
from workbench.settings import PROJECT_ROOT

TARGET_S = 5.0
EDIT = ("- Use only the tables", "- Use just the tables")
MODEL = "scripted-model"


def answer(body: dict[str, Any]) -> Reply:
    """Every stage at once: the SQL stage a query, the others the text they were given."""
    messages = body.get("messages") or [{"content": ""}]
    system, last = str(messages[0].get("content", "")), str(messages[-1].get("content", ""))
    if "sql" in system[:600].lower():
        return Reply("SELECT 1 AS answer")
    return Reply(last[-300:] or "ok")


def command(*args: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Seconds a fresh ``python -m workbench`` took, and its JSON output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    try:
        return elapsed, json.loads(done.stdout)
    except ValueError:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{done.stderr[-2000:]}") from None


def import_seconds(env: dict[str, str], repeats: int) -> float:
    """Median seconds of starting Python and importing the command line, nothing else."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import workbench.cli"], env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def in_process_seconds(baseline_id: str) -> tuple[float, float]:
    """The same quick check twice in this process: (first, second) seconds."""
    from workbench.llm import make_llm
    from workbench.pipeline import RunEnvironment
    from workbench.prompts import load_prompt_set
    from workbench.settings import load_settings
    from workbench.smoke import SmokeOptions, measure_speed, plan_run, run_plan
    from workbench.sql import demo_database
    from workbench.store import open_store

    settings = load_settings()
    llm = make_llm(settings)
    times = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            env = RunEnvironment(
                settings,
                llm,
                load_prompt_set(settings.prompts_dir),
                demo_database(settings),
                open_store(settings),
            )
            options = SmokeOptions(repeats=1, mode="quick", baseline=baseline_id)
            plan = plan_run(env, options, speed=measure_speed(env))
            record = run_plan(env, plan)
            if record.status != "done":
                raise SystemExit(f"the in-process quick check ended {record.status}")
            times.append(time.perf_counter() - started)
    finally:
        llm.close()
    return times[0], times[1]


def main() -> None:
    cases = int(os.environ.get("BENCH_CASES", "4"))
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer((MODEL,)) as server:
        server.respond_with(answer)
        prompts = Path(tmp) / "prompts"
        shutil.copytree(PROJECT_ROOT / "prompts", prompts)
        env = dict(os.environ)
        env.update(
            WORKBENCH_DATA_DIR=str(Path(tmp) / "data"),
            WORKBENCH_BASE_URL=server.base_url,
            WORKBENCH_MODEL_MAIN=MODEL,
            WORKBENCH_MODEL_THINK=MODEL,
        )
        _, full = command("smoke", "run", "--limit", str(cases), "--repeat", "1", env=env)
        sql = prompts / "06_sql.md"
        sql.write_text(sql.read_text().replace(*EDIT))
        env["WORKBENCH_PROMPTS_DIR"] = str(prompts)
        quick = ("smoke", "run", "--quick", "--baseline", full["run_id"])
        runs = [command(*quick, env=env) for _ in range(repeats)]
        imports_s = import_seconds(env, repeats)
        wall_s = statistics.median(t for t, _ in runs)
        run_s = statistics.median(float(out["wall_s"]) for _, out in runs)
        os.environ.update(env)
        first_s, second_s = in_process_seconds(full["run_id"])
    fixed_s = wall_s - run_s
    numbers = {
        "cases": cases,
        "fresh_process_s": round(wall_s, 2),
        "run_s": round(run_s, 2),
        "fixed_cost_s": round(fixed_s, 2),
        "python_and_imports_s": round(imports_s, 2),
        "rest_s": round(fixed_s - imports_s, 2),
        "in_process_first_s": round(first_s, 2),
        "in_process_second_s": round(second_s, 2),
        "target_s": TARGET_S,
    }
    print(f"a quick check of {cases} cases against a server that answers at once "
          f"(median of {repeats} fresh processes): {wall_s:.2f} s")  # fmt: skip
    print(f"  the run itself         {run_s:6.2f} s")
    print(f"  fixed cost outside it  {fixed_s:6.2f} s  (target ≤ {TARGET_S:g} s)")
    print(f"    python and imports   {imports_s:6.2f} s")
    print(f"    the rest             {fixed_s - imports_s:6.2f} s")
    print(f"in one process: first {first_s:.2f} s, second {second_s:.2f} s "
          f"({wall_s / max(second_s, 1e-3):.1f}× cheaper than a fresh process)")  # fmt: skip
    if out := os.environ.get("BENCH_OUT"):
        Path(out).write_text(json.dumps(numbers, indent=2))
    if fixed_s > TARGET_S:
        print(f"over the target: {fixed_s:.2f} s > {TARGET_S:g} s")


if __name__ == "__main__":
    main()
