"""What a smoke run runs, how, and what it will cost, decided before its first case.

Two modes, named for what they answer:

- **Hunt flakes** (``hunt``): every stage fresh, each case N times back to back, the
  stage cache bypassed. Slow, and the only way to see nondeterminism.
- **Check an edit** (``quick``): each case once against a finished full run (the
  baseline), reusing the baseline's answers to every request that did not change
  (``workbench.smoke.baseline``), the narrative left out. Minutes instead of hours,
  for "what did my edit break?".

Concurrency keeps determinism: cases go to a server several at a time only when its
concurrency self-test passed for its current flags (``workbench.llm.selftest``); a
server without one gets one case at a time, and the run says why. Each case is pinned
to one server of a pool for all its repeats, so servers of a pool run side by side
even one case at a time each. Experiments that study batching may ask for unchecked
concurrency.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import Engine

from workbench.cases.suite import (
    SmokeCase,
    case_digest,
    load_cases,
    select_cases,
    stratified_sample,
)
from workbench.errors import ConfigError, LLMError, StoreError
from workbench.llm import (
    SelfTestResult,
    ServerManager,
    endpoints,
    identify,
    latest_selftest,
)
from workbench.pipeline import RunEnvironment
from workbench.prompts import StagePrompt
from workbench.prompts.versions import sync_from_disk
from workbench.settings import Settings
from workbench.smoke.baseline import check_baseline
from workbench.smoke.calibration import ServerSpeed, calibrate, measure_pace
from workbench.smoke.estimate import (
    LatencyHistory,
    RunEstimate,
    RunShape,
    estimate_run,
    load_history,
)
from workbench.smoke.results import RunManifest, RunRecord, load_run, recent_pace
from workbench.sql import database_label

Mode = Literal["hunt", "quick"]
MODE_LABELS: dict[str, str] = {"quick": "Check an edit", "hunt": "Hunt flakes"}
MAX_REPEATS = 100
"""Runs per case: flake rates settle long before; more is a typo that would run for days."""
MAX_CONCURRENCY = 256
"""Cases (or self-test requests) at once: beyond any server's batch."""
MAX_CASES = 100_000
"""What ``--limit`` may ask for: far beyond any suite."""


@dataclass(frozen=True)
class SmokeOptions:
    """Which cases and how.

    Args:
        concurrency: cases at once; None: as many as the servers' self-tests allow.
        limit: at most this many cases, a stratified sample across categories.
        mode: ``hunt`` (every stage fresh, ``repeats`` times) or ``quick`` (once,
            against ``baseline``).
        unchecked_concurrency: send ``concurrency`` cases at once even to a server that
            did not pass the self-test (for experiments that study batching).
    """

    repeats: int = 2
    concurrency: int | None = None
    restart_between_repeats: bool = False
    tags: tuple[str, ...] = ()
    category: str | None = None
    ids: tuple[str, ...] = ()
    limit: int | None = None
    label: str = ""
    mode: Mode = "hunt"
    baseline: str | None = None
    unchecked_concurrency: bool = False

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ConfigError(f"repeats must be at least 1, not {self.repeats}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"the case limit must be at least 1, not {self.limit}")
        if self.mode == "quick":
            if not self.baseline:
                raise ConfigError(
                    "a quick check needs a baseline: the id of a finished full run "
                    "(e.g. --baseline 20260331-101500-ab12cd)"
                )
            if self.repeats != 1 or self.restart_between_repeats:
                raise ConfigError(
                    "a quick check runs each case once: leave out repeats and restarts, "
                    "or hunt flakes with a full run"
                )


# -- what to run -----------------------------------------------------------------------


def select_suite(
    options: SmokeOptions,
    *,
    settings: Settings,
    cases: Iterable[SmokeCase] | None = None,
    among: Iterable[str] | None = None,
) -> tuple[SmokeCase, ...]:
    """The cases ``options`` pick: tags, category and ids, then a stratified ``limit``.

    Args:
        among: only these case ids (a quick check runs its baseline's cases).
    """
    suite = (
        tuple(cases) if cases is not None else load_cases(settings.smoke_cases_dir, settings.as_of)
    )
    chosen = select_cases(suite, tags=options.tags, category=options.category, ids=options.ids)
    if among is not None:
        allowed = set(among)
        chosen = tuple(c for c in chosen if c.id in allowed)
    if options.limit is not None:
        chosen = stratified_sample(chosen, options.limit)
    if not chosen:
        raise ConfigError(
            "no smoke case matches the selection "
            f"(tags {list(options.tags)}, category {options.category}, ids {list(options.ids)}"
            + (f", among the {len(set(among))} cases of the baseline" if among is not None else "")
            + ")"
        )
    return chosen


def server_flags(settings: Settings, server: ServerManager | None) -> dict[str, Any] | None:
    """The launch flags of the managed server (None when the workbench does not run it)."""
    if server is not None:
        return server.flags()
    if settings.managed_server:
        return ServerManager(settings).flags()
    return None


def describe_run(
    env: RunEnvironment,
    options: SmokeOptions,
    cases: tuple[SmokeCase, ...],
    server: ServerManager | None = None,
    concurrency: Concurrency | None = None,
) -> RunManifest:
    """What a run runs against, recorded before its first case."""
    settings = env.settings
    flags = server_flags(settings, server)
    adapters = tuple(
        m.split("=", 1)[0].strip() for m in settings.server_lora_modules.split(",") if m.strip()
    )
    list_models = getattr(env.llm, "list_models", None)
    if callable(list_models):
        # A server that does not answer fails the run's first case; the manifest only
        # misses the adapters it serves.
        with contextlib.suppress(LLMError):
            adapters += tuple(m.id for m in list_models() if m.is_adapter and m.id not in adapters)
    concurrency = concurrency or resolve_concurrency(env, options, flags)
    database = env.with_database().database if env.needs_database else env.database
    return RunManifest(
        prompt_set_hash=env.prompts.hash,
        stage_versions={p.id: _stage_version(p, env.store) for p in env.prompts.stages},
        models={role: settings.model_for(role) for role in ("main", "think", "sql_think")},
        lora_adapters=adapters,
        endpoint=env.llm.endpoint,
        server_flags=flags,
        as_of_dates=tuple(sorted({c.as_of.isoformat() for c in cases})),
        repeats=options.repeats,
        concurrency=concurrency.total,
        restart_between_repeats=options.restart_between_repeats,
        selection={
            "tags": list(options.tags),
            "category": options.category,
            "ids": list(options.ids),
            "limit": options.limit,
        },
        seed=settings.seed,
        mode=options.mode,
        baseline=options.baseline if options.mode == "quick" else None,
        case_digests={c.id: case_digest(c) for c in cases},
        database=database.label if database is not None else database_label(settings),
        requested_concurrency=options.concurrency,
        concurrency_note=concurrency.note,
        unchecked_concurrency=options.unchecked_concurrency,
        variant=dict(env.prompts.variant) if env.prompts.variant else None,
    )


def _stage_version(prompt: StagePrompt, store: Engine | None) -> str:
    """The prompt's hash, and its version number; the file is recorded in the version
    history first when it changed on disk, so that edit blame can find the text again."""
    label = prompt.content_hash[:12]
    if store is None:
        return label
    try:
        version = sync_from_disk(store, Path(prompt.path))
    except (OSError, StoreError):  # an unreadable file fails the run elsewhere, with its name
        version = None
    if version is not None and version.sha256 == prompt.content_hash:
        label += f" v{version.number}"
    return label


# -- concurrency -------------------------------------------------------------------------


@dataclass(frozen=True)
class Concurrency:
    """How many cases at once, and at most how many on each server.

    Args:
        speedup: the self-tests' measured speed-up at these limits (for the estimate).
        note: why fewer cases go at once than were asked for ("" when none).
    """

    total: int
    per_endpoint: dict[str, int]
    speedup: float = 1.0
    note: str = ""


def resolve_concurrency(
    env: RunEnvironment, options: SmokeOptions, flags: dict[str, Any] | None
) -> Concurrency:
    """The concurrency a run may use on ``env``'s servers (see the module docstring)."""
    urls = endpoints(env.llm)
    asked = options.concurrency
    if options.unchecked_concurrency or (asked == 1 and len(urls) == 1):
        n = asked or 1
        return Concurrency(n, dict.fromkeys(urls, n))
    tests = {url: _selftest(env.store, url, flags) for url in urls}
    limits = {url: t.concurrency if t is not None and t.passed else 1 for url, t in tests.items()}
    total = min(asked, sum(limits.values())) if asked else sum(limits.values())
    speedups = [t.speedup if t is not None and t.passed else 1.0 for t in tests.values()]
    speedup = max(1.0, sum(speedups) * total / sum(limits.values()))
    unproven = [url for url, t in tests.items() if t is None or not t.passed]
    note = ""
    if unproven and (asked is None or asked > total):
        reasons = "; ".join(_why_not(url, tests[url]) for url in unproven)
        untested = any(tests[url] is None for url in unproven)
        advice = (
            "run the concurrency self-test (`workbench selftest` or the Model server page) "
            "to allow more"
            if untested
            else "its answers depend on the batch (float32 on the CPU, VLLM_BATCH_INVARIANT=1 "
            "on a GPU make them independent)"
        )
        asked_for = f"asked for {asked} cases at once, " if asked else ""
        note = f"{asked_for}sending {total} at a time: {reasons}; {advice}"
    return Concurrency(total, limits, speedup, note)


def _selftest(
    store: Engine | None, url: str, flags: dict[str, Any] | None
) -> SelfTestResult | None:
    if store is None:
        return None
    try:
        return latest_selftest(store, identify(url, flags))
    except StoreError:
        return None  # a damaged record proves nothing: as if never tested


def _why_not(url: str, test: SelfTestResult | None) -> str:
    if test is None:
        return f"{url} has no self-test for its current settings"
    return (
        f"{url} failed its self-test ({len(test.differing)} of {test.prompts} prompts "
        f"answered differently {test.concurrency} at a time)"
    )


# -- the plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """A run decided: its cases, its record, the baseline of a quick check, the cost."""

    options: SmokeOptions
    cases: tuple[SmokeCase, ...]
    manifest: RunManifest
    baseline: RunRecord | None
    estimate: RunEstimate


def plan_run(
    env: RunEnvironment,
    options: SmokeOptions,
    *,
    cases: Iterable[SmokeCase] | None = None,
    server: ServerManager | None = None,
    speed: ServerSpeed | None = None,
) -> RunPlan:
    """Pick the cases, check a quick check's baseline, describe the run and price it.

    Args:
        speed: the server's speed measured just before (``measure_speed``); without it
            the estimate rests on the store's timings alone.

    Raises:
        ConfigError: no case matches, or the baseline cannot stand in (says why).
    """
    suite = tuple(cases) if cases is not None else None
    baseline = None
    among = None
    if options.mode == "quick":
        store = _store(env)
        try:
            among = load_run(store, options.baseline or "").case_ids
        except StoreError:
            among = None  # check_baseline says what is wrong with it
    chosen = select_suite(options, settings=env.settings, cases=suite, among=among)
    concurrency = resolve_concurrency(env, options, server_flags(env.settings, server))
    manifest = describe_run(env, options, chosen, server, concurrency)
    if speed is not None:
        measured = speed.measured_at.isoformat() if speed.measured_at else None
        manifest = replace(manifest, pace_s=speed.pace_s, pace_at=measured)
    if options.mode == "quick":
        baseline = check_baseline(_store(env), options.baseline or "", manifest, chosen)
    estimate = estimate_for(env, chosen, manifest, baseline, concurrency, speed)
    return RunPlan(options, chosen, manifest, baseline, estimate)


def measure_speed(env: RunEnvironment) -> ServerSpeed:
    """The server's pace now (one short call, or the pace a run measured on this endpoint
    and model in the last ``PACE_REUSE_S``), and a full calibration when the store has no
    timings of this endpoint and model; nothing when the server does not answer.

    Not while a run of this server is going: on a server whose answers depend on the
    batch, a probe sharing a batch with the run's requests would change them.
    """
    model = env.settings.model_for("main")
    recent = _recent_pace(env, model)
    try:
        if recent is not None:
            pace, measured = recent
        else:
            pace, measured = measure_pace(env.llm, model), datetime.now(UTC)
        history = _history(env, ())
        calibration = calibrate(env.llm, model) if history is None or not history.calls else None
    except LLMError:
        return ServerSpeed()
    return ServerSpeed(pace, calibration, measured)


PACE_REUSE_S = 1800.0
"""A pace a run measured this recently on the same endpoint and model stands in for a new
probe: the quick checks of an edit loop come minutes apart, and on the CPU default the
probe's one call (24 tokens at about 0.19 s each on Qwen2.5-Coder-0.5B) would be most of a
quick check's fixed cost. A pace older than this is measured again."""


def _recent_pace(env: RunEnvironment, model: str) -> tuple[float, datetime] | None:
    if env.store is None:
        return None
    try:
        return recent_pace(env.store, env.llm.endpoint, model, PACE_REUSE_S)
    except StoreError:
        return None


def _history(env: RunEnvironment, cases: Iterable[SmokeCase]) -> LatencyHistory | None:
    if env.store is None:
        return None
    models = {env.settings.model_for(role) for role in ("main", "think", "sql_think")}
    return load_history(env.store, endpoints(env.llm), models, cases)


def estimate_for(
    env: RunEnvironment,
    cases: tuple[SmokeCase, ...],
    manifest: RunManifest,
    baseline: RunRecord | None,
    concurrency: Concurrency,
    speed: ServerSpeed | None = None,
) -> RunEstimate:
    """The estimate of running ``cases`` as recorded in ``manifest``."""
    history = _history(env, cases)
    shape = RunShape(manifest.repeats, baseline, concurrency.total, concurrency.speedup)
    return estimate_run(env, cases, shape, history or LatencyHistory(), speed)


def _store(env: RunEnvironment) -> Engine:
    if env.store is None:
        raise ConfigError("a smoke run needs the store: its results are saved as they finish")
    return env.store


def affordable_limit(estimate: RunEstimate, cases: tuple[SmokeCase, ...], budget_s: float) -> int:
    """The largest ``--limit`` whose stratified sample of ``cases`` fits in ``budget_s``
    (at least 1), priced by ``estimate``'s per-case seconds."""
    best = 1
    for n in range(1, len(cases) + 1):
        picked = stratified_sample(cases, n)
        if estimate.subset(c.id for c in picked).total_s > budget_s:
            break
        best = n
    return best
