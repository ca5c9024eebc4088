"""Passing smoke cases as ChatML training examples, for LoRA tooling.

Each stage is a narrow task with its own system prompt, so one example is one stage
call: the system prompt as sent, the prompt's worked examples as the earlier turns they were
sent as, the stage's input as the last user turn, and the output the pipeline accepted as the
assistant turn. Only passing cases are exported (their outputs
led to the right rows), and only stages that called the model. When the stage was
prefilled, the assistant turn is written as the model is expected to produce it:
prefill, output, then the stop string, so training matches how the stage is called.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from workbench.pipeline import StageTrace, load_trace
from workbench.smoke.results import RunRecord


@dataclass(frozen=True)
class ExportReport:
    path: Path
    cases: int
    examples: int
    skipped: tuple[str, ...]
    """Chosen cases left out, with why (not passing, trace missing)."""
    case_ids: tuple[str, ...] = ()
    """The cases exported."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "cases": self.cases,
            "examples": self.examples,
            "skipped": list(self.skipped),
            "exported_cases": list(self.case_ids),
        }


def fixed_since(baseline: RunRecord, record: RunRecord) -> tuple[str, ...]:
    """Cases that did not pass in ``baseline`` (failed, errored or flaked) and pass now."""
    return tuple(
        r.case_id
        for r in record.results
        if r.verdict == "pass"
        and (before := baseline.result(r.case_id)) is not None
        and before.verdict != "pass"
    )


def stage_example(stage: StageTrace) -> dict[str, Any] | None:
    """One ChatML example from a stage that called the model and succeeded, else None."""
    if not stage.called_model or stage.failed or stage.skipped or stage.output is None:
        return None
    if not stage.messages or stage.messages[0].role != "system":
        return None
    if stage.messages[-1].role != "user":
        return None
    answer = stage.output
    params = stage.parameters
    if params is not None and params.prefill:
        stop = params.stop[0] if params.stop else ""
        answer = params.prefill + answer.strip("\n") + ("\n" + stop if stop else "")
    sent = [{"role": m.role, "content": m.content} for m in stage.messages]  # examples too
    return {"messages": [*sent, {"role": "assistant", "content": answer}]}


def export_training(
    store: Engine,
    record: RunRecord,
    path: Path,
    *,
    case_ids: Iterable[str] | None = None,
    stages: tuple[str, ...] = (),
) -> ExportReport:
    """Write the chosen passing cases of a run as JSONL, one line per stage call.

    Args:
        case_ids: the cases to export; default: every case of the run.
        stages: only these stage ids; default: every stage that called the model.
    """
    wanted = list(case_ids) if case_ids is not None else list(record.case_ids)
    lines: list[str] = []
    skipped: list[str] = []
    exported: list[str] = []
    for case_id in wanted:
        result = record.result(case_id)
        if result is None or result.verdict != "pass":
            skipped.append(f"{case_id}: {result.verdict if result else 'not run'}")
            continue
        trace = load_trace(store, result.trace_ids[0])
        examples = [
            example
            for stage in trace.stages
            if (not stages or stage.stage_id in stages)
            and (example := stage_example(stage)) is not None
        ]
        lines += [json.dumps(e, ensure_ascii=False) for e in examples]
        exported.append(case_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return ExportReport(
        path=path,
        cases=len(exported),
        examples=len(lines),
        skipped=tuple(skipped),
        case_ids=tuple(exported),
    )
