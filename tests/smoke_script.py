"""A scripted pipeline for smoke-run tests: each stage answered as a careful model would.

Rewrite stages hand their input back unchanged, the date stage finds nothing left to
restate, the SQL stage writes the SQL planted for the question, the narrative stage
answers briefly. ``plant`` swaps in another answer for one stage of one question on
its n-th call, which is how a test makes a case fail, flake or error.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.scripted_llm import ScriptedLLM
from tests.scripted_server import Reply
from workbench.cases.suite import SmokeCase, load_cases, select_cases, smoke_dir
from workbench.errors import LLMError
from workbench.llm.protocol import ChatRequest
from workbench.prompts.files import StagePrompt, load_prompts
from workbench.settings import PROJECT_ROOT

SHIPPED_PROMPTS = load_prompts(PROJECT_ROOT / "prompts")
STAGE_BY_ORDER = {p.order: p.id for p in SHIPPED_PROMPTS}
NOISE, QUERY, SQL = STAGE_BY_ORDER[2], STAGE_BY_ORDER[3], STAGE_BY_ORDER[6]
SUITE = load_cases(smoke_dir(PROJECT_ROOT / "fixtures"))
CASE_IDS = ("simple-002", "simple-003", "simple-007")
CASES: tuple[SmokeCase, ...] = select_cases(SUITE, ids=CASE_IDS)

Answer = str | LLMError | Reply


def asked(body: dict[str, Any]) -> str:
    """The input a chat request asks about: its last user turn (after any worked examples,
    before any prefill)."""
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def write_suite(fixtures: Path, cases: Iterable[SmokeCase]) -> Path:
    """A fixtures folder (for ``WORKBENCH_FIXTURES_DIR``) whose smoke suite is ``cases``,
    written as simple cases with the shipped tags; returns ``fixtures``."""
    smoke = fixtures / "smoke"
    smoke.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "fixtures" / "smoke" / "tags.yaml", smoke / "tags.yaml")
    rows = [
        {"id": c.id, "question": c.question, "gold_sql": c.gold_sql, "tags": list(c.tags)}
        for c in cases
    ]
    (smoke / "simple.yaml").write_text(yaml.safe_dump(rows))
    return fixtures


def case(case_id: str) -> SmokeCase:
    return next(c for c in SUITE if c.id == case_id)


class PipelineScript:
    """Answers by stage: ``(system, user) -> text``, with planted exceptions."""

    def __init__(self, cases: tuple[SmokeCase, ...] = CASES, prompts=SHIPPED_PROMPTS):
        self.sql = {c.question: c.gold_sql for c in cases}
        self.openings = {p.body.strip()[:40]: p for p in prompts}
        self.planted: dict[tuple[str, str, int], Answer | Callable[[], Answer]] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.log: list[tuple[str, str]] = []
        self.llm_requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def stage(self, system: str) -> StagePrompt | None:
        return next((p for o, p in self.openings.items() if system.startswith(o)), None)

    def plant(self, stage_id: str, question: str, answer: Answer, *, call: int = 1) -> None:
        """Answer ``stage_id`` for ``question`` with ``answer`` on its ``call``-th call."""
        self.planted[(stage_id, question, call)] = answer

    def question_of(self, stage: StagePrompt, user: str) -> str:
        if stage.kind == "narrative":
            return user.removeprefix("Question: ").split("\n\n", 1)[0]
        return user

    def answer(self, system: str, user: str) -> Answer:
        stage = self.stage(system)
        if stage is None:  # not a stage: the server's pace or calibration, measured
            with self._lock:
                self.log.append(("", user))
            return "1 2 3 4 5 6 7 8 9 10 11 12"
        question = self.question_of(stage, user)
        with self._lock:
            self.calls[(stage.id, question)] += 1
            self.log.append((stage.id, question))
            number = self.calls[(stage.id, question)]
        planted = self.planted.get((stage.id, question, number))
        if planted is not None:
            return planted() if callable(planted) else planted
        if stage.kind == "dates":
            return "NONE"
        if stage.kind == "sql":
            return self.sql[question] + "\n"
        if stage.kind == "narrative":
            return "Here is the answer."
        return user

    # -- as a scripted LLM ----------------------------------------------------------
    def llm(self) -> ScriptedLLM:
        llm = ScriptedLLM()
        self.llm_requests = llm.requests

        def respond(request: ChatRequest) -> Any:
            answer = self.answer(request.messages[0].content, request.messages[-1].content)
            if isinstance(answer, Reply):
                return answer.content
            return answer

        llm.responder = respond
        return llm

    # -- as a scripted HTTP server ---------------------------------------------------
    def reply(self, body: dict[str, Any]) -> Reply:
        answer = self.answer(body["messages"][0]["content"], asked(body))
        if isinstance(answer, LLMError):
            return Reply(status=500, raw=b'{"error": {"message": "planted failure"}}')
        if isinstance(answer, Reply):
            return answer
        return Reply(content=answer)
