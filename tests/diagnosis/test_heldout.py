"""The held-out guard: exports are recorded with near copies, runs score them apart, and a
case tagged held-out is exported only on request."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.smoke_records import manifest, result
from workbench.cases.suite import SmokeCase
from workbench.cli import main
from workbench.diagnosis.heldout import exposed_cases, record_export, split_by_exposure
from workbench.smoke.results import create_run, save_case_result, set_run_status
from workbench.store import open_store


def case(case_id: str, question: str, *tags: str) -> SmokeCase:
    return SmokeCase(
        id=case_id,
        question=question,
        as_of=date(2026, 3, 31),
        gold_sql="SELECT 1",
        tags=("simple", *tags),
        category="simple",
    )


SUITE = (
    case("simple-001", "How many labs are in the West region?"),
    case("simple-002", "how many labs are in the west region"),  # a near copy
    case("simple-003", "List every test of the blood work category."),
)


def test_an_export_records_its_cases_and_their_near_copies(settings) -> None:
    store = open_store(settings)
    questions = {c.id: c.question for c in SUITE}
    exposure = record_export(store, "run1", Path("t.jsonl"), ["simple-001"], questions)
    assert exposure == {"simple-001": "exported", "simple-002": "near simple-001"}
    assert exposed_cases(store) == exposure


def test_a_run_scores_exposed_and_never_exported_cases_apart() -> None:
    run = {"simple-001": "pass", "simple-002": "pass", "simple-003": "fail"}
    assert split_by_exposure(run, {}) is None
    split = split_by_exposure(run, {"simple-001": "exported", "simple-002": "near simple-001"})
    assert split is not None
    assert (split.exposed_passed, split.exposed, split.unseen_passed, split.unseen) == (2, 2, 0, 1)
    assert split.words().startswith(
        "cases a training set has seen: 2/2 pass (100%); never exported: 0/1 pass (0%)"
    )


HELD_OUT_CASE = """\
- id: simple-001
  question: How many labs are there?
  gold_sql: SELECT COUNT(*) FROM labs
  tags: [simple, held-out]
"""


def test_export_leaves_a_held_out_case_out_unless_asked(
    tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI: the case is refused by default, named, and exported with the flag."""
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "tags.yaml").write_text("simple: Category. One table.\nheld-out: Never trained on.\n")
    (cases / "simple.yaml").write_text(HELD_OUT_CASE)
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("WORKBENCH_CASES_DIR", str(cases))
    store = open_store(settings)
    run = create_run(store, manifest(), ("simple-001",))
    save_case_result(store, run, result("simple-001", "fail"))
    set_run_status(store, run, "done")
    capsys.readouterr()
    assert main(["smoke", "export", "--run", run, "-o", str(tmp_path / "t.jsonl"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["held_out_left_out"] == ["simple-001"]
    assert data["exported_cases"] == []
    main(["smoke", "export", "--run", run, "-o", str(tmp_path / "t.jsonl"), "--json",
          "--include-held-out"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["held_out_left_out"] == []
    assert data["skipped"] == ["simple-001: fail"]  # chosen now; not passing, so not written
