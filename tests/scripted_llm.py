"""A scripted LLM for engine tests: queued replies (or a function), every request recorded."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from workbench.errors import LLMError
from workbench.llm.protocol import ChatRequest, Completion

Answer = Completion | LLMError | str


class ScriptedLLM:
    """Implements ``workbench.llm.protocol.LLM``. A queued ``str`` becomes a plain completion whose
    text starts with the request's prefill (as the real client returns it); an
    ``LLMError`` is raised; a ``Completion`` is returned as is."""

    def __init__(self, *answers: Answer, endpoint: str = "scripted://llm"):
        self._endpoint = endpoint
        self.queue: deque[Answer] = deque(answers)
        self.responder: Callable[[ChatRequest], Answer] | None = None
        self.requests: list[ChatRequest] = []
        self.closed = False

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def close(self) -> None:
        self.closed = True

    def reply(self, *answers: Answer) -> ScriptedLLM:
        self.queue.extend(answers)
        return self

    def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        if self.queue:
            answer = self.queue.popleft()
        elif self.responder is not None:
            answer = self.responder(request)
        else:
            raise AssertionError(f"unexpected call: {request.messages[-1].content!r}")
        if isinstance(answer, LLMError):
            raise answer
        if isinstance(answer, str):
            return Completion(
                text=(request.prefill or "") + answer,
                model=request.model,
                finish_reason="stop",
                prompt_tokens=11,
                completion_tokens=len(answer.split()),
                latency_s=0.25,
                min_margin=3.5,
                min_margin_index=0,
            )
        return answer
