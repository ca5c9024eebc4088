"""Traces: everything one pipeline run did, as frozen values that round-trip through JSON.

A trace is the unit the Run page draws, the smoke suite compares and the store keeps.
It holds each stage's exact request (rendered messages and parameters) next to what
came back, so that a divergence between two runs can be located to the stage and the
token without re-running anything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.errors import StoreError
from workbench.llm import Message
from workbench.prompts import GateDecision
from workbench.store import TraceRow, store_workspace

TraceStatus = Literal["ok", "failed", "cancelled"]


@dataclass(frozen=True)
class DateSpanTrace:
    """One resolved time expression and who found it (Python's scan or the model)."""

    source: str
    start: str
    end: str
    rendered: str
    resolved_by: Literal["python", "model"]
    restated: str | None = None
    """The model's plain restatement that Python resolved, when it differs from the source."""


@dataclass(frozen=True)
class StageParameters:
    """The call parameters, as sent (prefill and stop are dropped when thinking)."""

    model: str
    temperature: float
    seed: int
    max_tokens: int
    stop: tuple[str, ...]
    prefill: str | None
    thinking: bool
    max_thinking_tokens: int | None
    logprobs: bool


@dataclass(frozen=True)
class StageTrace:
    stage_id: str
    title: str
    order: int
    kind: str
    input: str
    output: str | None = None
    messages: tuple[Message, ...] = ()
    prompt_hash: str = ""
    model: str | None = None
    mode: str = "no_think"
    gate: GateDecision | None = None
    parameters: StageParameters | None = None
    called_model: bool = False
    """False when the stage needed no model call (e.g. Python resolved every date)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    reasoning: str | None = None
    runaway: str | None = None
    """Why the thinking counts as a runaway ("death CoT"), or None."""
    min_margin: float | None = None
    min_margin_index: int | None = None
    cached: bool = False
    reused_from: str | None = None
    """Where a quick check took this stage's answer from (``smoke run ID``), instead of
    calling the model: the baseline answered the very same request."""
    request_key: str | None = None
    """The stage cache key of the request sent (``workbench.pipeline.cache.request_key``)."""
    answer_digest: str | None = None
    """A hash of what came back (``workbench.pipeline.cache.answer_digest``): tells whether
    a stored answer is still the one this run got."""
    error: str | None = None
    error_kind: str | None = None
    skipped: bool = False
    date_spans: tuple[DateSpanTrace, ...] = ()
    unresolved_dates: tuple[str, ...] = ()
    thinking_note: str | None = None
    """Why the stage ran without the thinking its gate or mode asked for (no such mode)."""
    raw_output: str | None = None
    """The model's whole answer when the rewrite cleaner dropped lines of it to make the
    output (``workbench.pipeline.cleaner``); None when the answer was the output."""

    @property
    def failed(self) -> bool:
        return self.error is not None and not self.skipped


@dataclass(frozen=True)
class SQLTrace:
    original: str
    executed: str | None = None
    """The query as run on DuckDB (transpiled)."""
    formatted: str | None = None
    error: str | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class ResultTrace:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    """At most ``TRACE_ROW_CAP`` rows; ``row_count`` tells how many there were."""
    row_count: int
    truncated: bool
    elapsed_ms: float


TRACE_ROW_CAP = 200


@dataclass(frozen=True)
class Trace:
    question: str
    as_of: date
    started: datetime
    finished: datetime
    prompt_set_hash: str
    endpoint: str
    stages: tuple[StageTrace, ...]
    status: TraceStatus = "ok"
    sql: SQLTrace | None = None
    result: ResultTrace | None = None
    narrative: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def failed_stage(self) -> StageTrace | None:
        return next((s for s in self.stages if s.failed), None)

    @property
    def elapsed_s(self) -> float:
        return (self.finished - self.started).total_seconds()


# -- JSON ---------------------------------------------------------------------------------


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    data = asdict(trace)
    data["as_of"] = trace.as_of.isoformat()
    data["started"] = trace.started.isoformat()
    data["finished"] = trace.finished.isoformat()
    return data


def trace_to_json(trace: Trace, *, indent: int | None = 2) -> str:
    return json.dumps(trace_to_dict(trace), indent=indent, ensure_ascii=False, default=str)


def trace_from_dict(data: dict[str, Any]) -> Trace:
    stages = tuple(_stage_from_dict(s) for s in data["stages"])
    sql = SQLTrace(**data["sql"]) if data.get("sql") else None
    result = None
    if data.get("result"):
        r = data["result"]
        result = ResultTrace(
            columns=tuple(r["columns"]),
            rows=tuple(tuple(row) for row in r["rows"]),
            row_count=r["row_count"],
            truncated=r["truncated"],
            elapsed_ms=r["elapsed_ms"],
        )
    return Trace(
        id=data["id"],
        question=data["question"],
        as_of=date.fromisoformat(data["as_of"]),
        started=datetime.fromisoformat(data["started"]),
        finished=datetime.fromisoformat(data["finished"]),
        prompt_set_hash=data["prompt_set_hash"],
        endpoint=data["endpoint"],
        stages=stages,
        status=data["status"],
        sql=sql,
        result=result,
        narrative=data.get("narrative"),
    )


def trace_from_json(text: str) -> Trace:
    """Rebuild a trace from ``trace_to_json`` output."""
    try:
        return trace_from_dict(json.loads(text))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"not a workbench trace: {exc!r}") from exc


def _stage_from_dict(data: dict[str, Any]) -> StageTrace:
    # A field a newer workbench added (a store shared between versions) is left out.
    data = {k: v for k, v in data.items() if k in _STAGE_FIELDS}
    data["messages"] = tuple(Message(**m) for m in data.get("messages", ()))
    if data.get("gate"):
        gate = data["gate"]
        data["gate"] = GateDecision(
            gate=gate["gate"],
            thinking=gate["thinking"],
            role=gate["role"],
            fired=tuple(gate["fired"]),
        )
    if data.get("parameters"):
        params = dict(data["parameters"])
        params["stop"] = tuple(params["stop"])
        data["parameters"] = StageParameters(**params)
    data["date_spans"] = tuple(DateSpanTrace(**s) for s in data.get("date_spans", ()))
    data["unresolved_dates"] = tuple(data.get("unresolved_dates", ()))
    return StageTrace(**data)


_STAGE_FIELDS = frozenset(f.name for f in fields(StageTrace))


def jsonable(value: Any) -> Any:
    """A database value as JSON can hold it (dates as ISO text, decimals as floats)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "total_seconds"):  # timedelta, e.g. an average turnaround
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# -- the store ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceSummary:
    id: str
    question: str
    as_of: date
    created: datetime
    status: str


def save_trace(engine: Engine, trace: Trace) -> str:
    """Store a trace (replacing one with the same id); returns its id."""
    row = TraceRow(
        id=trace.id,
        workspace=store_workspace(engine),
        question=trace.question,
        as_of=trace.as_of,
        created=trace.started,
        status=trace.status,
        trace_json=trace_to_json(trace, indent=None),
    )
    with Session(engine) as session:
        session.merge(row)
        session.commit()
    return trace.id


def load_trace(engine: Engine, trace_id: str) -> Trace:
    workspace = store_workspace(engine)
    with Session(engine) as session:
        row = session.get(TraceRow, trace_id)
        if row is None or row.workspace != workspace:
            raise StoreError(f"no stored trace with id {trace_id!r} in workspace {workspace!r}")
        return trace_from_json(row.trace_json)


def recent_traces(engine: Engine, limit: int = 20) -> list[TraceSummary]:
    """The newest stored runs first."""
    with Session(engine) as session:
        rows = session.exec(
            select(TraceRow)
            .where(col(TraceRow.workspace) == store_workspace(engine))
            .order_by(col(TraceRow.created).desc())
            .limit(limit)
        ).all()
        return [TraceSummary(r.id, r.question, r.as_of, r.created, r.status) for r in rows]


def trace_summaries(engine: Engine, trace_ids: Iterable[str]) -> list[TraceSummary]:
    """The stored runs among ``trace_ids``, in the order asked; unknown ids are left out."""
    wanted = list(dict.fromkeys(trace_ids))
    with Session(engine) as session:
        rows = session.exec(
            select(TraceRow).where(
                col(TraceRow.id).in_(wanted), col(TraceRow.workspace) == store_workspace(engine)
            )
        ).all()
        found = {r.id: TraceSummary(r.id, r.question, r.as_of, r.created, r.status) for r in rows}
    return [found[i] for i in wanted if i in found]
