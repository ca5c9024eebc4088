"""The held-out guard of the LoRA loop: which cases a training set has seen.

``smoke export`` turns passing cases into training examples. A model trained on them and then
run on the same suite scores its own training set: its accuracy on those cases says nothing
about questions it has not seen. So every export is recorded (the exported cases, and each
other case whose question is nearly an exported one, since a near copy teaches the same
answer), a run's summary scores exposed and never-exposed cases apart, and a case tagged
``held-out`` is exported only on an explicit request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from workbench.prompts.bank import NEAR_DUPLICATE, sameness
from workbench.store import TrainingExportRow

HELD_OUT = "held-out"
"""The tag of a case kept out of every training set (``smoke export --include-held-out``
exports it anyway)."""


def held_out(tags: Mapping[str, Iterable[str]]) -> set[str]:
    """The case ids tagged ``held-out``, from each case id's tags."""
    return {case_id for case_id, tagged in tags.items() if HELD_OUT in tagged}


def record_export(
    store: Engine,
    run_id: str,
    path: Path,
    exported: Iterable[str],
    questions: Mapping[str, str],
) -> dict[str, str]:
    """Record an export: the exported cases, and every other case of the suite (``questions``
    by case id) whose question is nearly one of theirs. Returns each recorded case's exposure."""
    exported = [case_id for case_id in exported if case_id in questions]
    exposure = {case_id: "exported" for case_id in exported}
    for case_id, question in questions.items():
        if case_id in exposure:
            continue
        near = next(
            (o for o in exported if sameness(question, questions[o]) >= NEAR_DUPLICATE), None
        )
        if near is not None:
            exposure[case_id] = f"near {near}"
    export_id = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    with Session(store) as session:
        for case_id, how in exposure.items():
            session.add(
                TrainingExportRow(
                    export_id=export_id,
                    run_id=run_id,
                    case_id=case_id,
                    question=questions[case_id],
                    exposure=how,
                    path=str(path),
                    created=now,
                )
            )
        session.commit()
    return exposure


def exposed_cases(store: Engine) -> dict[str, str]:
    """Every case any recorded export has exposed, with how (the first export that did)."""
    with Session(store) as session:
        rows = session.exec(select(TrainingExportRow).order_by(TrainingExportRow.id)).all()
    exposed: dict[str, str] = {}
    for row in rows:
        exposed.setdefault(row.case_id, row.exposure)
    return exposed


@dataclass(frozen=True)
class HeldOutSplit:
    """A run's pass rate on cases a training set has seen and on cases none has."""

    exposed_passed: int
    exposed: int
    unseen_passed: int
    unseen: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "exposed": {"passed": self.exposed_passed, "cases": self.exposed},
            "never_exported": {"passed": self.unseen_passed, "cases": self.unseen},
        }

    def words(self) -> str:
        return (
            f"cases a training set has seen: {_rate(self.exposed_passed, self.exposed)}; "
            f"never exported: {_rate(self.unseen_passed, self.unseen)} (judge a trained "
            "adapter on the second)"
        )


def split_by_exposure(
    verdicts: Mapping[str, str], exposed: Mapping[str, str]
) -> HeldOutSplit | None:
    """A run's passes (``verdicts`` by case id) on exposed and never-exported cases; None when
    no case it ran was ever exported (nothing to tell apart)."""
    if not any(case_id in exposed for case_id in verdicts):
        return None
    seen = [v for case_id, v in verdicts.items() if case_id in exposed]
    unseen = [v for case_id, v in verdicts.items() if case_id not in exposed]
    return HeldOutSplit(
        exposed_passed=seen.count("pass"),
        exposed=len(seen),
        unseen_passed=unseen.count("pass"),
        unseen=len(unseen),
    )


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} pass" + (f" ({100 * passed / total:.0f}%)" if total else "")
