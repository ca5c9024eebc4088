"""How fast a model server is, measured in a few seconds, for an estimate with no history.

Before a first run on an endpoint the store has no timings of it. A handful of short
calls then measure what a stage costs: a request's fixed cost, prefill speed, decoding
speed, and how a long prompt slows decoding (attention reads the whole context for
every new token); a stage is priced by its rendered prompt and a typical answer length.
Every long prompt starts with a fresh token: a prefix cache would otherwise answer it
from an earlier calibration and fake the prefill.

With history, one call is enough: the pace of a fixed short request now, against its
pace when the history was recorded, scales the history to the server's present speed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from workbench.llm import LLM, ChatRequest, Completion, Message

CHARS_PER_TOKEN = 3.6
TYPICAL_ANSWER_TOKENS = {"dates": 16, "rewrite": 105, "sql": 100, "narrative": 180}
"""The mean answer length by stage kind on the local model (SmolLM2-135M, bf16, 20 suite
cases × 2 repeats), for a calibrated estimate; the first run's timings replace it."""


@dataclass(frozen=True)
class Calibration:
    """The server's speed, measured by a few short calls.

    Args:
        decode_s: seconds per generated token after a short prompt.
        decode_s_per_context: how much each prompt token slows each generated token
            (attention reads the whole context for every new token).
    """

    request_s: float
    prefill_tokens_per_s: float
    decode_s: float
    decode_s_per_context: float = 0.0

    def seconds(self, prompt_tokens: float, answer_tokens: float) -> float:
        per_token = self.decode_s + self.decode_s_per_context * prompt_tokens
        return (
            self.request_s + prompt_tokens / self.prefill_tokens_per_s + answer_tokens * per_token
        )


def calibrate(llm: LLM, model: str) -> Calibration:
    """Five short calls: one-token answers (the cost of a request), a long prompt answered
    with one token (prefill), and up to 32 tokens after a short and after a long prompt
    (decoding, and how context slows it). Raises LLMError when the server does not answer."""

    def ask(user: str, max_tokens: int, system: str = "Answer briefly.") -> Completion:
        messages = (Message("system", system), Message("user", user))
        return llm.complete(ChatRequest(model, messages, max_tokens=max_tokens, logprobs=False))

    fresh = uuid.uuid4().hex  # no prefix the server may have cached from another calibration

    def notes(tag: str) -> str:  # a long prompt no earlier call shares a prefix with
        return f"{fresh} " + " ".join(f"{tag}{n}: reading {n % 7} units;" for n in range(150))

    request_s = float("inf")
    for _ in range(2):  # the first may pay for opening the connection
        started = time.perf_counter()
        ask("Hi", 1)
        request_s = min(request_s, time.perf_counter() - started)
    prefill = ask(notes("item"), 1, "Read the notes.")
    short = ask("Count from 1 to 100, separated by spaces.", 32)
    long = ask(notes("entry") + " Now count from 1 to 100, separated by spaces.", 32)
    prefill_rate = max(prefill.prompt_tokens, 1) / max(prefill.latency_s - request_s, 1e-3)
    decode_s = max(short.latency_s - request_s, 1e-3) / max(short.completion_tokens, 1)
    long_decode = long.latency_s - request_s - long.prompt_tokens / prefill_rate
    per_token_long = max(long_decode, 1e-3) / max(long.completion_tokens, 1)
    context = max(long.prompt_tokens - short.prompt_tokens, 1)
    return Calibration(
        request_s=request_s,
        prefill_tokens_per_s=prefill_rate,
        decode_s=decode_s,
        decode_s_per_context=max(per_token_long - decode_s, 0.0) / context,
    )


PACE_QUESTION = (
    "hi, could you pls list every store that had more than five refunded orders "
    "last month, with the count for each, thanks"
)


def measure_pace(llm: LLM, model: str) -> float:
    """Seconds per generated token of one fixed short rewrite, now.

    The same request every time (a fresh token ends it, so no prefix cache answers it
    whole): its pace now against its pace when the history was recorded tells how much
    faster or slower the server is at the moment (a shared machine, a busy GPU).
    """
    request = ChatRequest(
        model,
        (
            Message("system", "Rewrite the question as one short sentence."),
            Message("user", f"{PACE_QUESTION} ({uuid.uuid4().hex[:8]})"),
        ),
        max_tokens=24,
        logprobs=False,
    )
    completion = llm.complete(request)
    return completion.latency_s / max(completion.completion_tokens, 1)


@dataclass(frozen=True)
class ServerSpeed:
    """How fast the server is right now, measured before a run.

    Args:
        pace_s: ``measure_pace`` now (None: not measured).
        calibration: the server measured in full, when the store has no timings of it.
        measured_at: when ``pace_s`` was measured (UTC), earlier than now when a recent
            run's pace stands in for a new probe (``workbench.smoke.plan.measure_speed``).
    """

    pace_s: float | None = None
    calibration: Calibration | None = None
    measured_at: datetime | None = None
