"""Running the smoke suite: every case N times back to back, judged, stored as it finishes.

What a run runs, in which mode and how many cases at once is decided by
``workbench.smoke.plan``; this module carries it out. Repeats bypass the stage cache (a
cached answer would hide exactly the nondeterminism we look for); a quick check reuses
only its baseline's answers. Concurrency runs several cases at once on a thread pool,
at most as many on each server as its self-test allows, each case pinned to one server.
With a managed server, the run can restart it between repeats: then each repeat is a
pass over every case, because restarting between the repeats of every single case would
cost a server start per case.

A case's result is stored the moment it is known. A run whose server disappears, or
restarts under it, stops as *interrupted* without recording the case in flight, and
``resume_run`` later runs only the cases without a result. A run whose database
disappears stops the same way, with the case it went away under recorded as an error
that a resumed run runs again. A run that dies of anything else is marked *interrupted*
too, with the reason, before the error goes on: never left *running*.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from workbench.cases.suite import SmokeCase, load_cases
from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    LLMUnavailable,
    Terminated,
    WorkbenchError,
)
from workbench.llm import ServerManager, endpoints, pin
from workbench.pipeline import RunEnvironment
from workbench.smoke.baseline import check_baseline
from workbench.smoke.calibration import ServerSpeed
from workbench.smoke.plan import (
    Concurrency,
    RunPlan,
    SmokeOptions,
    describe_run,
    estimate_for,
    plan_run,
    resolve_concurrency,
    select_suite,
    server_flags,
)
from workbench.smoke.progress import (
    ProgressCallback,
    ProgressState,
    SmokeProgress,
    Tracker,
)
from workbench.smoke.repeat import SuiteContext, case_result, run_case, run_repeat
from workbench.smoke.results import (
    CaseResult,
    RepeatOutcome,
    RunManifest,
    RunRecord,
    create_run,
    finished_case_ids,
    load_run,
    save_case_result,
    set_run_status,
)
from workbench.smoke.watch import ServerWatch
from workbench.sql import warm_up

DEFAULT_OPTIONS = SmokeOptions()

__all__ = [
    "ProgressCallback",
    "ProgressState",
    "SmokeOptions",
    "SmokeProgress",
    "describe_run",
    "execute_run",
    "record_run",
    "resume_run",
    "run_plan",
    "run_suite",
    "select_suite",
]


# -- a run ---------------------------------------------------------------------------------


def record_run(
    env: RunEnvironment,
    options: SmokeOptions = DEFAULT_OPTIONS,
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
) -> str:
    """Pick the cases, check a quick check's baseline, record the run and what it runs
    against; returns the run id."""
    plan = plan_run(env, options, cases=cases, server=server)
    ids = tuple(c.id for c in plan.cases)
    return create_run(_store(env), plan.manifest, ids, label=options.label)


def run_suite(
    env: RunEnvironment,
    options: SmokeOptions = DEFAULT_OPTIONS,
    *,
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RunRecord:
    """Run the selected cases and return the stored run (see ``execute_run``)."""
    cases = tuple(cases) if cases is not None else None
    plan = plan_run(env, options, cases=cases, server=server)
    return run_plan(env, plan, server=server, on_progress=on_progress, cancel=cancel)


def run_plan(
    env: RunEnvironment,
    plan: RunPlan,
    *,
    server: ServerManager | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RunRecord:
    """Record a planned run (``plan_run``, e.g. after showing its estimate) and run it."""
    ids = tuple(c.id for c in plan.cases)
    run_id = create_run(_store(env), plan.manifest, ids, label=plan.options.label)
    return execute_run(
        env, run_id, cases=plan.cases, server=server, on_progress=on_progress, cancel=cancel
    )


def _never_left_running(run: Callable[..., RunRecord]) -> Callable[..., RunRecord]:
    """Whatever ends a run early (a crash, Ctrl-C, a setting found wrong), a run left
    *running* is marked *interrupted* with the reason before the error goes on."""

    @functools.wraps(run)
    def guarded(env: RunEnvironment, run_id: str, **kwargs: Any) -> RunRecord:
        try:
            return run(env, run_id, **kwargs)
        except BaseException as exc:
            _interrupted_by(env, run_id, exc)
            raise

    return guarded


def _interrupted_by(env: RunEnvironment, run_id: str, exc: BaseException) -> None:
    """Mark a run that is still *running* as interrupted by ``exc``."""
    if isinstance(exc, Terminated):
        why = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        why = "stopped by an interrupt (Ctrl-C)"
    else:
        why = f"stopped by {type(exc).__name__}: {exc}"
    with contextlib.suppress(Exception):  # the store itself may be what failed
        store = _store(env)
        if load_run(store, run_id).status == "running":
            set_run_status(store, run_id, "interrupted", note=f"{why}; resume the run to finish it")


@_never_left_running
def execute_run(
    env: RunEnvironment,
    run_id: str,
    *,
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RunRecord:
    """Run a recorded run's cases that have no result yet, storing each as it finishes.

    Args:
        env: what the run runs against; it must have a store (the results go there).
        cases: where to find the cases by id; default: the workspace's suite.
        server: the managed server, needed to restart it between repeats.
        on_progress: called after each case with live counts and the time left.
        cancel: when set, cases not started are left undone and the run is ``cancelled``.

    Raises:
        ConfigError: the prompt files or the server's settings changed since the run
            began, a quick check's baseline can no longer stand in, or a restart between
            repeats was asked for without a managed server.
    """
    store = _store(env)
    record = load_run(store, run_id)
    manifest = record.manifest
    concurrency = _concurrency(env, manifest)
    if env.database is not None:  # its workers start while the cases are prepared
        warm_up(env.database, min(concurrency.total, len(record.case_ids) - len(record.results)))
    pending, baseline = _prepare(env, record, cases, server)
    speed = ServerSpeed(pace_s=manifest.pace_s)  # as measured when the run was planned
    estimate = estimate_for(env, tuple(pending), manifest, baseline, concurrency, speed)
    kept = [r for r in record.results if not r.resumable]  # the database went away under the rest
    tracker = Tracker(run_id, len(record.case_ids), kept, estimate, on_progress)
    ctx = SuiteContext(
        env.with_database(),
        cancel or threading.Event(),
        baseline=baseline,
        on_stage=lambda case, stage: tracker.stage_done(case.id, stage),
    )
    watch = ServerWatch(endpoints(env.llm))
    set_run_status(store, run_id, "running")
    if manifest.concurrency_note:
        tracker.report("running", note=manifest.concurrency_note)
    try:
        if manifest.restart_between_repeats:
            assert server is not None
            passes = Passes(server, tracker, watch)
            finished = _run_in_passes(pending, manifest, ctx, _lanes(env, concurrency), passes)
        else:
            finished = _run_back_to_back(pending, manifest, ctx, _lanes(env, concurrency))
        for result in finished:
            watch.check()
            save_case_result(store, run_id, result)
            tracker.add(result)
            if result.resumable:
                raise DatabaseUnavailable(result.reason)
    except (LLMUnavailable, DatabaseUnavailable) as exc:
        what = "the server" if isinstance(exc, LLMUnavailable) else "the database"
        note = (
            f"{exc}; resume the run (`python -m workbench smoke run --resume {run_id}`) "
            f"once {what} is back"
        )
        set_run_status(store, run_id, "interrupted", note=note)
        tracker.report("interrupted", note=note)
        return load_run(store, run_id)
    status = "cancelled" if ctx.cancel.is_set() else "done"
    set_run_status(store, run_id, status)
    tracker.report(status)
    return load_run(store, run_id)


def _store(env: RunEnvironment) -> Engine:
    if env.store is None:
        raise ConfigError("a smoke run needs the store: its results are saved as they finish")
    return env.store


def _prepare(
    env: RunEnvironment,
    record: RunRecord,
    cases: Iterable[SmokeCase] | None,
    server: ServerManager | None,
) -> tuple[list[SmokeCase], RunRecord | None]:
    """The cases still to run, and a quick check's baseline, once the run may go on."""
    _check_unchanged(env, record, server)
    suite = {
        c.id: c
        for c in (
            cases
            if cases is not None
            else load_cases(env.settings.smoke_cases_dir, env.settings.as_of)
        )
    }
    resumable = {r.case_id for r in record.results if r.resumable}
    done = finished_case_ids(_store(env), record.id) - resumable
    missing = [c for c in record.case_ids if c not in suite and c not in done]
    if missing:
        raise ConfigError(f"smoke run {record.id} lists cases no longer in the suite: {missing}")
    pending = [suite[c] for c in record.case_ids if c not in done]
    manifest = record.manifest
    baseline = None
    if manifest.mode == "quick":
        baseline = check_baseline(_store(env), manifest.baseline or "", manifest, pending)
    return pending, baseline


def _check_unchanged(env: RunEnvironment, record: RunRecord, server: ServerManager | None) -> None:
    """Refuse to go on with a run whose prompts or server settings changed since it began."""
    manifest = record.manifest
    if env.prompts.hash != manifest.prompt_set_hash:
        raise ConfigError(
            f"the prompt files changed since smoke run {record.id} began "
            f"({manifest.prompt_set_hash[:12]} then, {env.prompts.hash[:12]} now); a resumed run "
            "must use the same prompts: restore them, or start a new run"
        )
    flags = server_flags(env.settings, server)
    if flags is not None and manifest.server_flags is not None and flags != manifest.server_flags:
        changed = sorted(k for k in flags.keys() | manifest.server_flags.keys()
                         if flags.get(k) != manifest.server_flags.get(k))  # fmt: skip
        raise ConfigError(
            f"the model server's settings changed since smoke run {record.id} began "
            f"({', '.join(changed)}); its answers would not be comparable: put the settings "
            "back, or start a new run"
        )
    if manifest.restart_between_repeats and server is None:
        raise ConfigError(
            "restarting between repeats needs the managed model server; leave "
            "WORKBENCH_BASE_URL empty so the workbench runs it"
        )


def _concurrency(env: RunEnvironment, manifest: RunManifest) -> Concurrency:
    """What the recorded run may send at once on the servers as they are now."""
    options = SmokeOptions(
        concurrency=manifest.concurrency,
        unchecked_concurrency=manifest.unchecked_concurrency,
    )
    return resolve_concurrency(env, options, manifest.server_flags)


resume_run = execute_run
"""Finish an interrupted or cancelled run: only the cases without a result are run."""


@dataclass(frozen=True)
class Lanes:
    """Cases at once in all, and on each server (a case's lane is its pinned server)."""

    total: int
    limits: dict[str, int]
    lane_of: Callable[[SmokeCase], str]

    def limit(self, lane: str) -> int:
        return self.limits.get(lane, 1)


def _lanes(env: RunEnvironment, concurrency: Concurrency) -> Lanes:
    llm = env.llm
    return Lanes(concurrency.total, concurrency.per_endpoint, lambda c: pin(llm, c.id).endpoint)


def _run_back_to_back(
    pending: list[SmokeCase], manifest: RunManifest, ctx: SuiteContext, lanes: Lanes
) -> Iterator[CaseResult]:
    """Each case's repeats back to back; cases side by side in their servers' lanes."""
    for _case, result in _each_case(
        pending, lambda case: run_case(case, manifest.repeats, ctx), lanes, ctx.cancel
    ):
        if result is not None:
            yield result


@dataclass(frozen=True)
class Passes:
    """What a run in passes needs besides its cases: the server it restarts between
    passes, the tracker it reports restarts to, the watch it tells of them."""

    server: ServerManager
    tracker: Tracker
    watch: ServerWatch


def _run_in_passes(
    pending: list[SmokeCase],
    manifest: RunManifest,
    ctx: SuiteContext,
    lanes: Lanes,
    passes: Passes,
) -> Iterator[CaseResult]:
    """One pass over every case per repeat, restarting the server before each later pass."""
    outcomes: dict[str, list[RepeatOutcome]] = {c.id: [] for c in pending}
    elapsed: dict[str, float] = {c.id: 0.0 for c in pending}
    gold_failures: dict[str, CaseResult] = {}
    for repeat in range(manifest.repeats):
        if ctx.cancel.is_set():
            return
        if repeat:
            passes.tracker.report(
                "running", note=f"restarting the model server before repeat {repeat + 1}"
            )
            passes.server.restart()
            passes.watch.reset()

        def once(case: SmokeCase) -> RepeatOutcome | None:
            started = time.monotonic()
            try:
                ctx.gold(case)
            except WorkbenchError:
                gold_failures.setdefault(case.id, run_case(case, 1, ctx))  # type: ignore[arg-type]
                return None
            ran = run_repeat(case, ctx)
            elapsed[case.id] += time.monotonic() - started
            return ran[0] if ran is not None else None

        for case, outcome in _each_case(pending, once, lanes, ctx.cancel):
            passes.watch.check()
            if outcome is not None:
                outcomes[case.id].append(outcome)
            passes.tracker.report(
                "running", note=f"repeat {repeat + 1} of {manifest.repeats}: {case.id}"
            )
    yield from gold_failures.values()
    for case in pending:
        if case.id not in gold_failures and len(outcomes[case.id]) == manifest.repeats:
            yield case_result(case, outcomes[case.id], elapsed[case.id])


def _each_case(
    cases: list[SmokeCase],
    work: Callable[[SmokeCase], object],
    lanes: Lanes,
    cancel: threading.Event,
) -> Iterator[tuple[SmokeCase, object]]:
    """``work`` on each case, ``lanes.total`` at a time and at most ``lanes.limit`` on
    each server, in order within a server, yielding as each finishes.

    No new case starts once ``cancel`` is set. An exception stops the iteration after
    the cases in flight end (their results are yielded first). Closing the iterator early
    waits for the cases in flight and drops their results.
    """
    if lanes.total == 1:
        for case in cases:
            if cancel.is_set():
                return
            yield case, work(case)
        return
    queue = list(cases)
    running: dict[Future[object], SmokeCase] = {}
    busy: Counter[str] = Counter()
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=lanes.total, thread_name_prefix="smoke") as pool:
        while queue or running:
            for case in list(queue):
                if len(running) >= lanes.total or failure is not None or cancel.is_set():
                    break
                lane = lanes.lane_of(case)
                if busy[lane] < lanes.limit(lane):
                    queue.remove(case)
                    busy[lane] += 1
                    running[pool.submit(work, case)] = case
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                case = running.pop(future)
                busy[lanes.lane_of(case)] -= 1
                try:
                    result = future.result()
                except BaseException as exc:  # re-raised once the cases in flight end
                    failure = failure or exc
                    queue.clear()
                    continue
                # Outside the try: a consumer that stops early (a restart detected, Ctrl-C)
                # closes this generator with GeneratorExit at the yield, which must end it,
                # not be taken for a case's failure and followed by another yield.
                yield case, result
    if failure is not None:
        raise failure
