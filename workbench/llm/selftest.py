"""The concurrency self-test: do the server's answers depend on the batch?

A server that batches requests together may compute a request's answer differently
depending on what shares its batch (bf16 on the CPU build of vLLM does; float32 and
``VLLM_BATCH_INVARIANT=1`` on a GPU are meant not to). A smoke run that sent cases
concurrently to such a server would report flakes it caused itself. So the runner sends
cases concurrently only to a server that passed this test: the same prompts one at a
time, then ``concurrency`` at a time, and the generated tokens compared.

A first sequential pass warms the prefix cache, so that the comparison isolates the
batch from the prefix cache (which can flip a near-tie on its own; whether it did is
reported too). The result is stored with the server's fingerprint (its launch flags,
or its process when the flags are unknown) and the timings of both passes, which the
run estimate uses for the speed-up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.errors import ConfigError, StoreError
from workbench.llm.identity import ServerIdentity
from workbench.llm.protocol import LLM, ChatRequest, Completion, Message
from workbench.store import ServerCheckRow
from workbench.urls import redact_url

SYSTEM = (
    "You rewrite a question about the data in a database before it is turned into SQL. "
    "Delete greetings, thanks and requests about the shape of the answer. Keep every "
    "filter, number, name, date and ISO range exactly as written. Reply with the "
    "rewritten question alone, on one line, starting with a verb such as Show or List."
)
QUESTIONS: tuple[str, ...] = (
    "hi chatbot, pls give me a bulleted breakdown by region of late deliveries this qtr",
    "how many customers had an order above 5.5k last month? thx",
    "list the top 3 warehouses by returns in 2025 (exclude gift cards!!)",
    "Ms. Okafor's average handling time for support tickets, this week vs last week",
    "uh, which stores sold more than 20 umbrellas yesterday and why is that so many",
    "Could you show, as a table, every refunded invoice from 2026-03-01 through 2026-03-31?",
    "good morning! count the invoices above 6.5 thousand per department since january, sorted",
    "which agents had 3 or more escalated tickets in Q1 2026? thanks a lot",
)
MAX_TOKENS = 40


@dataclass(frozen=True)
class SelfTestResult:
    """What the self-test found on one server.

    Args:
        differing: prompts (by index) whose concurrent answer differs from the sequential.
        warm_differing: prompts whose second sequential answer differs from the first
            (the prefix cache at work, not the batch).
        sequential_s, concurrent_s: wall time of the warm sequential pass and of the
            concurrent pass over the same prompts.
    """

    endpoint: str
    fingerprint: str
    flags: dict[str, Any] | None
    model: str
    concurrency: int
    prompts: int
    differing: tuple[int, ...]
    warm_differing: tuple[int, ...]
    sequential_s: float
    concurrent_s: float
    created: datetime

    @property
    def passed(self) -> bool:
        return not self.differing

    @property
    def speedup(self) -> float:
        """How much faster the prompts went through concurrently."""
        return self.sequential_s / self.concurrent_s if self.concurrent_s > 0 else 1.0

    def summary(self) -> str:
        """One line for people."""
        verdict = (
            f"passed: {self.prompts} prompts gave the same tokens one at a time and "
            f"{self.concurrency} at a time"
            if self.passed
            else f"failed: {len(self.differing)} of {self.prompts} prompts answered differently "
            f"{self.concurrency} at a time than one at a time"
        )
        return f"{verdict} ({self.speedup:.1f}x faster concurrently)"


def selftest_requests(model: str, seed: int = 0, system: str = SYSTEM) -> tuple[ChatRequest, ...]:
    """The prompts of the self-test, as sent (temperature 0, logprobs for the tokens).

    ``system``: the system prompt; a stage prompt of the pipeline makes the batches (and
    the measured speed-up) look like a smoke run's.
    """
    return tuple(
        ChatRequest(
            model=model,
            messages=(Message("system", system), Message("user", q)),
            max_tokens=MAX_TOKENS,
            seed=seed,
            logprobs=True,
        )
        for q in QUESTIONS
    )


def run_selftest(
    llm: LLM,
    identity: ServerIdentity,
    requests: Sequence[ChatRequest],
    *,
    concurrency: int = 4,
) -> SelfTestResult:
    """Send ``requests`` one at a time twice, then ``concurrency`` at a time; compare.

    Raises:
        ConfigError: fewer than two requests or a concurrency below 2 (nothing to compare).
        LLMError: a call failed; the test has no verdict then.
    """
    if concurrency < 2 or len(requests) < 2:
        raise ConfigError("the self-test needs at least two prompts and a concurrency of 2 or more")
    cold = [llm.complete(r) for r in requests]
    started = time.perf_counter()
    warm = [llm.complete(r) for r in requests]
    sequential_s = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="selftest") as pool:
        together = list(pool.map(llm.complete, requests))
    concurrent_s = time.perf_counter() - started
    return SelfTestResult(
        endpoint=redact_url(identity.endpoint),
        fingerprint=identity.fingerprint,
        flags=identity.flags,
        model=requests[0].model,
        concurrency=concurrency,
        prompts=len(requests),
        differing=_differing(warm, together),
        warm_differing=_differing(cold, warm),
        sequential_s=sequential_s,
        concurrent_s=concurrent_s,
        created=datetime.now(UTC),
    )


def _same(a: Completion, b: Completion) -> bool:
    if a.tokens and b.tokens:
        return a.tokens == b.tokens and a.text == b.text
    return a.text == b.text


def _differing(a: Sequence[Completion], b: Sequence[Completion]) -> tuple[int, ...]:
    return tuple(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _same(x, y))


# -- the store ---------------------------------------------------------------------------


def save_selftest(engine: Engine, result: SelfTestResult) -> None:
    data = asdict(result)
    data["created"] = result.created.isoformat()
    row = ServerCheckRow(
        fingerprint=result.fingerprint,
        endpoint=result.endpoint,
        created=result.created,
        passed=result.passed,
        result=json.dumps(data, default=str),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()


def latest_selftest(engine: Engine, identity: ServerIdentity) -> SelfTestResult | None:
    """The newest self-test of a server that computes like ``identity``'s, if any."""
    with Session(engine) as session:
        row = session.exec(
            select(ServerCheckRow)
            .where(col(ServerCheckRow.fingerprint) == identity.fingerprint)
            .order_by(col(ServerCheckRow.created).desc())
        ).first()
    return _result_from_json(row.result) if row is not None else None


def selftest_history(engine: Engine, endpoint: str, limit: int = 50) -> list[SelfTestResult]:
    """The newest self-test of each setting the server at ``endpoint`` was tested under."""
    with Session(engine) as session:
        rows = session.exec(
            select(ServerCheckRow)
            .where(col(ServerCheckRow.endpoint) == redact_url(endpoint))
            .order_by(col(ServerCheckRow.created).desc())
            .limit(limit)
        ).all()
    latest: dict[str, SelfTestResult] = {}
    for row in rows:
        if row.fingerprint not in latest:
            try:
                latest[row.fingerprint] = _result_from_json(row.result)
            except StoreError:
                continue  # a damaged record is left out of the comparison
    return list(latest.values())


def fastest_passing(results: Sequence[SelfTestResult]) -> SelfTestResult | None:
    """Of several settings' self-tests, the one that gets the prompts through fastest while
    its answers stay independent of the batch: concurrently when it passed, else one at a
    time (which no batch can change). None without results."""
    if not results:
        return None
    return min(results, key=lambda r: r.concurrent_s if r.passed else r.sequential_s)


def _result_from_json(text: str) -> SelfTestResult:
    try:
        data = json.loads(text)
        data["differing"] = tuple(data["differing"])
        data["warm_differing"] = tuple(data["warm_differing"])
        data["created"] = datetime.fromisoformat(data["created"])
        return SelfTestResult(**data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(
            f"a stored self-test does not read ({exc!r}); run the self-test again"
        ) from exc
