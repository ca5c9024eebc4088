"""Turning a chat-completion answer into a ``Completion``: thinking split off, margins computed.

The body is parsed by hand rather than through the ``openai`` types so that the vLLM
extras (``reasoning``, ``reasoning_content``) survive and a malformed answer becomes an
``LLMResponseError`` naming the missing field.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.errors import LLMResponseError
from workbench.llm.protocol import ChatRequest, Completion

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def field_of(obj: Any, name: str, what: str) -> Any:
    """``obj[name]``, or an LLMResponseError saying which answer lacks it."""
    if not isinstance(obj, dict) or name not in obj or obj[name] is None:
        raise LLMResponseError(f"{what} answer has no {name!r} field: {str(obj)[:200]}")
    return obj[name]


def parse_completion(payload: Any, request: ChatRequest, latency_s: float) -> Completion:
    """Turn a chat-completion JSON body into a Completion (thinking split off, margins)."""
    choices = field_of(payload, "choices", "chat completion")
    if not isinstance(choices, list) or not choices:
        raise LLMResponseError(f"chat completion answer has no choices: {str(payload)[:200]}")
    choice = choices[0]
    message = field_of(choice, "message", "chat completion choice")
    finish_reason = choice.get("finish_reason") or "unknown"
    content = message.get("content") or ""
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    unclosed = False
    if reasoning is None:
        content, reasoning, unclosed = split_thinking(content)
    runaway = finish_reason == "length" and (unclosed or (bool(reasoning) and not content.strip()))

    tokens: tuple[str, ...] = ()
    margins: tuple[float, ...] = ()
    logprobs = choice.get("logprobs")
    if request.logprobs and isinstance(logprobs, dict) and logprobs.get("content"):
        tokens, margins = content_margins(logprobs["content"])
    min_margin = min(margins) if margins else None
    min_index = margins.index(min_margin) if min_margin is not None else None

    usage = payload.get("usage") or {}
    text = (request.prefill or "") + content
    return Completion(
        text=text,
        model=payload.get("model") or request.model,
        finish_reason=finish_reason,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
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


def content_margins(entries: list[Any]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Tokens after any thinking, each with chosen logprob minus the best other top logprob.

    A token with no alternative listed gets ``inf`` (nothing could flip there). The
    end-of-sequence token stays in when the server reports it (vLLM does): a small
    margin there means the answer nearly went on.
    """
    texts = [str(e.get("token", "")) for e in entries]
    start = 0
    joined = ""
    for i, text in enumerate(texts):
        joined += text
        if THINK_CLOSE in joined:
            start = i + 1
            break
    tokens: list[str] = []
    margins: list[float] = []
    for entry in entries[start:]:
        token = str(entry.get("token", ""))
        chosen = entry.get("logprob")
        if not isinstance(chosen, int | float):
            raise LLMResponseError(f"logprobs entry has no numeric 'logprob': {str(entry)[:200]}")
        others = [
            alt["logprob"]
            for alt in entry.get("top_logprobs") or []
            if alt.get("token") != token and isinstance(alt.get("logprob"), int | float)
        ]
        tokens.append(token)
        margins.append(chosen - max(others) if others else math.inf)
    if start:
        # The blank tokens right after </think> belong to neither part.
        while tokens and not tokens[0].strip():
            tokens.pop(0)
            margins.pop(0)
    return tuple(tokens), tuple(margins)
