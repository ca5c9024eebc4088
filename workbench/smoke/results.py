"""Smoke-run results as frozen values, and their rows in the store.

A case result is written the moment the case finishes, one row per case, so that a
run that dies (a crash, the model server gone, the browser closed) keeps everything it
finished and can be resumed by running only the cases without a row. The run's own
row records what it ran against (``RunManifest``): without the prompt-set hash, the
models, the server flags and the concurrency, two runs cannot be told apart when their
results differ.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.errors import StoreError
from workbench.smoke.owner import Owner, this_process
from workbench.store import SmokeCaseRow, SmokeRunRow, as_utc, store_workspace

Verdict = Literal["pass", "fail", "flaky", "error"]
RepeatVerdict = Literal["pass", "fail", "error"]
RunStatus = Literal["running", "done", "cancelled", "interrupted"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "flaky", "error")


@dataclass(frozen=True)
class StageOutcome:
    """What one stage produced in one repeat, with the generated tokens when known."""

    stage_id: str
    order: int
    title: str
    output: str | None
    error: str | None = None
    error_kind: str | None = None
    skipped: bool = False
    tokens: tuple[str, ...] = ()
    margins: tuple[float, ...] = ()
    min_margin: float | None = None
    reused: bool = False
    """A quick check took this stage's answer from its baseline instead of the model."""
    called_model: bool = True
    """The stage asks the model (False: answered in code, e.g. a date resolved by the
    grammar); what a count of model calls counts."""


@dataclass(frozen=True)
class RepeatOutcome:
    """One run of one case through the pipeline, judged on its own."""

    trace_id: str
    verdict: RepeatVerdict
    reason: str
    stages: tuple[StageOutcome, ...]
    sql: str | None = None
    equivalent: bool | None = None
    expectation_failures: tuple[str, ...] = ()
    elapsed_s: float = 0.0

    def stage(self, stage_id: str) -> StageOutcome | None:
        return next((s for s in self.stages if s.stage_id == stage_id), None)


@dataclass(frozen=True)
class DivergencePoint:
    """Where two repeats of a case first part ways.

    Args:
        what: ``stage`` (a stage's output differs), ``verdict`` (same outputs, other
            verdicts: only possible when something outside the model changed).
        position: index of the first differing token (``unit`` = token) or word.
        margin: the logprob margin (top-1 minus top-2) of the first repeat at that token.
    """

    what: Literal["stage", "verdict"]
    stage_id: str | None
    stage_order: int | None
    stage_title: str | None
    repeat_a: int
    repeat_b: int
    position: int | None = None
    unit: Literal["token", "word"] | None = None
    margin: float | None = None
    margin_b: float | None = None
    a_context: str = ""
    b_context: str = ""


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    question: str
    category: str
    tags: tuple[str, ...]
    verdict: Verdict
    reason: str
    repeats: tuple[RepeatOutcome, ...]
    divergence: DivergencePoint | None = None
    elapsed_s: float = 0.0
    finished: datetime | None = None
    resumable: bool = False
    """An error because the database went away: a resumed run runs the case again."""
    notes: tuple[str, ...] = ()
    """What a quick check could not reuse from its baseline, and why."""
    reasks: tuple[RepeatOutcome, ...] = ()
    """Fresh runs of an uncertain flip against the baseline (``workbench.smoke.reask``),
    kept apart from ``repeats`` so that they settle the flip without changing the verdict."""

    @property
    def reused_stages(self) -> int:
        """Stages answered from the baseline, over every repeat."""
        return sum(s.reused for r in self.repeats for s in r.stages)

    @property
    def trace_ids(self) -> tuple[str, ...]:
        return tuple(r.trace_id for r in self.repeats)

    @property
    def min_margin(self) -> float | None:
        """The lowest logprob margin over every stage of every repeat."""
        margins = [s.min_margin for r in self.repeats for s in r.stages if s.min_margin is not None]
        return min(margins) if margins else None


@dataclass(frozen=True)
class RunManifest:
    """What a run ran against: enough to explain why two runs differ."""

    prompt_set_hash: str
    stage_versions: dict[str, str]
    """Per stage id: the prompt's content hash, plus ``vN`` when the store has versions."""
    models: dict[str, str]
    lora_adapters: tuple[str, ...]
    endpoint: str
    server_flags: dict[str, Any] | None
    as_of_dates: tuple[str, ...]
    repeats: int
    concurrency: int
    restart_between_repeats: bool
    selection: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    mode: Literal["hunt", "quick"] = "hunt"
    """``hunt``: every stage fresh, N repeats; ``quick``: one repeat against ``baseline``,
    reusing the baseline's answers to identical requests, the narrative left out."""
    baseline: str | None = None
    case_digests: dict[str, str] = field(default_factory=dict)
    """Per case id: a hash of what decides its verdict (question, date, gold, expectations)."""
    database: str = ""
    """The target database (its URL without a password); empty in runs from before."""
    requested_concurrency: int | None = None
    """What was asked for (None: as many as the self-test allows); ``concurrency`` is
    what the run used, ``concurrency_note`` why they differ."""
    concurrency_note: str = ""
    unchecked_concurrency: bool = False
    """Cases went at once without a passing self-test (an experiment on batching)."""
    pace_s: float | None = None
    """The server's pace just before the run (``workbench.smoke.calibration.measure_pace``)."""
    pace_at: str | None = None
    """When ``pace_s`` was measured (ISO 8601, UTC): before the run began when an earlier
    run's pace stood in for a probe; None in runs from before."""
    variant: dict[str, Any] | None = None
    """The pipeline variant the run ran (``workbench.prompts.variants``: its name,
    description and changes), or None for the workspace's own pipeline."""


@dataclass(frozen=True)
class RunCounts:
    cases: int
    passed: int
    failed: int
    flaky: int
    errors: int

    @property
    def done(self) -> int:
        return self.passed + self.failed + self.flaky + self.errors


@dataclass(frozen=True)
class RunRecord:
    id: str
    created: datetime
    finished: datetime | None
    status: RunStatus
    label: str
    manifest: RunManifest
    case_ids: tuple[str, ...]
    """Every case the run set out to do, in order."""
    results: tuple[CaseResult, ...]
    """The finished cases, in the planned order."""
    note: str = ""
    """Why the run stopped short, when it was interrupted."""

    @property
    def counts(self) -> RunCounts:
        return count_verdicts(self.results, planned=len(self.case_ids))

    @property
    def pending(self) -> tuple[str, ...]:
        done = {r.case_id for r in self.results}
        return tuple(c for c in self.case_ids if c not in done)

    def result(self, case_id: str) -> CaseResult | None:
        return next((r for r in self.results if r.case_id == case_id), None)

    @property
    def wall_s(self) -> float:
        return sum(r.elapsed_s for r in self.results)


@dataclass(frozen=True)
class RunSummary:
    id: str
    created: datetime
    status: str
    label: str
    planned: int
    counts: RunCounts
    mode: str = "hunt"


def count_verdicts(results: tuple[CaseResult, ...] | list[CaseResult], planned: int) -> RunCounts:
    counts = Counter(r.verdict for r in results)
    return RunCounts(planned, counts["pass"], counts["fail"], counts["flaky"], counts["error"])


# -- JSON ----------------------------------------------------------------------------------


def result_to_json(result: CaseResult) -> str:
    data = asdict(result)
    data["finished"] = result.finished.isoformat() if result.finished else None
    return json.dumps(data, ensure_ascii=False)


def result_from_json(text: str) -> CaseResult:
    try:
        data = json.loads(text)
        repeats = tuple(_repeat_from_dict(r) for r in data["repeats"])
        divergence = data.get("divergence")
        return CaseResult(
            case_id=data["case_id"],
            question=data["question"],
            category=data["category"],
            tags=tuple(data["tags"]),
            verdict=data["verdict"],
            reason=data["reason"],
            repeats=repeats,
            divergence=DivergencePoint(**divergence) if divergence else None,
            elapsed_s=data.get("elapsed_s", 0.0),
            finished=datetime.fromisoformat(data["finished"]) if data.get("finished") else None,
            resumable=data.get("resumable", False),
            notes=tuple(data.get("notes", ())),
            reasks=tuple(_repeat_from_dict(r) for r in data.get("reasks", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"not a stored smoke case result: {exc!r}") from exc


def _repeat_from_dict(data: dict[str, Any]) -> RepeatOutcome:
    stages = tuple(
        StageOutcome(
            **{**s, "tokens": tuple(s.get("tokens", ())), "margins": tuple(s.get("margins", ()))}
        )
        for s in data["stages"]
    )
    return RepeatOutcome(
        **{
            **data,
            "stages": stages,
            "expectation_failures": tuple(data.get("expectation_failures", ())),
        }
    )


def manifest_to_json(manifest: RunManifest) -> str:
    return json.dumps(asdict(manifest), ensure_ascii=False, default=str)


def manifest_from_json(text: str) -> RunManifest:
    data = json.loads(text)
    data["lora_adapters"] = tuple(data.get("lora_adapters", ()))
    data["as_of_dates"] = tuple(data.get("as_of_dates", ()))
    return RunManifest(**data)


# -- the store -----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def create_run(
    engine: Engine, manifest: RunManifest, case_ids: tuple[str, ...], *, label: str = ""
) -> str:
    """Record a new run before its first case starts; returns its id."""
    run_id = _now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    row = SmokeRunRow(
        id=run_id,
        workspace=store_workspace(engine),
        created=_now(),
        status="running",
        label=label,
        manifest=manifest_to_json(manifest),
        case_ids=json.dumps(list(case_ids)),
        owner=str(this_process()),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
    return run_id


def save_case_result(engine: Engine, run_id: str, result: CaseResult) -> None:
    """Store one finished case (replacing an earlier result of the same case in this run)."""
    with Session(engine) as session:
        existing = session.exec(
            select(SmokeCaseRow).where(
                col(SmokeCaseRow.run_id) == run_id, col(SmokeCaseRow.case_id) == result.case_id
            )
        ).first()
        row = existing or SmokeCaseRow(run_id=run_id, case_id=result.case_id, verdict="", result="")
        row.verdict = result.verdict
        row.finished = result.finished or _now()
        row.result = result_to_json(result)
        session.add(row)
        session.commit()


def set_run_status(engine: Engine, run_id: str, status: RunStatus, *, note: str = "") -> None:
    """Record a run's status and, when it stopped short, why (``note``)."""
    with Session(engine) as session:
        row = session.get(SmokeRunRow, run_id)
        if row is None:
            raise StoreError(f"no smoke run with id {run_id!r}")
        row.status = status
        row.note = note
        row.finished = _now() if status != "running" else None
        if status == "running":  # resumed, perhaps by another process
            row.owner = str(this_process())
        session.add(row)
        session.commit()


def finished_case_ids(engine: Engine, run_id: str) -> set[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(SmokeCaseRow.case_id).where(col(SmokeCaseRow.run_id) == run_id)
        ).all()
        return set(rows)


def load_run(engine: Engine, run_id: str) -> RunRecord:
    """A stored run with every finished case; StoreError when there is no such run."""
    workspace = store_workspace(engine)
    with Session(engine) as session:
        row = session.get(SmokeRunRow, run_id)
        if row is not None and row.workspace == workspace:
            _settle_orphan(session, row)
        if row is None or row.workspace != workspace:
            known = ", ".join(s.id for s in list_runs(engine, limit=5)) or "none yet"
            raise StoreError(
                f"no smoke run with id {run_id!r} in workspace {workspace!r} (latest: {known})"
            )
        case_rows = session.exec(
            select(SmokeCaseRow).where(col(SmokeCaseRow.run_id) == run_id)
        ).all()
        case_ids = tuple(json.loads(row.case_ids))
        by_id = {r.case_id: result_from_json(r.result) for r in case_rows}
        order = {c: i for i, c in enumerate(case_ids)}
        results = tuple(sorted(by_id.values(), key=lambda r: order.get(r.case_id, len(order))))
        return RunRecord(
            id=row.id,
            created=row.created,
            finished=row.finished,
            status=row.status,  # type: ignore[arg-type]
            label=row.label,
            manifest=manifest_from_json(row.manifest),
            case_ids=case_ids,
            results=results,
            note=row.note,
        )


def _settle_orphan(session: Session, row: SmokeRunRow) -> None:
    """Mark a run *interrupted* when it reads *running* but the process running it is gone
    (killed outright, or the machine restarted): it would otherwise read running forever."""
    owner = Owner.parse(row.owner) if row.status == "running" else None
    if owner is None or not owner.gone():
        return
    row.status = "interrupted"
    row.finished = _now()
    row.note = (
        f"{owner.describe()}, which was running it, ended without finishing it "
        "(killed, or the machine restarted); resume the run to finish it"
    )
    session.add(row)
    session.commit()
    session.refresh(row)


def recent_manifests(engine: Engine, limit: int) -> list[tuple[str, str, datetime, RunManifest]]:
    """The ``limit`` newest runs' ids, statuses, start times (UTC) and manifests, newest
    first, without reading their case results; a run whose manifest is damaged is left out."""
    with Session(engine) as session:
        rows = session.exec(
            select(SmokeRunRow.id, SmokeRunRow.status, SmokeRunRow.created, SmokeRunRow.manifest)
            .where(col(SmokeRunRow.workspace) == store_workspace(engine))
            .order_by(col(SmokeRunRow.created).desc())
            .limit(limit)
        ).all()
    found = []
    for run_id, status, created, text in rows:
        try:
            found.append((run_id, status, as_utc(created), manifest_from_json(text)))
        except (ValueError, TypeError):
            continue  # a damaged record proves nothing
    return found


def recent_pace(
    engine: Engine, endpoint: str, model: str, within_s: float
) -> tuple[float, datetime] | None:
    """The newest pace a run measured on ``endpoint`` for ``model`` at most ``within_s``
    seconds ago, with when it was measured; None when there is none so recent."""
    now = _now()
    for _, _, created, manifest in recent_manifests(engine, RECENT_RUNS):
        try:
            measured = (
                as_utc(datetime.fromisoformat(manifest.pace_at)) if manifest.pace_at else created
            )
        except (ValueError, TypeError):
            continue
        if (
            manifest.pace_s
            and manifest.endpoint == endpoint
            and manifest.models.get("main") == model
            and 0 <= (now - measured).total_seconds() <= within_s
        ):
            return manifest.pace_s, measured
    return None


RECENT_RUNS = 20
"""How many of the newest runs ``recent_pace`` looks through."""


def list_runs(engine: Engine, limit: int = 50) -> list[RunSummary]:
    """The newest runs first, with their counts."""
    with Session(engine) as session:
        rows = session.exec(
            select(SmokeRunRow)
            .where(col(SmokeRunRow.workspace) == store_workspace(engine))
            .order_by(col(SmokeRunRow.created).desc())
            .limit(limit)
        ).all()
        summaries = []
        for row in rows:
            _settle_orphan(session, row)
            verdicts = session.exec(
                select(SmokeCaseRow.verdict).where(col(SmokeCaseRow.run_id) == row.id)
            ).all()
            counts = Counter(verdicts)
            planned = len(json.loads(row.case_ids))
            summaries.append(
                RunSummary(
                    id=row.id,
                    created=row.created,
                    status=row.status,
                    label=row.label,
                    planned=planned,
                    counts=RunCounts(
                        planned, counts["pass"], counts["fail"], counts["flaky"], counts["error"]
                    ),
                    mode=_mode(row.manifest),
                )
            )
        return summaries


def _mode(manifest_json: str) -> str:
    try:
        return str(json.loads(manifest_json).get("mode", "hunt"))
    except (ValueError, AttributeError):
        return "hunt"
