"""The one protocol every model call goes through.

The pipeline, the smoke runner and the pages receive an ``LLM`` as an argument;
the real implementation (``workbench.llm.client.OpenAIClient``) speaks to any
OpenAI-compatible server, and tests pass a scripted one. Requests and answers are
frozen values so that they can be hashed for the stage cache and stored in traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion at temperature 0.

    ``prefill`` is a final assistant message that the model continues; the
    returned ``Completion.text`` starts with it.
    """

    model: str
    messages: tuple[Message, ...]
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    thinking: bool = False
    prefill: str | None = None
    seed: int = 0
    temperature: float = 0.0
    logprobs: bool = True
    max_thinking_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    """What came back, with the thinking separated from the content."""

    text: str
    model: str
    finish_reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    reasoning: str | None = None
    runaway: bool = False
    """The token cap was hit inside the thinking (or the thinking looped)."""
    tokens: tuple[str, ...] = ()
    """The generated content tokens, when the server returned logprobs."""
    margins: tuple[float, ...] = field(default=(), repr=False)
    """Per token: chosen logprob minus the runner-up's (top-2)."""
    min_margin: float | None = None
    min_margin_index: int | None = None


@runtime_checkable
class LLM(Protocol):
    """Anything that can answer a ChatRequest."""

    @property
    def endpoint(self) -> str:
        """The base URL (or a label) that identifies where answers come from."""
        ...

    def complete(self, request: ChatRequest) -> Completion: ...

    def close(self) -> None:
        """Release connections; the LLM is not used afterwards."""
        ...
