"""Calibrating a server with no history: a handful of short calls price a stage."""

from __future__ import annotations

import pytest

from tests.scripted_llm import ScriptedLLM
from workbench.llm.protocol import ChatRequest, Completion
from workbench.smoke.calibration import Calibration, calibrate, measure_pace


def calibrating_llm() -> ScriptedLLM:
    """A server that prefills 1000 tokens/s and decodes 20 tokens/s after 0.1 s per request."""

    def answer(request: ChatRequest) -> Completion:
        prompt = sum(len(m.content) for m in request.messages) // 4
        tokens = request.max_tokens
        latency = 0.1 + prompt / 1000 + tokens / 20
        return Completion("x", request.model, "length", prompt, tokens, latency_s=latency)

    llm = ScriptedLLM()
    llm.responder = answer
    return llm


def test_the_calls_measure_what_a_stage_costs_on_that_server() -> None:
    llm = calibrating_llm()
    calibration = calibrate(llm, "m")
    assert len(llm.requests) == 5
    assert calibration.seconds(1000, 64) == pytest.approx(0.1 + 1000 / 1000 + 64 / 20, rel=0.15)
    again = calibrating_llm()
    calibrate(again, "m")

    def long_prompts(scripted: ScriptedLLM) -> set[str]:
        return {
            r.messages[-1].content[:32]
            for r in scripted.requests
            if len(r.messages[-1].content) > 100
        }

    first, second = long_prompts(llm), long_prompts(again)
    assert first and not first & second  # no prefix a cache could answer


def test_a_calibration_prices_a_stage_by_prompt_and_answer() -> None:
    calibration = Calibration(
        0.1, prefill_tokens_per_s=1000, decode_s=0.05, decode_s_per_context=1e-5
    )
    assert calibration.seconds(500, 40) == pytest.approx(0.1 + 0.5 + 40 * (0.05 + 0.005))


def test_the_pace_is_seconds_per_token_of_a_fixed_request_never_cached_whole() -> None:
    llm = calibrating_llm()
    pace = measure_pace(llm, "m")
    measure_pace(llm, "m")
    first, second = (r.messages[-1].content for r in llm.requests)
    assert first != second and first[:60] == second[:60]  # the same question, a fresh end
    request = llm.requests[0]
    prompt = sum(len(m.content) for m in request.messages) // 4
    assert pace == pytest.approx((0.1 + prompt / 1000 + 24 / 20) / 24)
