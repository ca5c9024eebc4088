"""The serial pipeline: a question through the stage prompts, to SQL, rows and an answer.

The pipeline is data. Each prompt file becomes a ``Stage``: its validated prompt plus
the callable for its ``kind`` (``STAGE_KINDS``), and ``run_pipeline`` walks the ordered
tuple. Adding, removing or reordering stages is a change of prompt files.

Failures belong to the run, not to the caller: a stage whose call fails, SQL that does
not parse, is refused or does not run, are recorded on that stage's trace and every
later stage is marked skipped. Only a question that cannot be run at all (empty, too
long) raises.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from workbench.errors import PromptError, QuestionError, WorkbenchError
from workbench.llm.protocol import LLM, ChatRequest, Completion
from workbench.pipeline.cache import StageCache, cache_key
from workbench.pipeline.trace import (
    TRACE_ROW_CAP,
    DateSpanTrace,
    ResultTrace,
    SQLTrace,
    StageParameters,
    StageTrace,
    Trace,
    jsonable,
    save_trace,
)
from workbench.prompts.files import StageKind, StagePrompt, load_prompts, prompt_set_hash, render
from workbench.prompts.gates import Gate, GateDecision, evaluate_gate, load_gates
from workbench.settings import Settings

MAX_QUESTION_CHARS = 4_000
DEFAULT_THINKING_TOKENS = 2_048
"""Thinking budget of a thinking call whose prompt sets no ``max_thinking_tokens``."""
NARRATIVE_ROW_CAP = 50
"""Rows shown to the narrative stage; the row count tells it how many there were."""
LOOP_NGRAM = 8
LOOP_REPEATS = 3

StageCallback = Callable[[StageTrace], None]


@dataclass
class RunContext:
    """What the stages of one run share. Mutable on purpose: it accumulates the run."""

    question: str
    as_of: date
    llm: LLM
    settings: Settings
    gates: dict[str, Gate]
    cache: StageCache | None
    database: Path | None
    sql: SQLTrace | None = None
    result: ResultTrace | None = None
    narrative: str | None = None
    fresh: dict[str, tuple[str, Completion]] = field(default_factory=dict)
    """Per stage id: the cache key and completion of a call just made, stored once the
    stage is known to have succeeded (a failed stage is never cached)."""
    _schema: str | None = field(default=None, repr=False)

    def variables(self, prompt: StagePrompt) -> dict[str, str]:
        """Values for the variables a prompt declares (the schema only when asked for)."""
        values: dict[str, str] = {}
        for name in prompt.variables:
            if name == "as_of":
                values[name] = self.as_of.isoformat()
            elif name == "as_of_weekday":
                values[name] = self.as_of.strftime("%A")
            elif name == "question":
                values[name] = self.question
            elif name == "schema":
                values[name] = self.schema()
        return values

    def schema(self) -> str:
        if self._schema is None:
            from workbench.sql.schema import schema_description

            self._schema = schema_description(self.demo_database())
        return self._schema

    def demo_database(self) -> Path:
        if self.database is None:
            from workbench.sql.demo import ensure_demo_database

            self.database = ensure_demo_database(self.settings)
        return self.database


StageFn = Callable[[StagePrompt, str, RunContext], StageTrace]
"""Runs one stage on its input text; the returned trace's ``output`` feeds the next."""


@dataclass(frozen=True)
class Stage:
    prompt: StagePrompt
    run: StageFn


# -- calling the model ------------------------------------------------------------------


def check_gates(prompts: tuple[StagePrompt, ...], gates: dict[str, Gate]) -> None:
    """Every gated stage names a gate that exists; else a PromptError at its ``gate:`` line."""
    for prompt in prompts:
        if prompt.mode == "gated" and prompt.gate not in gates:
            text = (
                Path(prompt.path).read_text(encoding="utf-8") if Path(prompt.path).exists() else ""
            )
            line = next(
                (n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("gate:")), None
            )
            raise PromptError(
                f"gate {prompt.gate!r} is not defined in gates.yaml "
                f"(defined: {', '.join(sorted(gates)) or 'none'})",
                path=prompt.path,
                line=line,
            )


def _gate_decision(prompt: StagePrompt, text: str, ctx: RunContext) -> GateDecision | None:
    if prompt.mode != "gated":
        return None
    gate = ctx.gates[prompt.gate or ""]
    return evaluate_gate(gate, text, role=prompt.role, think_role=prompt.thinking_role)


def build_request(
    prompt: StagePrompt, user: str, ctx: RunContext, decision: GateDecision | None
) -> ChatRequest:
    """The exact request for a stage. Prefill and stop strings apply only without thinking:
    a prefill would land before the thinking block, and a stop string could end the
    thinking early."""
    if decision is not None:
        thinking, role = decision.thinking, decision.role
    else:
        thinking, role = prompt.mode == "think", prompt.role
    messages = render(prompt, ctx.variables(prompt), user)
    thinking_budget = (prompt.max_thinking_tokens or DEFAULT_THINKING_TOKENS) if thinking else None
    return ChatRequest(
        model=ctx.settings.model_for(role),
        messages=messages,
        max_tokens=prompt.max_tokens + (thinking_budget or 0),
        stop=() if thinking else prompt.stop,
        thinking=thinking,
        prefill=None if thinking else prompt.prefill,
        seed=ctx.settings.seed,
        temperature=0.0,
        logprobs=True,
        max_thinking_tokens=thinking_budget,
    )


def call_stage(prompt: StagePrompt, user: str, input_text: str, ctx: RunContext) -> StageTrace:
    """Gate, render, call (or answer from the cache) and record one model call.

    ``input_text`` is what the stage reads (for the gate and the trace); ``user`` is the
    user turn sent, which differs for the narrative stage.
    """
    base = StageTrace(
        stage_id=prompt.id,
        title=prompt.title,
        order=prompt.order,
        kind=prompt.kind,
        input=input_text,
        prompt_hash=prompt.content_hash,
        mode=prompt.mode,
    )
    try:
        decision = _gate_decision(prompt, input_text, ctx)
        base = replace(base, gate=decision)
        request = build_request(prompt, user, ctx, decision)
    except WorkbenchError as exc:
        return _failed(base, exc)
    base = replace(
        base,
        messages=request.messages,
        model=request.model,
        parameters=StageParameters(
            model=request.model,
            temperature=request.temperature,
            seed=request.seed,
            max_tokens=request.max_tokens,
            stop=request.stop,
            prefill=request.prefill,
            thinking=request.thinking,
            max_thinking_tokens=request.max_thinking_tokens,
            logprobs=request.logprobs,
        ),
        called_model=True,
    )
    key = cache_key(ctx.llm.endpoint, request)
    completion = ctx.cache.get(key) if ctx.cache is not None else None
    cached = completion is not None
    if completion is None:
        try:
            completion = ctx.llm.complete(request)
        except WorkbenchError as exc:
            return _failed(base, exc)
    if not cached:
        ctx.fresh[prompt.id] = (key, completion)
    return replace(
        base,
        output=completion.text,
        model=completion.model or request.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=0.0 if cached else completion.latency_s,
        finish_reason=completion.finish_reason,
        reasoning=completion.reasoning,
        runaway=runaway_reason(completion, request),
        min_margin=completion.min_margin,
        min_margin_index=completion.min_margin_index,
        cached=cached,
    )


def runaway_reason(completion: Completion, request: ChatRequest) -> str | None:
    """Why a call counts as a runaway ("death CoT"), or None.

    The token cap hit while thinking, or text that loops: some run of ``LOOP_NGRAM``
    words occurring ``LOOP_REPEATS`` times or more.
    """
    if completion.runaway:
        return "the thinking hit the token cap"
    if request.thinking and completion.finish_reason == "length" and not completion.text.strip():
        return "the token cap was hit before any answer"
    for where, text in (("thinking", completion.reasoning), ("output", completion.text)):
        phrase = repeated_phrase(text or "")
        if phrase is not None:
            return f"the {where} loops: {phrase!r} repeats"
    return None


def repeated_phrase(text: str, n: int = LOOP_NGRAM, repeats: int = LOOP_REPEATS) -> str | None:
    """The first n-word phrase that occurs ``repeats`` times or more, if any."""
    words = text.split()
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= repeats:
            return " ".join(gram)
    return None


def _failed(trace: StageTrace, exc: Exception) -> StageTrace:
    return replace(trace, error=str(exc), error_kind=type(exc).__name__)


def _empty_output(trace: StageTrace) -> StageTrace:
    why = f" ({trace.runaway})" if trace.runaway else ""
    return replace(trace, error=f"the model returned no usable text{why}", error_kind="EmptyOutput")


# -- the stage kinds --------------------------------------------------------------------

_LABEL = re.compile(r"^\s*(?:output|answer|rewritten(?: question)?|question)\s*:\s*", re.I)
_ANSWER_LABEL = re.compile(r"^\s*(?:output|answer)\s*:\s*\S", re.I)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "`": "`"}


def clean_rewrite(text: str) -> str:
    """The rewritten question out of a model answer.

    Small models often echo the prompt's example layout (a code fence, an ``Input:``
    line, an ``Output:`` line). Fence lines are ignored; the first line labelled
    ``Output:``/``Answer:`` wins, else the first non-empty line; a leading label and
    quotes around the text are removed.
    """
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("```")
    ]
    line = next((ln for ln in lines if _ANSWER_LABEL.match(ln)), lines[0] if lines else "")
    line = _LABEL.sub("", line).strip()
    if len(line) >= 2 and _QUOTES.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    return line


def run_rewrite_stage(prompt: StagePrompt, text: str, ctx: RunContext) -> StageTrace:
    """A linguistic stage: the model rewrites the text; its cleaned answer is the output."""
    trace = call_stage(prompt, text, text, ctx)
    if trace.error is not None:
        return trace
    output = clean_rewrite(trace.output or "")
    trace = replace(trace, output=output)
    return trace if output else _empty_output(trace)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def run_dates_stage(prompt: StagePrompt, text: str, ctx: RunContext) -> StageTrace:
    """Python resolves every expression it recognises. Only when words that look temporal
    remain is the model asked, to copy each phrase out and restate it in plain words
    ("three hundred days prior => 300 days ago"); Python resolves the restatement, so the
    arithmetic is always Python's. A phrase nobody resolves is listed as unresolved."""
    from workbench.dates.resolve import (
        find_unresolved_hints,
        resolve_expression,
        resolve_relative_dates,
    )

    rewrite = resolve_relative_dates(text, ctx.as_of)
    spans = [_span_trace(span, "python") for span in rewrite.spans]
    output = rewrite.text
    hints = find_unresolved_hints(output, ctx.as_of)
    if not hints:
        return StageTrace(
            stage_id=prompt.id,
            title=prompt.title,
            order=prompt.order,
            kind=prompt.kind,
            input=text,
            output=output,
            prompt_hash=prompt.content_hash,
            mode=prompt.mode,
            date_spans=tuple(spans),
        )
    trace = call_stage(prompt, output, text, ctx)
    if trace.error is not None:
        return replace(trace, output=output, date_spans=tuple(spans), unresolved_dates=tuple(hints))
    unresolved: list[str] = []
    for line in (trace.output or "").splitlines():
        phrase, _, plain = line.partition("=>")
        phrase = clean_rewrite(phrase).strip(" .,;-")
        plain = clean_rewrite(plain).strip(" .,;-") or phrase
        if not phrase or phrase.upper() == "NONE" or _ISO_DATE.search(phrase):
            continue
        where = output.lower().find(phrase.lower())
        span = resolve_expression(plain, ctx.as_of) if where >= 0 else None
        if span is None:
            unresolved.append(phrase)
            continue
        source = output[where : where + len(phrase)]
        output = output[:where] + span.rendered + output[where + len(phrase) :]
        spans.append(
            DateSpanTrace(
                source=source,
                start=span.start.isoformat(),
                end=span.end.isoformat(),
                rendered=span.rendered,
                resolved_by="model",
                restated=plain if plain != phrase else None,
            )
        )
    leftover = [h for h in find_unresolved_hints(output, ctx.as_of) if h not in unresolved]
    return replace(
        trace,
        output=output,
        date_spans=tuple(spans),
        unresolved_dates=tuple(unresolved + leftover),
    )


def _span_trace(span: object, resolved_by: str) -> DateSpanTrace:
    return DateSpanTrace(
        source=span.source,  # type: ignore[attr-defined]
        start=span.start.isoformat(),  # type: ignore[attr-defined]
        end=span.end.isoformat(),  # type: ignore[attr-defined]
        rendered=span.rendered,  # type: ignore[attr-defined]
        resolved_by=resolved_by,  # type: ignore[arg-type]
    )


def run_sql_stage(prompt: StagePrompt, text: str, ctx: RunContext) -> StageTrace:
    """The model writes SQL; it is extracted, checked read-only and run on the demo database."""
    from workbench.sql.execute import run_query
    from workbench.sql.extract import extract_sql

    trace = call_stage(prompt, text, text, ctx)
    if trace.error is not None:
        return trace
    raw = trace.output or ""
    sql = raw
    try:
        sql = extract_sql(raw)
        result = run_query(  # checks that it is one read-only query before running it
            sql,
            ctx.demo_database(),
            timeout_s=ctx.settings.sql_timeout_s,
            row_cap=ctx.settings.sql_row_cap,
        )
    except WorkbenchError as exc:  # SQLError, or the demo database cannot be built
        ctx.sql = SQLTrace(original=sql, error=str(exc), error_kind=type(exc).__name__)
        return replace(_failed(trace, exc), output=sql)
    ctx.sql = SQLTrace(original=sql, executed=result.executed_sql, formatted=_formatted(sql))
    rows = tuple(tuple(jsonable(v) for v in row) for row in result.rows[:TRACE_ROW_CAP])
    ctx.result = ResultTrace(
        columns=tuple(result.columns),
        rows=rows,
        row_count=result.row_count,
        truncated=result.truncated or result.row_count > len(rows),
        elapsed_ms=result.elapsed_ms,
    )
    return replace(trace, output=sql)


def _formatted(sql: str) -> str | None:
    from workbench.sql.check import format_sql

    try:
        return format_sql(sql)
    except WorkbenchError:
        return None


def results_table(result: ResultTrace, cap: int = NARRATIVE_ROW_CAP) -> str:
    """Rows as a compact pipe table, for the narrative stage's user turn."""
    lines = [" | ".join(result.columns)]
    lines += [" | ".join("" if v is None else str(v) for v in row) for row in result.rows[:cap]]
    shown = min(cap, len(result.rows))
    note = f"{result.row_count} rows" + (
        f", the first {shown} shown" if shown < result.row_count else ""
    )
    return f"({note})\n" + "\n".join(lines)


def run_narrative_stage(prompt: StagePrompt, text: str, ctx: RunContext) -> StageTrace:
    """The original question (with its wishes about form) plus the rows -> the answer."""
    if prompt.input == "question_and_results":
        if ctx.result is None:
            failure = WorkbenchError("no query result to narrate: an SQL stage must run first")
            return _failed(
                StageTrace(prompt.id, prompt.title, prompt.order, prompt.kind, input=""), failure
            )
        user = f"Question: {ctx.question}\n\nRows:\n{results_table(ctx.result)}"
    else:
        user = text
    trace = call_stage(prompt, user, user, ctx)
    if trace.error is not None:
        return trace
    answer = (trace.output or "").strip()
    if not answer:
        return _empty_output(trace)
    ctx.narrative = answer
    return replace(trace, output=answer)


STAGE_KINDS: dict[StageKind, StageFn] = {
    "dates": run_dates_stage,
    "rewrite": run_rewrite_stage,
    "sql": run_sql_stage,
    "narrative": run_narrative_stage,
}


def build_stages(prompts: tuple[StagePrompt, ...]) -> tuple[Stage, ...]:
    """The pipeline: one stage per prompt, in order."""
    return tuple(Stage(p, STAGE_KINDS[p.kind]) for p in sorted(prompts, key=lambda p: p.order))


# -- running ----------------------------------------------------------------------------


def check_question(question: str) -> str:
    """The question stripped, or a QuestionError saying what is wrong with it."""
    stripped = question.strip()
    if not stripped:
        raise QuestionError("the question is empty: type what you want to know")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(stripped):,} characters long; the pipeline accepts at most "
            f"{MAX_QUESTION_CHARS:,}: shorten it"
        )
    return stripped


def run_pipeline(
    question: str,
    *,
    as_of: date,
    llm: LLM,
    settings: Settings,
    prompts: tuple[StagePrompt, ...] | None = None,
    gates: dict[str, Gate] | None = None,
    use_cache: bool = True,
    store: Engine | None = None,
    database: Path | None = None,
    on_stage: StageCallback | None = None,
    cancel: threading.Event | None = None,
) -> Trace:
    """Run a question through every stage and return the trace.

    Args:
        as_of: the pinned reference date for relative dates (never the wall clock).
        prompts: the stages; default: the prompt files in ``settings.prompts_dir``.
        gates: the complexity gates; default: ``gates.yaml`` next to the prompts.
        use_cache: read the stage cache; False still writes fresh answers to it.
        store: the store engine; without one there is no cache and nothing is saved.
        database: the DuckDB file to query; default: the demo database.
        on_stage: called with each stage's trace as soon as it is known.
        cancel: when set, the stages not yet started are skipped as cancelled.

    Raises:
        QuestionError: the question is empty or too long. Everything else is recorded.
        PromptError: the prompt files or gates file are malformed.
    """
    question = check_question(question)
    if prompts is None:
        prompts = load_prompts(settings.prompts_dir)
    if gates is None:
        gates_path = settings.prompts_dir / "gates.yaml"
        gates = load_gates(gates_path) if gates_path.exists() else {}
    check_gates(prompts, gates)
    cache = StageCache(store, read=use_cache) if store is not None else None
    ctx = RunContext(question, as_of, llm, settings, gates, cache, database)
    started = _now()
    traces: list[StageTrace] = []
    text = question
    blocked: str | None = None
    status = "ok"
    for stage in build_stages(prompts):
        prompt = stage.prompt
        if blocked is None and cancel is not None and cancel.is_set():
            blocked, status = "cancelled before this stage started", "cancelled"
        if blocked is not None:
            trace = StageTrace(
                prompt.id,
                prompt.title,
                prompt.order,
                prompt.kind,
                input="",
                prompt_hash=prompt.content_hash,
                mode=prompt.mode,
                skipped=True,
                error=blocked,
            )
        else:
            trace = stage.run(prompt, text, ctx)
            fresh = ctx.fresh.pop(prompt.id, None)
            if trace.error is not None:
                blocked = f"skipped: stage {prompt.order} ({prompt.title}) failed"
                status = "failed"
            else:
                text = trace.output or ""
                if fresh is not None and ctx.cache is not None:
                    ctx.cache.put(fresh[0], prompt.id, fresh[1])
        traces.append(trace)
        if on_stage is not None:
            on_stage(trace)
    trace = Trace(
        question=question,
        as_of=as_of,
        started=started,
        finished=_now(),
        prompt_set_hash=prompt_set_hash(prompts),
        endpoint=llm.endpoint,
        stages=tuple(traces),
        status=status,  # type: ignore[arg-type]
        sql=ctx.sql,
        result=ctx.result,
        narrative=ctx.narrative,
    )
    if store is not None:
        save_trace(store, trace)
    return trace


def _now() -> datetime:
    return datetime.now(UTC)


def stage_latencies(trace: Trace) -> dict[str, float]:
    """Seconds per stage id (0 for cached or skipped stages)."""
    return {s.stage_id: s.latency_s for s in trace.stages}
