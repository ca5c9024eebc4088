"""The stage kinds: what a stage does with its input, and the model call they share.

Each prompt file names its ``kind``; ``STAGE_KINDS`` maps the kind to a callable that
takes the prompt, the stage's input text and the run's ``StageContext`` and returns a
``StageResult``: the stage's trace plus whatever else it produced (the SQL and its rows,
the narrative answer, the fresh model answer to cache). Nothing is written on shared
state; the loop in ``workbench.pipeline.run`` decides what to keep.

Failures belong to the stage: a call that fails, SQL that does not parse, is refused or
does not run, is recorded on the stage's trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

from workbench.dates import (
    DateSpan,
    find_unresolved_hints,
    resolve_expression,
    resolve_relative_dates,
)
from workbench.errors import WorkbenchError
from workbench.llm import ChatRequest, Completion, thinking_supported
from workbench.pipeline.cache import StageCache, answer_digest, request_key
from workbench.pipeline.cleaner import body_examples, clean_answer, clean_rewrite, echoed_example
from workbench.pipeline.environment import RunEnvironment
from workbench.pipeline.replay import Replay
from workbench.pipeline.trace import (
    TRACE_ROW_CAP,
    DateSpanTrace,
    ResultTrace,
    SQLTrace,
    StageParameters,
    StageTrace,
    jsonable,
)
from workbench.prompts import (
    SCHEMA_VARIABLES,
    GateDecision,
    StageKind,
    StagePrompt,
    Vocabulary,
    evaluate_gate,
    render,
    worked_examples,
)
from workbench.settings import ModelRole
from workbench.sql import (
    extract_sql,
    format_sql,
    load_schema_notes,
    schema_description,
    schema_statements,
)

DEFAULT_THINKING_TOKENS = 2_048
"""Thinking budget of a thinking call whose prompt sets no ``max_thinking_tokens``."""
NARRATIVE_ROW_CAP = 50
"""Rows shown to the narrative stage; the row count tells it how many there were."""
LOOP_NGRAM = 8
LOOP_REPEATS = 3


@dataclass(frozen=True)
class StageContext:
    """What a stage reads besides its input text.

    Args:
        env: where calls go and SQL runs (its database already opened when a stage needs it).
        cache: the stage cache, or None when nothing is stored.
        result: the rows of the SQL stage, once it has run (for the narrative).
        replay: an earlier run's answers, asked before the cache and the model.
        outputs: stage id -> output of each stage that has run (a later prompt cites one
            as ``{{stage_id}}``).
    """

    question: str
    as_of: date
    env: RunEnvironment
    cache: StageCache | None = None
    result: ResultTrace | None = None
    replay: Replay | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)

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
            elif name in SCHEMA_VARIABLES:
                values[name] = self._schema(name)
            elif name in self.outputs:
                values[name] = self.outputs[name]
        return values

    @cached_property
    def vocabulary(self) -> Vocabulary | None:
        """The database's own words the gates count, read once per run (a PostgreSQL catalog
        is not cached, and two stages are gated); None without a database."""
        if self.env.database is None:
            return None
        notes = load_schema_notes(self.env.settings.schema_notes)  # left-out columns stay out
        return Vocabulary.from_tables(self.env.database.describe(notes.exclude).tables)

    def _schema(self, name: str) -> str:
        if self.env.database is None:
            raise WorkbenchError("no database to describe: the run was started without one")
        describe = schema_statements if name == "schema_sql" else schema_description
        settings = self.env.settings
        return describe(
            self.env.database,
            curated=settings.schema_file,
            notes=load_schema_notes(settings.schema_notes),
        )


@dataclass(frozen=True)
class StageResult:
    """What one stage produced.

    Args:
        fresh: the cache key and completion of a model call just made; stored once the
            stage is known to have succeeded (a failed stage is never cached).
    """

    trace: StageTrace
    sql: SQLTrace | None = None
    result: ResultTrace | None = None
    narrative: str | None = None
    fresh: tuple[str, Completion] | None = None


StageFn = Callable[[StagePrompt, str, StageContext], StageResult]
"""Runs one stage on its input text; the trace's ``output`` feeds the next stage."""


@dataclass(frozen=True)
class Stage:
    prompt: StagePrompt
    run: StageFn


# -- calling the model ------------------------------------------------------------------


def _gate_decision(prompt: StagePrompt, text: str, ctx: StageContext) -> GateDecision | None:
    if prompt.mode != "gated":
        return None
    gate = ctx.env.prompts.gates[prompt.gate or ""]
    vocabulary = ctx.vocabulary if gate.reads_the_database else None
    return evaluate_gate(
        gate, text, role=prompt.role, think_role=prompt.thinking_role, vocabulary=vocabulary
    )


def wanted_thinking(prompt: StagePrompt, decision: GateDecision | None) -> tuple[bool, ModelRole]:
    """Whether the stage's mode or gate asks for thinking, and on which model role."""
    if decision is not None:
        return decision.thinking, decision.role
    return prompt.mode == "think", prompt.role


def build_request(
    prompt: StagePrompt, user: str, ctx: StageContext, decision: GateDecision | None
) -> ChatRequest:
    """The exact request for a stage. Prefill and stop strings apply only without thinking:
    a prefill would land before the thinking block, and a stop string could end the
    thinking early. A model without a thinking mode (Qwen2.5, SmolLM2) is asked without
    it even when the gate asks for thinking; ``thinking_note`` says so in the trace."""
    wanted, role = wanted_thinking(prompt, decision)
    settings = ctx.env.settings
    model = settings.model_for(role)
    thinking = wanted and thinking_supported(model)
    messages = render(prompt, ctx.variables(prompt), user, asked=(ctx.question,))
    thinking_budget = (prompt.max_thinking_tokens or DEFAULT_THINKING_TOKENS) if thinking else None
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=prompt.max_tokens + (thinking_budget or 0),
        stop=() if thinking else prompt.stop,
        thinking=thinking,
        prefill=None if thinking else prompt.prefill,
        seed=settings.seed,
        temperature=0.0,
        logprobs=True,
        max_thinking_tokens=thinking_budget,
    )


def thinking_note(
    prompt: StagePrompt, decision: GateDecision | None, request: ChatRequest
) -> str | None:
    """Why a stage that asked for thinking ran without it (None when it did not ask)."""
    wanted, _ = wanted_thinking(prompt, decision)
    if not wanted or request.thinking:
        return None
    asked = f"gate {decision.gate}" if decision is not None else "its prompt (mode: think)"
    return f"{asked} asked for thinking; {request.model} has no thinking mode, so it ran without"


def base_trace(prompt: StagePrompt, input_text: str) -> StageTrace:
    """A stage's trace before anything ran."""
    return StageTrace(
        stage_id=prompt.id,
        title=prompt.title,
        order=prompt.order,
        kind=prompt.kind,
        input=input_text,
        prompt_hash=prompt.content_hash,
        mode=prompt.mode,
    )


def call_stage(prompt: StagePrompt, user: str, input_text: str, ctx: StageContext) -> StageResult:
    """Gate, render, call (or answer from the replay or the cache) and record one model call.

    ``input_text`` is what the stage reads (for the gate and the trace); ``user`` is the
    user turn sent, which differs for the narrative stage.
    """
    base = base_trace(prompt, input_text)
    try:
        decision = _gate_decision(prompt, input_text, ctx)
        base = replace(base, gate=decision)
        request = build_request(prompt, user, ctx, decision)
    except WorkbenchError as exc:
        return StageResult(failed(base, exc))
    base = replace(
        base,
        thinking_note=thinking_note(prompt, decision, request),
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
    llm = ctx.env.llm
    key = request_key(llm.endpoint, request)
    completion = ctx.replay.answer(key) if ctx.replay is not None else None
    reused = completion is not None
    if completion is None and ctx.cache is not None:
        completion = ctx.cache.get(key)
    cached = completion is not None and not reused
    if completion is None:
        try:
            completion = llm.complete(request)
        except WorkbenchError as exc:
            return StageResult(failed(base, exc))
    trace = replace(
        base,
        output=completion.text,
        model=completion.model or request.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=0.0 if cached or reused else completion.latency_s,
        finish_reason=completion.finish_reason,
        reasoning=completion.reasoning,
        runaway=runaway_reason(completion, request),
        min_margin=completion.min_margin,
        min_margin_index=completion.min_margin_index,
        cached=cached,
        reused_from=ctx.replay.origin if reused and ctx.replay is not None else None,
        request_key=key,
        answer_digest=answer_digest(completion),
    )
    return StageResult(trace, fresh=None if cached or reused else (key, completion))


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


def failed(trace: StageTrace, exc: Exception) -> StageTrace:
    """``trace`` marked as failed with ``exc``."""
    return replace(trace, error=str(exc), error_kind=type(exc).__name__)


def _empty_output(trace: StageTrace) -> StageTrace:
    why = f" ({trace.runaway})" if trace.runaway else ""
    if trace.raw_output:
        why += (
            ": the cleaner kept no line of its answer (only SQL, code fences or a repeated "
            "Input: line); its raw answer is in the trace"
        )
    return replace(trace, error=f"the model returned no usable text{why}", error_kind="EmptyOutput")


# -- the stage kinds --------------------------------------------------------------------


def run_rewrite_stage(prompt: StagePrompt, text: str, ctx: StageContext) -> StageResult:
    """A linguistic stage: the model rewrites the text; its cleaned answer is the output."""
    called = call_stage(prompt, text, text, ctx)
    if called.trace.error is not None:
        return called
    raw = called.trace.output or ""
    cleaned = clean_answer(raw)
    trace = replace(
        called.trace, output=cleaned.output, raw_output=raw if cleaned.dropped else None
    )
    if not cleaned.output:
        return replace(called, trace=_empty_output(trace))
    examples = worked_examples(prompt, text, (ctx.question,)) + body_examples(prompt.body)
    copied = echoed_example(cleaned.output, text, examples, prompt.body)
    if copied is not None:
        error = (
            f"the answer repeats the prompt's example ({copied[1]!r}) instead of rewriting "
            "the question; a small model often does: give the examples as turns (front "
            "matter 'examples') or make them less like a template"
        )
        trace = replace(trace, error=error, error_kind="EchoedExample")
    return replace(called, trace=trace)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def run_dates_stage(prompt: StagePrompt, text: str, ctx: StageContext) -> StageResult:
    """Python resolves every expression it recognises. Only when words that look temporal
    remain is the model asked, to copy each phrase out and restate it in plain words
    ("three hundred days prior => 300 days ago"); Python resolves the restatement, so the
    arithmetic is always Python's. A phrase nobody resolves is listed as unresolved."""
    rewrite = resolve_relative_dates(text, ctx.as_of)
    spans = [_span_trace(span, "python") for span in rewrite.spans]
    output = rewrite.text
    hints = find_unresolved_hints(output, ctx.as_of)
    if not hints:
        trace = replace(base_trace(prompt, text), output=output, date_spans=tuple(spans))
        return StageResult(trace)
    called = call_stage(prompt, output, text, ctx)
    if called.trace.error is not None:
        trace = replace(
            called.trace, output=output, date_spans=tuple(spans), unresolved_dates=tuple(hints)
        )
        return replace(called, trace=trace)
    unresolved: list[str] = []
    for line in (called.trace.output or "").splitlines():
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
            replace(_span_trace(span, "model"), source=source, restated=_restated(plain, phrase))
        )
    leftover = [h for h in find_unresolved_hints(output, ctx.as_of) if h not in unresolved]
    trace = replace(
        called.trace,
        output=output,
        date_spans=tuple(spans),
        unresolved_dates=tuple(unresolved + leftover),
    )
    return replace(called, trace=trace)


def _restated(plain: str, phrase: str) -> str | None:
    return plain if plain != phrase else None


def _span_trace(span: DateSpan, resolved_by: str) -> DateSpanTrace:
    return DateSpanTrace(
        source=span.source,
        start=span.start.isoformat(),
        end=span.end.isoformat(),
        rendered=span.rendered,
        resolved_by=resolved_by,  # type: ignore[arg-type]
    )


def run_sql_stage(prompt: StagePrompt, text: str, ctx: StageContext) -> StageResult:
    """The model writes SQL; it is extracted, checked read-only and run on the database."""
    called = call_stage(prompt, text, text, ctx)
    if called.trace.error is not None:
        return called
    raw = called.trace.output or ""
    sql = raw
    try:
        sql = extract_sql(raw)
        if ctx.env.database is None:
            raise WorkbenchError("no database to run the SQL on: the run was started without one")
        result = ctx.env.database.run(sql)  # checks it is one read-only query before running it
    except WorkbenchError as exc:
        sql_trace = SQLTrace(original=sql, error=str(exc), error_kind=type(exc).__name__)
        return replace(called, trace=replace(failed(called.trace, exc), output=sql), sql=sql_trace)
    rows = tuple(tuple(jsonable(v) for v in row) for row in result.rows[:TRACE_ROW_CAP])
    return replace(
        called,
        trace=replace(called.trace, output=sql),
        sql=SQLTrace(original=sql, executed=result.executed_sql, formatted=_formatted(sql)),
        result=ResultTrace(
            columns=tuple(result.columns),
            rows=rows,
            row_count=result.row_count,
            truncated=result.truncated or result.row_count > len(rows),
            elapsed_ms=result.elapsed_ms,
        ),
    )


def _formatted(sql: str) -> str | None:
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


def run_narrative_stage(prompt: StagePrompt, text: str, ctx: StageContext) -> StageResult:
    """The original question (with its wishes about form) plus the rows -> the answer."""
    if prompt.input == "question_and_results":
        if ctx.result is None:
            failure = WorkbenchError("no query result to narrate: an SQL stage must run first")
            return StageResult(failed(base_trace(prompt, ""), failure))
        user = f"Question: {ctx.question}\n\nRows:\n{results_table(ctx.result)}"
    else:
        user = text
    called = call_stage(prompt, user, user, ctx)
    if called.trace.error is not None:
        return called
    answer = (called.trace.output or "").strip()
    if not answer:
        return replace(called, trace=_empty_output(called.trace))
    return replace(called, trace=replace(called.trace, output=answer), narrative=answer)


STAGE_KINDS: dict[StageKind, StageFn] = {
    "dates": run_dates_stage,
    "rewrite": run_rewrite_stage,
    "sql": run_sql_stage,
    "narrative": run_narrative_stage,
}


def build_stages(prompts: tuple[StagePrompt, ...]) -> tuple[Stage, ...]:
    """The pipeline: one stage per prompt, in order."""
    return tuple(Stage(p, STAGE_KINDS[p.kind]) for p in sorted(prompts, key=lambda p: p.order))
