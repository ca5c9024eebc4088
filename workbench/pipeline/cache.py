"""The stage cache: a stage call is answered from the store when nothing that
determines it has changed.

The key hashes the endpoint and the whole request (model, rendered messages and every
parameter: thinking, prefill, seed, max tokens, stop, temperature, logprobs). Editing
stage k's prompt changes k's messages, so k is called again; stage k+1 is called again
only if k's output, which is k+1's input, changed. A completion is stored only when
its stage succeeded: a failed call, an empty answer, or SQL that does not parse, is
refused or does not run, is never replayed. A runaway whose stage still produced an
answer is stored like any other answer.

``use_cache=False`` (``StageCache(engine, read=False)``) bypasses reads but still
writes: a fresh run refreshes the cache, so the next cached run shows what was last
seen. Determinism checks bypass reads, which is what they need.

Each workspace has its own entries (clearing one's cache leaves the others'): the
stored key is the request key, prefixed by the workspace's name outside the demo.
An entry that no longer reads as a completion (a damaged row) is a miss, never an
error of the run: the stage is called again and the fresh answer replaces it.
``answer_digest`` names what came back, so that a trace can tell later whether the
cache still holds the answer that run got (a later run may have replaced it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from workbench.errors import StoreError
from workbench.llm import ChatRequest, Completion
from workbench.store import StageCacheRow, store_workspace
from workbench.workspace import DEMO_NAME


def request_key(endpoint: str, request: ChatRequest) -> str:
    """SHA-256 over everything that determines a call."""
    payload = {"endpoint": endpoint, "request": asdict(request)}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def answer_digest(completion: Completion) -> str:
    """A hash of what a call answered: the text, the thinking and how it ended.

    Latency, token counts and logprob margins are left out: two calls that answered the
    same are the same answer for every stage that reads it.
    """
    payload = [completion.text, completion.reasoning, completion.finish_reason, completion.runaway]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:32]


class StageCache:
    """Stage completions in the store, keyed by ``request_key``."""

    def __init__(self, engine: Engine, *, read: bool = True, write: bool = True):
        self.engine = engine
        self.read = read
        self.write = write
        self.workspace = store_workspace(engine)

    def _stored_key(self, key: str) -> str:
        # The demo keeps the bare key, so caches written before workspaces still answer.
        return key if self.workspace == DEMO_NAME else f"{self.workspace}:{key}"

    def get(self, key: str) -> Completion | None:
        """The stored answer, or None (reads bypassed, nothing stored, or a damaged entry)."""
        if not self.read:
            return None
        try:
            return self.entry(key)
        except StoreError:
            return None

    def entry(self, key: str) -> Completion | None:
        """The stored answer for ``key`` whether or not reads are on; None when absent.

        Raises:
            StoreError: the entry is there but does not read as a completion.
        """
        with Session(self.engine) as session:
            row = session.get(StageCacheRow, self._stored_key(key))
            return _completion_from_json(row.completion, key) if row is not None else None

    def put(self, key: str, stage_id: str, completion: Completion) -> None:
        if not self.write:
            return
        row = StageCacheRow(
            key=self._stored_key(key),
            workspace=self.workspace,
            stage_id=stage_id,
            model=completion.model,
            created=datetime.now(UTC),
            completion=json.dumps(asdict(completion), ensure_ascii=False),
        )
        for attempt in (1, 2):
            with Session(self.engine) as session:
                session.merge(row)
                try:
                    session.commit()
                    return
                except IntegrityError:
                    # Two cases that normalize to the same question ask the same at once:
                    # both looked the key up before either stored it. Merging again finds
                    # the other's row and updates it.
                    if attempt == 2:
                        raise

    def __len__(self) -> int:
        with Session(self.engine) as session:
            return session.exec(
                select(func.count())
                .select_from(StageCacheRow)
                .where(col(StageCacheRow.workspace) == self.workspace)
            ).one()

    def clear(self, stage_id: str | None = None) -> None:
        """Forget every entry of the workspace, or one stage's."""
        statement = delete(StageCacheRow).where(col(StageCacheRow.workspace) == self.workspace)
        if stage_id is not None:
            statement = statement.where(col(StageCacheRow.stage_id) == stage_id)
        with Session(self.engine) as session:
            session.exec(statement)  # type: ignore[call-overload]
            session.commit()


def _completion_from_json(text: str, key: str) -> Completion:
    try:
        data = json.loads(text)
        data["tokens"] = tuple(data.get("tokens", ()))
        data["margins"] = tuple(data.get("margins", ()))
        completion = Completion(**data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError(
            f"the stage cache entry {key[:12]} is damaged ({exc}); the stage is called again "
            "and its answer replaces the entry"
        ) from exc
    if not isinstance(completion.text, str):
        raise StoreError(f"the stage cache entry {key[:12]} is damaged (its text is not a string)")
    return completion
