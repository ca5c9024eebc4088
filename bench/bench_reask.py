"""Re-asking uncertain flips: flips planted in flaky cases are re-asked and settled.

Run: ``python -m bench reask`` (or ``python -m bench.bench_reask``). A scripted model
answers every case's SQL stage; in the flaky cases it writes the right or a wrong query
at random (a fixed seed, so every run of the benchmark plants the same flips), in the
stable ones always the right query, except one stable case that the "edit" truly breaks.
A baseline and a new run of two repeats each, then the re-asks: every uncertain flip
must be re-asked (a flaky case whose repeats agreed by chance in both runs is a flip no
rule can mark, and is counted apart), and the real regression must be neither
re-asked nor dropped. Prints the counts (planted flips, re-asked, dropped, confirmed)
and the sign test before and after settling. No model server is needed.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from tests.environment import environment
from tests.smoke_script import SQL, SUITE, PipelineScript
from workbench.cases.suite import SmokeCase
from workbench.dates import resolve_relative_dates
from workbench.settings import Settings
from workbench.smoke.compare import compare_smoke_runs
from workbench.smoke.reask import REASKS, reask_flips
from workbench.smoke.runner import SmokeOptions, run_suite
from workbench.sql.demo import ensure_demo_database
from workbench.store import open_store

SEED = 20240611
FLAKY, STABLE = 6, 2
RIGHT_ODDS = 0.5
CALLS = 2 + 2 + REASKS  # baseline repeats, new run repeats, re-asks


def pick_cases() -> tuple[list[SmokeCase], list[SmokeCase], SmokeCase]:
    """Flaky cases, stable cases, and the stable case the edit breaks (the last one)."""
    usable = [
        c
        for c in SUITE
        if c.wrong_sql
        and resolve_relative_dates(c.question, c.as_of).text == c.question  # the script's key
    ]
    flaky, stable = usable[:FLAKY], usable[FLAKY : FLAKY + STABLE]
    return flaky, stable, stable[-1]


def plant(script: PipelineScript, flaky: list[SmokeCase], broken: SmokeCase) -> None:
    """Answers drawn up front per case and call, so that threads cannot reorder the draws."""
    rng = random.Random(SEED)
    for case in flaky:
        for call in range(1, CALLS + 1):
            if rng.random() >= RIGHT_ODDS:
                script.plant(SQL, case.question, case.wrong_sql or "", call=call)
    for call in range(3, CALLS + 1):  # right in the baseline, wrong ever after
        script.plant(SQL, broken.question, broken.wrong_sql or "", call=call)


def main() -> None:
    flaky, stable, broken = pick_cases()
    cases = flaky + stable
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_DATA_DIR"] = tmp
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings)
        script = PipelineScript(tuple(cases))
        plant(script, flaky, broken)
        env = environment(
            settings, script.llm(), store=store, database=ensure_demo_database(settings)
        )
        started = time.perf_counter()
        options = SmokeOptions(repeats=2, concurrency=1)
        baseline = run_suite(env, options, cases=cases)
        after = run_suite(env, options, cases=cases)
        before = compare_smoke_runs(baseline, after)
        settled_run, report = reask_flips(env, baseline, after, cases, budget=REASKS * len(cases))
        settled = compare_smoke_runs(baseline, settled_run)
        elapsed = time.perf_counter() - started
    flaky_ids = {c.id for c in flaky}
    planted = [f for f in before.flips if f.case_id in flaky_ids]
    uncertain = [f for f in planted if f.uncertain]
    dropped = [c for c in settled.reasked if c.settled == "dropped"]
    confirmed = [c for c in settled.reasked if c.settled == "confirmed"]
    print(f"cases: {len(flaky)} flaky (right {RIGHT_ODDS:.0%} of the time, seed {SEED}), "
          f"{len(stable)} stable, 1 of them broken by the edit")  # fmt: skip
    print(f"planted flips (in flaky cases): {len(planted)}; reported uncertain: {len(uncertain)}")
    print(f"re-asked: {len(report.reasked)} ({REASKS}× each, {report.spent} case runs); "
          f"dropped as noise: {len(dropped)}; confirmed: {len(confirmed)}")  # fmt: skip
    for case in settled.reasked:
        print(f"  {case.reask_words()}")
    real = [f for f in settled.flips if f.case_id == broken.id]
    print(f"the real regression ({broken.id}): re-asked {broken.id in report.reasked}, "
          f"counted {bool(real) and settled.settle(real[0]) is not None}")  # fmt: skip
    print(f"before settling: {before.paired_test.describe()}")
    print(f"after settling:  {settled.paired_test.describe()}")
    print(f"elapsed: {elapsed:.1f} s")
    unseen = [f.case_id for f in planted if not f.uncertain]
    if unseen:  # each run's two repeats agreed by chance: nothing marks the flip
        print(f"planted flips no rule marks uncertain (both runs' repeats agreed): {unseen}")
    missed = [f.case_id for f in uncertain if f.case_id not in report.reasked]
    if missed or broken.id in report.reasked:
        raise SystemExit(f"uncertain flips not re-asked: {missed}")


if __name__ == "__main__":
    main()
