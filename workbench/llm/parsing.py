"""Turning a chat-completion answer into a ``Completion``: validated, thinking split off, margins.

The body is untrusted: a proxy, a half-started server or another implementation of the API
can answer with valid JSON of the wrong shape (``message`` a string, ``content`` a list,
``usage`` not a number, logprob entries as strings). So it is validated by pydantic models at
this boundary, and anything that does not fit becomes an ``LLMResponseError`` naming the field:
an error of one call, which the pipeline records on its stage and the smoke runner on its
case, never an ``AttributeError`` that ends a run.

The models are strict about the types they read and ignore fields they do not (vLLM adds
fields with new versions; a stricter ``extra="forbid"`` would turn each upgrade into an
outage). They read the body by hand rather than through the ``openai`` types so that the vLLM
extras (``reasoning``, ``reasoning_content``, LoRA ``parent``) survive.

Numbers are checked for sense as well as type: a token count is between 0 and
``MAX_TOKEN_COUNT``, a logprob is finite and at most ``MAX_LOGPROB``. A count of 10^30 or -5 would
be stored and summed into a run's totals; a NaN logprob makes every margin comparison false and
so silently hides the low-margin warning. Such an answer is this call's error, like any other
malformed one.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import LLMResponseError
from workbench.llm.protocol import ChatRequest, Completion

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

M = TypeVar("M", bound=BaseModel)

MAX_TOKEN_COUNT = 10**9
"""More tokens than any model's context holds: a count above it is garbage, not usage."""
MAX_LOGPROB = 1e-6
"""A log-probability is at most 0; this allows the rounding of a server that computes it."""

TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKEN_COUNT)]
Logprob = Annotated[float, Field(allow_inf_nan=False, le=MAX_LOGPROB)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class TopLogprob(_Body):
    token: str
    logprob: Logprob


class LogprobEntry(_Body):
    token: str
    logprob: Logprob
    top_logprobs: list[TopLogprob] | None = None


class Logprobs(_Body):
    content: list[LogprobEntry] | None = None


class AnswerMessage(_Body):
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class Choice(_Body):
    message: AnswerMessage
    finish_reason: str | None = None
    logprobs: Logprobs | None = None


class Usage(_Body):
    prompt_tokens: TokenCount | None = None
    completion_tokens: TokenCount | None = None


class ChatCompletionBody(_Body):
    """What the workbench reads of ``POST /v1/chat/completions``."""

    choices: list[Choice]
    model: str | None = None
    usage: Usage | None = None

    @field_validator("choices")
    @classmethod
    def _at_least_one(cls, choices: list[Choice]) -> list[Choice]:
        if not choices:
            raise ValueError("no choices")
        return choices


class ModelEntry(_Body):
    id: str
    root: str | None = None
    parent: str | None = None
    owned_by: str | None = None
    max_model_len: TokenCount | None = None


class ModelListBody(_Body):
    """What the workbench reads of ``GET /v1/models``."""

    data: list[ModelEntry]


class TokenizeBody(_Body):
    """What the workbench reads of vLLM's ``POST /tokenize``."""

    count: TokenCount


def validate_body(model: type[M], payload: Any, what: str) -> M:
    """``payload`` as ``model``, or an LLMResponseError naming each field that does not fit."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors()[:3])
        raise LLMResponseError(
            f"{what} answer is malformed: {problems} (body: {str(payload)[:200]})"
        ) from exc


def _problem(err: Any) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where or 'the body'!r} {message[:1].lower()}{message[1:]}"


def parse_completion(payload: Any, request: ChatRequest, latency_s: float) -> Completion:
    """Turn a chat-completion JSON body into a Completion (thinking split off, margins).

    Raises:
        LLMResponseError: the body is not a chat completion the workbench can read.
    """
    body = validate_body(ChatCompletionBody, payload, "chat completion")
    choice = body.choices[0]
    message = choice.message
    finish_reason = choice.finish_reason or "unknown"
    content = message.content or ""
    reasoning = message.reasoning or message.reasoning_content
    unclosed = False
    if reasoning is None:
        content, reasoning, unclosed = split_thinking(content)
    runaway = finish_reason == "length" and (unclosed or (bool(reasoning) and not content.strip()))

    tokens: tuple[str, ...] = ()
    margins: tuple[float, ...] = ()
    if request.logprobs and choice.logprobs is not None and choice.logprobs.content:
        tokens, margins = content_margins(choice.logprobs.content)
    min_margin = min(margins) if margins else None
    min_index = margins.index(min_margin) if min_margin is not None else None

    usage = body.usage or Usage()
    text = (request.prefill or "") + content
    return Completion(
        text=text,
        model=body.model or request.model,
        finish_reason=finish_reason,
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        latency_s=latency_s,
        reasoning=reasoning or None,
        runaway=runaway,
        tokens=tokens,
        margins=margins,
        min_margin=None if min_margin is None or math.isinf(min_margin) else min_margin,
        min_margin_index=None if min_margin is None or math.isinf(min_margin) else min_index,
    )


def split_thinking(content: str) -> tuple[str, str | None, bool]:
    """Split a ``<think>…</think>`` block off the content.

    Returns (content, reasoning, unclosed): ``unclosed`` is True when the
    thinking was opened and never closed (the output stopped inside it).
    """
    stripped = content.lstrip()
    if stripped.startswith(THINK_OPEN):
        inner = stripped[len(THINK_OPEN) :]
    elif THINK_CLOSE in content and THINK_OPEN not in content:
        # The template put <think> into the prompt; only the close is generated.
        inner = content
    else:
        return content, None, False
    if THINK_CLOSE not in inner:
        return "", inner.strip(), True
    reasoning, _, rest = inner.partition(THINK_CLOSE)
    return rest.lstrip(), reasoning.strip(), False


def content_margins(
    entries: list[LogprobEntry] | list[dict[str, Any]],
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Tokens after any thinking, each with chosen logprob minus the best other top logprob.

    A token with no alternative listed gets ``inf`` (nothing could flip there). The
    end-of-sequence token stays in when the server reports it (vLLM does): a small
    margin there means the answer nearly went on.
    """
    checked = [
        e if isinstance(e, LogprobEntry) else validate_body(LogprobEntry, e, "logprobs entry")
        for e in entries
    ]
    texts = [e.token for e in checked]
    start = 0
    joined = ""
    for i, text in enumerate(texts):
        joined += text
        if THINK_CLOSE in joined[-(len(text) + len(THINK_CLOSE)) :]:  # only the new tail
            start = i + 1
            break
    tokens: list[str] = []
    margins: list[float] = []
    for entry in checked[start:]:
        others = [alt.logprob for alt in entry.top_logprobs or [] if alt.token != entry.token]
        tokens.append(entry.token)
        margins.append(entry.logprob - max(others) if others else math.inf)
    if start:
        # The blank tokens right after </think> belong to neither part.
        while tokens and not tokens[0].strip():
            tokens.pop(0)
            margins.pop(0)
    return tuple(tokens), tuple(margins)
