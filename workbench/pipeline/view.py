"""What the Run page draws for a trace: one card per stage, as plain values.

The page only lays cards out; every decision about what a stage's card says lives
here, where it can be tested without a browser: which text is diffed against which,
when a logprob margin is low enough to warn about, and what to do about an error.

Every piece of model or user text that ends up in HTML is escaped here (the diff by
``diffing.render_html``, the rest by ``workbench.markup``): fields ending in ``_html`` are
safe to hand to the page as HTML (with ``st.html``), and no other field is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.diffing import render_html, word_diff
from workbench.errors import WorkbenchError
from workbench.llm import OpenAIClient
from workbench.markup import escape, text_html
from workbench.pipeline.cleaner import clean_answer
from workbench.pipeline.trace import StageTrace
from workbench.prompts import load_prompts
from workbench.settings import Settings

LOW_MARGIN_NATS = 1.0
"""Below this gap between the chosen token and the runner-up (in nats), a tiny numeric
difference between two identical runs could pick the other token."""

CardStatus = Literal["ok", "failed", "skipped", "cancelled"]
STATUS_LABELS: dict[CardStatus, str] = {
    "ok": "done",
    "failed": "failed",
    "skipped": "skipped",
    "cancelled": "cancelled",
}
CardBody = Literal["diff", "sql", "answer"]

RUN_PAGE_CSS = """
.wb-text { white-space: pre-wrap; line-height: 1.6; }
.wb-muted { color: #667085; }
.wb-card-head { font-size: 1.05em; margin-bottom: 0.3em; }
.wb-badge { display: inline-block; padding: 0 0.55em; margin-left: 0.45em; border-radius: 0.7em;
  font-size: 0.78em; background: #f2f4f7; color: #344054; vertical-align: 0.1em; }
.wb-badge-think { background: #fef0c7; color: #93370d; }
.wb-badge-note { background: #eef4ff; color: #3538cd; }
.wb-badge-cached { background: #e0f2fe; color: #026aa2; }
.wb-status { display: inline-block; min-width: 4.6em; text-align: center; margin-right: 0.6em;
  padding: 0 0.5em; border-radius: 0.3em; font-size: 0.75em; font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.04em; vertical-align: 0.15em; }
.wb-status-ok { background: #d1fadf; color: #05603a; }
.wb-status-failed { background: #fee4e2; color: #b42318; }
.wb-status-skipped, .wb-status-cancelled { background: #f2f4f7; color: #667085; }
.wb-status-question { background: #e0eaff; color: #3538cd; }
.wb-fired, .wb-notes { font-size: 0.85em; color: #475467; margin: 0 0 0.4em 0; }
.wb-fired code { white-space: pre-wrap; }
"""
"""Styles for the HTML fragments of this module; the page injects them with ``DIFF_CSS``."""

ADVICE: dict[str, str] = {
    "LLMUnavailable": (
        "The model server did not answer. Start it (the Server page, or set "
        "WORKBENCH_BASE_URL to a running OpenAI-compatible server) and run again."
    ),
    "LLMTimeout": (
        "The call took longer than WORKBENCH_REQUEST_TIMEOUT_S. Raise that setting, lower "
        "this stage's max_tokens, or check how busy the server is."
    ),
    "LLMResponseError": (
        "The server answered with an error or a reply the client could not read. Check "
        "that the WORKBENCH_MODEL_* settings name a model the server serves, and the "
        "server's log."
    ),
    "EmptyOutput": (
        "The model gave no usable text. Open this stage's prompt and make the expected "
        "output explicit; if the thinking ran away, lower max_thinking_tokens."
    ),
    "SQLParseError": (
        "The generated SQL does not parse. Open the SQL generation prompt: ask for exactly "
        "one SELECT statement, or simplify what the earlier stages hand it."
    ),
    "SQLRefused": (
        "Only one read-only query is ever run. Open the SQL generation prompt and make it "
        "ask for a single SELECT with no writes or extra statements."
    ),
    "SQLExecutionError": (
        "The SQL parsed but failed on the target database. Compare the tables and columns it "
        "uses with the schema the SQL generation prompt shows the model."
    ),
    "DatabaseUnavailable": (
        "The database could not be reached. Check that it is running and that the workspace's "
        "database URL (or WORKBENCH_DATABASE_URL) points at it, then run again."
    ),
    "PromptError": "Fix the prompt or gates file named in the message, then run again.",
}


@dataclass(frozen=True)
class StageCard:
    """One stage of a run as the page shows it.

    Args:
        body: what the card shows: the word diff of input to output, the SQL the
            stage wrote (``sql``), or the narrative answer.
        body_html: the escaped HTML of that body (for ``sql``, the stage's input).
        margin_low: the lowest logprob margin is under ``LOW_MARGIN_NATS``.
        advice: what to do about the stage's error.
    """

    number: int
    stage_id: str
    title: str
    kind: str
    status: CardStatus
    body: CardBody
    body_html: str
    model: str | None
    thinking: bool
    gate: str | None
    fired_html: str
    sql: str | None
    called_model: bool
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    reused_from: str | None
    margin: float | None
    margin_index: int | None
    margin_low: bool
    reasoning: str | None
    runaway: str | None
    error: str | None
    error_kind: str | None
    advice: str | None
    date_notes: tuple[str, ...]
    unresolved_dates: tuple[str, ...]
    thinking_note: str | None = None
    raw_output: str | None = None
    """The model's whole answer when the rewrite cleaner dropped lines of it."""
    dropped_lines: int = 0

    @property
    def cleaner_note(self) -> str | None:
        """What the rewrite cleaner left out of the model's answer (None: nothing)."""
        if not self.raw_output:
            return None
        kept = "kept one line of" if self.status == "ok" else "kept no line of"
        lines = "line" if self.dropped_lines == 1 else "lines"
        return (
            f"The cleaner {kept} the model's answer and dropped {self.dropped_lines} {lines} "
            "(code fences, SQL, Input: lines, remarks): see the raw answer."
        )

    @property
    def mode_label(self) -> str:
        if self.kind == "dates" and not self.called_model:
            return "resolved in Python"
        return "thinking" if self.thinking else "no thinking"

    @property
    def header_html(self) -> str:
        """Status, number and name, then badges: model, mode, the gate's switch, cached."""
        badges = []
        if self.model:
            badges.append(_badge(self.model))
        badges.append(_badge(self.mode_label, "wb-badge-think" if self.thinking else ""))
        if self.thinking and self.gate:
            badges.append(_badge(f"gate {self.gate} switched thinking on", "wb-badge-think"))
        if self.thinking_note:
            badges.append(_badge("no thinking mode: ran without", "wb-badge-note"))
        if self.cached:
            badges.append(_badge("cached", "wb-badge-cached"))
        if self.reused_from:
            badges.append(_badge(f"reused from {self.reused_from}", "wb-badge-cached"))
        if self.raw_output:
            badges.append(_badge("cleaner dropped text", "wb-badge-note"))
        title = escape(f"{self.number}. {self.title}")
        status = (
            f'<span class="wb-status wb-status-{self.status}">{STATUS_LABELS[self.status]}</span>'
        )
        return f'<div class="wb-card-head">{status}<b>{title}</b>{"".join(badges)}</div>'

    @property
    def notes_html(self) -> str:
        """The thinking note, the dates the stage resolved and the ones nobody could."""
        notes = ([self.thinking_note] if self.thinking_note else []) + list(self.date_notes)
        lines = [escape(n) for n in notes]
        lines += [f"not resolved: {escape(u)}" for u in self.unresolved_dates]
        return f'<div class="wb-notes">{"<br>".join(lines)}</div>' if lines else ""

    @property
    def metrics(self) -> str:
        """Latency, tokens and the cached mark, in one line ("" when nothing was measured)."""
        parts = []
        if self.cached:
            parts.append("cached")
        elif self.reused_from:
            parts.append("reused")
        elif self.latency_s > 0:
            parts.append(f"{self.latency_s:.2f} s")
        if self.prompt_tokens or self.completion_tokens:
            parts.append(f"{self.prompt_tokens:,} → {self.completion_tokens:,} tokens")
        return " · ".join(parts)


def _badge(text: str, css_class: str = "") -> str:
    return f'<span class="wb-badge {css_class}">{escape(text)}</span>'


def _escaped_text(text: str, css_class: str = "wb-text") -> str:
    return text_html(text, css_class)


def _body(stage: StageTrace) -> tuple[CardBody, str]:
    if stage.kind == "sql":
        return "sql", _escaped_text(stage.input)
    if stage.kind == "narrative":
        if stage.output is None:
            return "answer", _escaped_text(stage.error or "", "wb-text wb-muted")
        return "answer", _escaped_text(stage.output)
    if stage.output is None:  # failed or skipped: show what the stage was given
        return "diff", _escaped_text(stage.input, "wb-text wb-muted")
    return "diff", render_html(word_diff(stage.input, stage.output))


def _status(stage: StageTrace) -> CardStatus:
    if stage.skipped:
        return "cancelled" if (stage.error or "").startswith("cancelled") else "skipped"
    return "failed" if stage.error is not None else "ok"


def _fired_html(stage: StageTrace) -> str:
    if stage.gate is None or not stage.gate.fired:
        return ""
    items = "".join(f"<li><code>{escape(r)}</code></li>" for r in stage.gate.fired)
    return f'<ul class="wb-fired">{items}</ul>'


def error_advice(stage: StageTrace) -> str | None:
    """What the user can do about a stage's error (None when it has none we know)."""
    if stage.error is None or stage.skipped:
        return None
    if stage.runaway and stage.error_kind == "EmptyOutput":
        return (
            f"The thinking ran away ({stage.runaway}). Lower this stage's "
            "max_thinking_tokens or narrow its prompt so the model settles sooner."
        )
    return ADVICE.get(stage.error_kind or "")


def stage_card(stage: StageTrace) -> StageCard:
    body, body_html = _body(stage)
    thinking = (
        stage.parameters.thinking
        if stage.parameters is not None
        else bool(stage.gate.thinking if stage.gate else stage.mode == "think")
    )
    margin = stage.min_margin
    return StageCard(
        number=stage.order,
        stage_id=stage.stage_id,
        title=stage.title,
        kind=stage.kind,
        status=_status(stage),
        body=body,
        body_html=body_html,
        model=stage.model,
        thinking=thinking,
        gate=stage.gate.gate if stage.gate else None,
        fired_html=_fired_html(stage),
        sql=stage.output if stage.kind == "sql" else None,
        called_model=stage.called_model,
        latency_s=stage.latency_s,
        prompt_tokens=stage.prompt_tokens,
        completion_tokens=stage.completion_tokens,
        cached=stage.cached,
        reused_from=stage.reused_from,
        margin=margin,
        margin_index=stage.min_margin_index,
        margin_low=margin is not None and margin < LOW_MARGIN_NATS,
        reasoning=stage.reasoning or None,
        runaway=stage.runaway,
        error=stage.error,
        error_kind=stage.error_kind,
        advice=error_advice(stage),
        date_notes=tuple(
            f"{s.source} → {s.rendered} ({'the model' if s.resolved_by == 'model' else 'Python'})"
            for s in stage.date_spans
        ),
        unresolved_dates=stage.unresolved_dates,
        thinking_note=stage.thinking_note,
        raw_output=stage.raw_output,
        dropped_lines=len(clean_answer(stage.raw_output).dropped) if stage.raw_output else 0,
    )


def stage_cards(stages: tuple[StageTrace, ...] | list[StageTrace]) -> tuple[StageCard, ...]:
    return tuple(stage_card(s) for s in stages)


def question_html(question: str) -> str:
    """The card on top of the stages: the question as the user typed it."""
    head = '<div class="wb-card-head"><span class="wb-status wb-status-question">input</span>'
    return f"{head}<b>Question</b></div>{escaped_block(question)}"


def escaped_block(text: str) -> str:
    """Untrusted text as an HTML block that keeps its line breaks."""
    return _escaped_text(text)


def prompt_paths(settings: Settings) -> dict[str, Path]:
    """Stage id -> its prompt file ({} when the prompt files do not load)."""
    try:
        return {p.id: Path(p.path) for p in load_prompts(settings.prompts_dir)}
    except WorkbenchError:
        return {}


# -- the endpoint -------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointStatus:
    """Where the run's model calls go and which model each role uses."""

    urls: tuple[str, ...]
    managed: bool
    up: bool
    models: tuple[tuple[str, str], ...]
    """(role, served model name) for the main, thinking and SQL-thinking roles."""

    @property
    def summary(self) -> str:
        where = ", ".join(self.urls)
        state = "up" if self.up else "not answering"
        managed = " (the workbench's own server)" if self.managed else ""
        return f"{where}{managed}: {state}"


def endpoint_status(settings: Settings) -> EndpointStatus:
    """Ask each configured server's ``/health``; up when any answers."""
    up = False
    for url in settings.base_urls:
        client = OpenAIClient.from_settings(settings, url)
        try:
            up = client.health()
        finally:
            client.close()
        if up:
            break
    models = tuple((role, settings.model_for(role)) for role in ("main", "think", "sql_think"))
    return EndpointStatus(settings.base_urls, settings.managed_server, up, models)  # type: ignore[arg-type]
