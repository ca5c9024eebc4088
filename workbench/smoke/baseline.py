"""The baseline of a quick check: whether it can stand in, and which of its answers.

A quick check ("Check an edit") answers "what did my edit break?" by running each case
once against the answers its baseline run got, calling the model only from the first
stage whose request changed. That is only sound when the baseline ran against the
same thing except the prompts, so a baseline is refused, with what differs and what
to do, when it used another model, adapters, server settings, endpoint, seed, database
or case definitions, when it did not finish, is itself a quick check, or keeps no
answers here (deleted, recorded elsewhere, or from before quick checks existed).

Which answers: for each case, a stage's answer is reused only when every repeat of the
baseline sent the same request and got the same answer (so a stage the baseline was
flaky on is asked again), and only when the stage cache still holds exactly that
answer (``answer_digest``): an entry that a later run replaced with another answer, a
cleared or a damaged entry is asked again and said so on the case. Failed stages were
never cached and are always asked again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from workbench.cases.suite import SmokeCase
from workbench.errors import ConfigError, StoreError
from workbench.llm import Completion
from workbench.pipeline import (
    Replay,
    StageCache,
    StageTrace,
    Trace,
    answer_digest,
    load_trace,
)
from workbench.prompts import PromptSet
from workbench.smoke.results import CaseResult, RunManifest, RunRecord, load_run
from workbench.smoke.verdicts import expectation_stage

QUICK_SKIP_REASON = "a quick check leaves the narrative out: it does not change a verdict"


def check_baseline(
    store: Engine, baseline_id: str, manifest: RunManifest, cases: Iterable[SmokeCase]
) -> RunRecord:
    """The baseline run, or a ConfigError saying why it cannot stand in for this run."""
    try:
        baseline = load_run(store, baseline_id)
    except StoreError as exc:
        raise ConfigError(
            f"baseline {baseline_id!r} is not in this store ({exc}); it was deleted or "
            "recorded in another workspace: pick a finished full run from this one"
        ) from exc
    then = baseline.manifest
    if then.mode == "quick":
        raise ConfigError(
            f"baseline {baseline_id} is itself a quick check; check against a full run "
            f"(it was checked against {then.baseline})"
        )
    if baseline.status != "done":
        counts = baseline.counts
        raise ConfigError(
            f"baseline {baseline_id} is {baseline.status} ({counts.done} of {counts.cases} "
            f"cases finished): resume it first (`workbench smoke run --resume {baseline_id}`) "
            "or pick a finished run"
        )
    differences = _differences(then, manifest)
    if differences:
        raise ConfigError(
            f"baseline {baseline_id} ran against something else besides the prompts: "
            + "; ".join(differences)
            + ". A quick check reuses the baseline's answers, so everything but the prompts "
            "must match: run a full run (Hunt flakes) to get a baseline for this setup"
        )
    if not then.case_digests:
        raise ConfigError(
            f"baseline {baseline_id} was recorded before quick checks existed (it keeps no "
            "case digests): run a full run to get a baseline"
        )
    changed = [
        c.id
        for c in cases
        if c.id in then.case_digests and then.case_digests[c.id] != manifest.case_digests.get(c.id)
    ]
    if changed:
        raise ConfigError(
            f"the case definitions changed since baseline {baseline_id} "
            f"({', '.join(changed[:5])}{' …' if len(changed) > 5 else ''}): their verdicts "
            "cannot be compared; run a full run to get a new baseline"
        )
    _require_answers(store, baseline)
    return baseline


def _differences(then: RunManifest, now: RunManifest) -> list[str]:
    found = []
    if then.models != now.models:
        roles = [r for r in now.models if then.models.get(r) != now.models[r]]
        found += [f"model {r}: {then.models.get(r)} then, {now.models[r]} now" for r in roles]
    if set(then.lora_adapters) != set(now.lora_adapters):
        found.append(
            f"LoRA adapters {list(then.lora_adapters)} then, {list(now.lora_adapters)} now"
        )
    if then.endpoint != now.endpoint:
        found.append(f"endpoint {then.endpoint} then, {now.endpoint} now")
    if then.seed != now.seed:
        found.append(f"seed {then.seed} then, {now.seed} now")
    if then.database != now.database:
        found.append(f"database {then.database} then, {now.database} now")
    flags_then, flags_now = then.server_flags or {}, now.server_flags or {}
    for name in sorted(set(flags_then) | set(flags_now)):
        if flags_then.get(name) != flags_now.get(name):
            found.append(
                f"server setting {name}: {flags_then.get(name)} then, {flags_now.get(name)} now"
            )
    return found


def _require_answers(store: Engine, baseline: RunRecord) -> None:
    """At least one of the baseline's traces is here and keeps its requests' keys."""
    for result in baseline.results:
        for trace_id in result.trace_ids:
            try:
                trace = load_trace(store, trace_id)
            except StoreError:
                continue
            if any(s.request_key for s in trace.stages):
                return
    raise ConfigError(
        f"baseline {baseline.id} keeps no stage answers in this store (its traces were "
        "deleted, recorded elsewhere, or predate quick checks): run a full run to get a baseline"
    )


# -- one case's answers -------------------------------------------------------------------


@dataclass(frozen=True)
class CaseReplay:
    """What a quick check of one case may reuse, and what it may not and why.

    Args:
        unavailable: request key -> why the baseline's answer to it is not reused; told
            on the case only when the check sends that request again.
    """

    replay: Replay
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def notes_for(self, trace: Trace) -> tuple[str, ...]:
        """The case's notes, and the stages of ``trace`` that could not be reused."""
        stages = [
            f"stage {s.order} ({s.title}): {self.unavailable[s.request_key]}; asked again"
            for s in trace.stages
            if s.request_key in self.unavailable and s.reused_from is None
        ]
        return self.notes + tuple(stages)


def quick_skip(prompts: PromptSet, case: SmokeCase) -> frozenset[str]:
    """The narrative stages, unless the case's expectations read one of them."""
    narrative = {s.id for s in prompts.stages if s.kind == "narrative"}
    expected = {expectation_stage(e, narrative) for e in case.expect}
    return frozenset(narrative - expected)


def case_replay(
    store: Engine, baseline: RunRecord, case: SmokeCase, prompts: PromptSet
) -> CaseReplay:
    """The baseline's trustworthy answers for ``case``."""
    origin = f"smoke run {baseline.id}"
    empty = Replay(origin=origin, skip=quick_skip(prompts, case), skip_reason=QUICK_SKIP_REASON)
    result = baseline.result(case.id)
    if result is None or not result.trace_ids:
        why = "not in the baseline" if result is None else "no baseline answers (its gold failed)"
        return CaseReplay(empty, notes=(f"{why}: every stage asked afresh",))
    try:
        traces = [load_trace(store, t) for t in result.trace_ids]
    except StoreError as exc:
        return CaseReplay(empty, notes=(f"the baseline's trace is unreadable ({exc}): every "
                                        "stage asked afresh",))  # fmt: skip
    agreed = _agreed_stages(traces)
    answers: dict[str, Completion] = {}
    unavailable = _disagreed(traces, result)
    cache = StageCache(store)
    for stage in agreed:
        key = stage.request_key or ""
        try:
            completion = cache.entry(key)
        except StoreError:
            unavailable[key] = "its stored answer is damaged"
            continue
        if completion is None:
            unavailable[key] = "its stored answer is gone (the stage cache was cleared)"
        elif answer_digest(completion) != stage.answer_digest:
            unavailable[key] = "a later run replaced its stored answer with another"
        else:
            answers[key] = completion
    return CaseReplay(Replay(answers, origin, empty.skip, QUICK_SKIP_REASON), unavailable)


def _agreed_stages(traces: list[Trace]) -> list[StageTrace]:
    """The model calls of the first repeat that every repeat made alike and that succeeded."""
    first, others = traces[0], traces[1:]
    agreed = []
    for stage in first.stages:
        if not stage.request_key or stage.error is not None or stage.answer_digest is None:
            continue
        same = all(
            any(
                o.request_key == stage.request_key
                and o.answer_digest == stage.answer_digest
                and o.error is None
                for o in other.stages
            )
            for other in others
        )
        if same:
            agreed.append(stage)
    return agreed


def _disagreed(traces: list[Trace], result: CaseResult) -> dict[str, str]:
    """Requests the repeats answered differently: the baseline was flaky there."""
    answers: dict[str, set[str | None]] = {}
    for trace in traces:
        for stage in trace.stages:
            if stage.request_key:
                answers.setdefault(stage.request_key, set()).add(stage.answer_digest)
    return {
        key: f"the baseline's repeats answered it differently ({result.verdict})"
        for key, digests in answers.items()
        if len(digests) > 1
    }
