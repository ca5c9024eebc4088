"""Running the smoke suite: every case N times back to back, judged, stored as it finishes.

Repeats bypass the stage cache (a cached answer would hide exactly the nondeterminism
we look for). Concurrency runs several cases at once on a thread pool; since batching
on the server is itself a source of nondeterminism, the run records it. With a managed
server, the run can restart it between repeats: then each repeat is a pass over every
case, because restarting between the repeats of every single case would cost a server
start per case.

A case's result is stored the moment it is known. A run whose server disappears stops
as *interrupted* without recording the case in flight, and ``resume_run`` later runs
only the cases without a result. A run whose database disappears stops the same way,
with the case it went away under recorded as an error that a resumed run runs again. A run
that dies of anything else is marked *interrupted* too, with the reason, before the error
goes on: never left *running*.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import Engine

from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    LLMError,
    LLMUnavailable,
    WorkbenchError,
)
from workbench.llm import ServerManager
from workbench.pipeline import RunEnvironment
from workbench.prompts import StagePrompt
from workbench.prompts.versions import latest
from workbench.settings import Settings
from workbench.smoke.cases import SmokeCase, load_cases, select_cases
from workbench.smoke.repeat import SuiteContext, case_result, run_case, run_repeat
from workbench.smoke.results import (
    CaseResult,
    RepeatOutcome,
    RunCounts,
    RunManifest,
    RunRecord,
    count_verdicts,
    create_run,
    finished_case_ids,
    load_run,
    save_case_result,
    set_run_status,
)
from workbench.sql import database_label

ProgressState = Literal["running", "cancelling", "done", "cancelled", "interrupted"]


@dataclass(frozen=True)
class SmokeOptions:
    """Which cases and how: repeats back to back, concurrency, restarts."""

    repeats: int = 2
    concurrency: int = 1
    restart_between_repeats: bool = False
    tags: tuple[str, ...] = ()
    category: str | None = None
    ids: tuple[str, ...] = ()
    limit: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ConfigError(f"repeats must be at least 1, not {self.repeats}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")


@dataclass(frozen=True)
class SmokeProgress:
    """Live counts for a progress bar: cases done of planned, and the time left."""

    run_id: str
    planned: int
    counts: RunCounts
    elapsed_s: float
    remaining_s: float | None
    state: ProgressState
    latest: CaseResult | None = None
    note: str = ""

    @property
    def fraction(self) -> float:
        return self.counts.done / self.planned if self.planned else 1.0


ProgressCallback = Callable[[SmokeProgress], None]


# -- what to run -----------------------------------------------------------------------


def select_suite(
    options: SmokeOptions, *, settings: Settings, cases: Iterable[SmokeCase] | None = None
) -> tuple[SmokeCase, ...]:
    """The cases ``options`` pick (tags, category, ids, then the first ``limit``)."""
    suite = tuple(cases) if cases is not None else load_cases(settings.smoke_cases_dir)
    chosen = select_cases(suite, tags=options.tags, category=options.category, ids=options.ids)
    if options.limit is not None:
        chosen = chosen[: options.limit]
    if not chosen:
        raise ConfigError(
            "no smoke case matches the selection "
            f"(tags {list(options.tags)}, category {options.category}, ids {list(options.ids)})"
        )
    return chosen


def describe_run(
    env: RunEnvironment,
    options: SmokeOptions,
    cases: tuple[SmokeCase, ...],
    server: ServerManager | None = None,
) -> RunManifest:
    """What a run runs against, recorded before its first case."""
    settings = env.settings
    flags = None
    if server is not None:
        flags = server.flags()
    elif settings.managed_server:
        flags = ServerManager(settings).flags()
    adapters = tuple(
        m.split("=", 1)[0].strip() for m in settings.server_lora_modules.split(",") if m.strip()
    )
    list_models = getattr(env.llm, "list_models", None)
    if callable(list_models):
        # A server that does not answer fails the run's first case; the manifest only
        # misses the adapters it serves.
        with contextlib.suppress(LLMError):
            adapters += tuple(m.id for m in list_models() if m.is_adapter and m.id not in adapters)
    return RunManifest(
        prompt_set_hash=env.prompts.hash,
        stage_versions={p.id: _stage_version(p, env.store) for p in env.prompts.stages},
        models={role: settings.model_for(role) for role in ("main", "think", "sql_think")},
        lora_adapters=adapters,
        endpoint=env.llm.endpoint,
        server_flags=flags,
        as_of_dates=tuple(sorted({c.as_of.isoformat() for c in cases})),
        repeats=options.repeats,
        concurrency=options.concurrency,
        restart_between_repeats=options.restart_between_repeats,
        selection={
            "tags": list(options.tags),
            "category": options.category,
            "ids": list(options.ids),
            "limit": options.limit,
        },
        seed=settings.seed,
        database=env.database.label if env.database is not None else database_label(settings),
    )


def _stage_version(prompt: StagePrompt, store: Engine | None) -> str:
    label = prompt.content_hash[:12]
    if store is None:
        return label
    version = latest(store, Path(prompt.path))
    if version is not None and version.sha256 == prompt.content_hash:
        label += f" v{version.number}"
    return label


# -- a run ---------------------------------------------------------------------------------


def record_run(
    env: RunEnvironment,
    options: SmokeOptions = SmokeOptions(),
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
) -> str:
    """Pick the cases, record the run and what it runs against; returns the run id."""
    chosen = select_suite(options, settings=env.settings, cases=cases)
    manifest = describe_run(env, options, chosen, server)
    return create_run(_store(env), manifest, tuple(c.id for c in chosen), label=options.label)


def run_suite(
    env: RunEnvironment,
    options: SmokeOptions = SmokeOptions(),
    *,
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RunRecord:
    """Run the selected cases and return the stored run (see ``execute_run``)."""
    cases = tuple(cases) if cases is not None else None
    run_id = record_run(env, options, cases, server)
    return execute_run(
        env, run_id, cases=cases, server=server, on_progress=on_progress, cancel=cancel
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
    why = (
        "stopped by an interrupt (Ctrl-C)"
        if isinstance(exc, KeyboardInterrupt)
        else f"stopped by {type(exc).__name__}: {exc}"
    )
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
        ConfigError: the prompt files changed since the run began, or a restart between
            repeats was asked for without a managed server.
    """
    store = _store(env)
    record = load_run(store, run_id)
    manifest = record.manifest
    if env.prompts.hash != manifest.prompt_set_hash:
        raise ConfigError(
            f"the prompt files changed since smoke run {run_id} began "
            f"({manifest.prompt_set_hash[:12]} then, {env.prompts.hash[:12]} now); a resumed run "
            "must use the same prompts: restore them, or start a new run"
        )
    if manifest.restart_between_repeats and server is None:
        raise ConfigError(
            "restarting between repeats needs the managed model server; leave "
            "WORKBENCH_BASE_URL empty so the workbench runs it"
        )
    suite = {
        c.id: c for c in (cases if cases is not None else load_cases(env.settings.smoke_cases_dir))
    }
    kept = [r for r in record.results if not r.resumable]  # the database went away under the rest
    done = finished_case_ids(store, run_id) - {r.case_id for r in record.results if r.resumable}
    missing = [c for c in record.case_ids if c not in suite and c not in done]
    if missing:
        raise ConfigError(f"smoke run {run_id} lists cases no longer in the suite: {missing}")
    pending = [suite[c] for c in record.case_ids if c not in done]
    ctx = SuiteContext(env.with_database(), cancel or threading.Event())
    tracker = _Tracker(run_id, len(record.case_ids), kept, len(pending), on_progress)
    set_run_status(store, run_id, "running")
    try:
        if manifest.restart_between_repeats:
            assert server is not None
            finished = _run_in_passes(pending, manifest, ctx, server, tracker)
        else:
            finished = _run_back_to_back(pending, manifest, ctx)
        for result in finished:
            save_case_result(store, run_id, result)
            tracker.add(result)
            if result.resumable:
                raise DatabaseUnavailable(result.reason)
    except (LLMUnavailable, DatabaseUnavailable) as exc:
        what = "the server" if isinstance(exc, LLMUnavailable) else "the database"
        note = f"{exc}; resume the run once {what} is back"
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


resume_run = execute_run
"""Finish an interrupted or cancelled run: only the cases without a result are run."""


def _run_back_to_back(
    pending: list[SmokeCase], manifest: RunManifest, ctx: SuiteContext
) -> Iterator[CaseResult]:
    """Each case's repeats back to back; cases side by side on ``concurrency`` threads."""
    for _case, result in _each_case(
        pending,
        lambda case: run_case(case, manifest.repeats, ctx),
        manifest.concurrency,
        ctx.cancel,
    ):
        if result is not None:
            yield result


def _run_in_passes(
    pending: list[SmokeCase],
    manifest: RunManifest,
    ctx: SuiteContext,
    server: ServerManager,
    tracker: _Tracker,
) -> Iterator[CaseResult]:
    """One pass over every case per repeat, restarting the server before each later pass."""
    outcomes: dict[str, list[RepeatOutcome]] = {c.id: [] for c in pending}
    elapsed: dict[str, float] = {c.id: 0.0 for c in pending}
    gold_failures: dict[str, CaseResult] = {}
    for repeat in range(manifest.repeats):
        if ctx.cancel.is_set():
            return
        if repeat:
            tracker.report(
                "running", note=f"restarting the model server before repeat {repeat + 1}"
            )
            server.restart()

        def once(case: SmokeCase) -> RepeatOutcome | None:
            started = time.monotonic()
            try:
                ctx.gold(case)
            except WorkbenchError:
                gold_failures.setdefault(case.id, run_case(case, 1, ctx))  # type: ignore[arg-type]
                return None
            outcome = run_repeat(case, ctx)
            elapsed[case.id] += time.monotonic() - started
            return outcome

        for case, outcome in _each_case(pending, once, manifest.concurrency, ctx.cancel):
            if outcome is not None:
                outcomes[case.id].append(outcome)
            tracker.report("running", note=f"repeat {repeat + 1} of {manifest.repeats}: {case.id}")
    yield from gold_failures.values()
    for case in pending:
        if case.id not in gold_failures and len(outcomes[case.id]) == manifest.repeats:
            yield case_result(case, outcomes[case.id], elapsed[case.id])


def _each_case(
    cases: list[SmokeCase],
    work: Callable[[SmokeCase], object],
    concurrency: int,
    cancel: threading.Event,
) -> Iterator[tuple[SmokeCase, object]]:
    """``work`` on each case, ``concurrency`` at a time, yielding as each finishes.

    No new case starts once ``cancel`` is set. An exception stops the iteration after
    the cases in flight end (their results are yielded first).
    """
    if concurrency == 1:
        for case in cases:
            if cancel.is_set():
                return
            yield case, work(case)
        return
    queue = list(cases)
    running: dict[Future[object], SmokeCase] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="smoke") as pool:
        while queue or running:
            while queue and len(running) < concurrency and failure is None and not cancel.is_set():
                case = queue.pop(0)
                running[pool.submit(work, case)] = case
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                case = running.pop(future)
                try:
                    yield case, future.result()
                except BaseException as exc:  # re-raised once the cases in flight end
                    failure = failure or exc
                    queue.clear()
    if failure is not None:
        raise failure


class _Tracker:
    """Counts and time left, reported to the progress callback."""

    def __init__(
        self,
        run_id: str,
        planned: int,
        results: list[CaseResult],
        to_run: int,
        callback: ProgressCallback | None,
    ):
        self.run_id = run_id
        self.planned = planned
        self.results = results
        self.to_run = to_run
        self.ran = 0
        self.callback = callback
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def add(self, result: CaseResult) -> None:
        with self.lock:
            self.results.append(result)
            self.ran += 1
        self.report("running", latest=result)

    def report(
        self, state: ProgressState, *, latest: CaseResult | None = None, note: str = ""
    ) -> None:
        if self.callback is None:
            return
        elapsed = time.monotonic() - self.started
        left = self.to_run - self.ran
        remaining = elapsed / self.ran * left if self.ran else None
        self.callback(
            SmokeProgress(
                run_id=self.run_id,
                planned=self.planned,
                counts=count_verdicts(self.results, planned=self.planned),
                elapsed_s=elapsed,
                remaining_s=0.0 if state in ("done", "cancelled") else remaining,
                state=state,
                latest=latest,
                note=note,
            )
        )
