"""Edit blame for people, for CI and for the Smoke page: words, JSON, JUnit, the store.

What blame found is kept in the store (``edit_blame``, one row per blame of a run against
a baseline, as the JSON ``EditBlame.to_dict`` gives), so the Smoke page can show it
beside the case without running anything. Everything here reads that JSON, so a stored
blame and a fresh one are told the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workbench.diagnosis.probing import EditBlame
from workbench.store import BlameRow

BlameData = dict[str, Any]
"""``EditBlame.to_dict()``: baseline, run, probes, budget, estimate, cases."""


def save_blame(store: Engine, found: EditBlame) -> None:
    row = BlameRow(
        run_id=found.run_id,
        baseline_id=found.baseline_id,
        created=datetime.now(UTC),
        result=json.dumps(found.to_dict(), ensure_ascii=False),
    )
    with Session(store) as session:
        session.add(row)
        session.commit()


def load_blame(store: Engine, run_id: str, baseline_id: str) -> BlameData | None:
    """The latest blame of ``run_id`` against ``baseline_id``; None when there is none."""
    with Session(store) as session:
        row = session.exec(
            select(BlameRow)
            .where(BlameRow.run_id == run_id, BlameRow.baseline_id == baseline_id)
            .order_by(col(BlameRow.id).desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    try:
        data: BlameData = json.loads(row.result)
    except ValueError:
        return None  # a damaged row blames nothing; blame again to replace it
    return data


def case_line(case: dict[str, Any], data: BlameData) -> str:
    """``broken by 06_sql.md hunk 2, lines 40–44`` (or fixed by, not reproduced, …)."""
    verb = "fixed by" if case["change"] == "fixed" else "broken by"
    places = " + ".join(f"{h['file']} hunk {h['number']}, {h['lines']}" for h in case["hunks"])
    if case["status"] == "found":
        return f"{verb} {places}"
    if case["status"] == "not reproduced":
        return "not reproduced: the flip did not recur with every hunk applied (noise)"
    return (
        f"budget ran out after {data['probes']} probes: {verb} some of {places} "
        "(raise --blame-budget to narrow it down)"
    )


def case_details(case: dict[str, Any]) -> str:
    """The blamed hunks as diffs (nothing when no hunk is blamed)."""
    if case["status"] != "found":
        return ""
    return "".join(h["diff"] for h in case["hunks"])


def format_blame(data: BlameData) -> str:
    """Every flipped case's line with its hunks as diffs, then the probes spent."""
    if "error" in data:
        return f"edit blame could not run: {data['error']}"
    if not data["cases"]:
        return f"edit blame: no case flipped against {data['baseline']}, nothing to blame"
    lines = [
        f"edit blame against {data['baseline']}: {data['probes']} probes of a budget of "
        f"{data['budget']} (estimated {data['estimate']}), {data['hunks_in_edit']} hunks in the edit"
    ]
    for case_id, case in data["cases"].items():
        lines.append(f"  {case_id}: {case_line(case, data)}")
        details = case_details(case)
        if details:
            lines += ["    " + line for line in details.rstrip("\n").split("\n")]
    return "\n".join(lines)


def junit_blame(data: BlameData | None) -> dict[str, tuple[str, str]]:
    """case id -> (line, diffs) for ``write_junit``."""
    if not data or "error" in data:
        return {}
    return {
        case_id: (f"edit blame: {case_line(case, data)}", case_details(case))
        for case_id, case in data["cases"].items()
    }
