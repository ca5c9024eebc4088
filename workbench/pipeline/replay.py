"""Answers a run may take from an earlier run instead of calling the model.

A quick check of a prompt edit runs each case against the answers its baseline run
got. A stage whose request is byte for byte the baseline's (same endpoint, model,
rendered prompt, input and parameters: the stage cache key) is answered from there;
the first stage whose prompt or input changed is called afresh, and so is every later
stage whose input the fresh answer changed. The replay only offers answers: which ones
are trustworthy (the baseline's repeats agreed on them, the store still holds exactly
what the baseline got) is decided by whoever builds it (``workbench.smoke.baseline``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workbench.llm import Completion


@dataclass(frozen=True)
class Replay:
    """Stored answers by request key, and the stages a run leaves out.

    Args:
        answers: request key (``request_key``) -> the answer to reuse for that request.
        origin: where the answers come from (``smoke run ID``); recorded on each stage
            that reused one.
        skip: stage ids not run at all (marked skipped with ``skip_reason``).
    """

    answers: Mapping[str, Completion] = field(default_factory=dict)
    origin: str = ""
    skip: frozenset[str] = frozenset()
    skip_reason: str = "left out of this run"

    def answer(self, key: str) -> Completion | None:
        return self.answers.get(key)
