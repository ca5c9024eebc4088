"""Pipeline variants end to end: ``smoke run --variant`` and ``smoke ablation`` against a
scripted HTTP server, reusing the baseline's answers before the first changed stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.commands.test_smoke import ARGS, run_json, server  # noqa: F401 - the fixture
from tests.smoke_script import CASES, NOISE, QUERY, STAGE_BY_ORDER
from workbench.cli import main
from workbench.experiments.ablation import (
    ablation_figure,
    ablation_frame,
    stored_ablation,
    variant_runs,
)
from workbench.prompts import load_prompt_set
from workbench.settings import PROJECT_ROOT, load_settings
from workbench.store import open_store

SIMPLE_002, SIMPLE_003, _ = CASES
DATES, REFERENCE, CLEANUP = STAGE_BY_ORDER[1], STAGE_BY_ORDER[4], STAGE_BY_ORDER[5]
CHATTY = SIMPLE_002.question + " Thanks!"


@pytest.fixture
def prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", folder)
    monkeypatch.setenv("WORKBENCH_PROMPTS_DIR", str(folder))
    return folder


def full_run(server, capsys) -> str:  # noqa: F811
    """A baseline whose noise removal changed simple-002's text (so the stages after it are
    asked again without it) and left simple-003's alone (so they are reused)."""
    script = server.script
    script.sql[CHATTY] = SIMPLE_002.gold_sql
    for call in (1, 2):
        script.plant(NOISE, SIMPLE_002.question, CHATTY, call=call)
    code, full = run_json(capsys, *ARGS)
    assert code == 0 and full["passed"] == 2
    return full["run_id"]


def test_leaving_out_a_stage_reuses_the_stages_before_it(server, capsys, prompts):  # noqa: F811
    baseline = full_run(server, capsys)
    calls = server.script.calls.copy()
    argv = ["--quick", "--baseline", baseline, "--variant", "no-noise-removal"]
    assert main(["smoke", "run", *argv, "--estimate"]) == 0
    captured = capsys.readouterr()
    assert "pipeline variant no-noise-removal" in captured.err
    # the noise stage is gone from both cases; from the query normalizer on, stages are priced
    assert "2–8 of 12 stages to compute" in captured.out

    code, quick = run_json(capsys, *argv)
    assert code == 0 and quick["passed"] == 2
    assert quick["manifest"]["variant"]["name"] == "no-noise-removal"
    assert quick["manifest"]["variant"]["leave_out"] == [NOISE]
    asked = server.script.calls - calls
    assert asked[(DATES, SIMPLE_002.question)] == 0  # before the left-out stage: reused
    assert asked[(DATES, SIMPLE_003.question)] == 0
    assert sum(n for (stage, _), n in asked.items() if stage == NOISE) == 0
    assert asked[(QUERY, SIMPLE_002.question)] == 1  # its input changed: asked again
    assert asked[(QUERY, SIMPLE_003.question)] == 0  # the same request as the baseline's
    reused = {r["case"]: r["reused_stages"] for r in quick["results"]}
    assert reused["simple-003"] == 4 and reused["simple-002"] == 0


def test_a_refused_variant_says_which_stage_needs_what(server, capsys, prompts):  # noqa: F811
    argv = ["smoke", "run", "--leave-out", "sql_generation", *ARGS]
    assert main(argv) != 0
    assert "leaving out sql_generation leaves nothing to judge" in capsys.readouterr().err
    assert server.script.calls == {}


def test_ablation_runs_each_leave_one_out_and_a_listed_merge(server, capsys, prompts):  # noqa: F811
    baseline = full_run(server, capsys)
    argv = ["smoke", "ablation", "--baseline", baseline, "--variant", "merge-reference-cleanup"]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    table = json.loads(captured.out)
    assert "no-noise" not in captured.err and "about " in captured.err  # estimates first
    names = [row["variant"] for row in table["variants"]]
    assert names == [
        f"without {DATES}", f"without {NOISE}", f"without {QUERY}", f"without {REFERENCE}",
        f"without {CLEANUP}", "merge-reference-cleanup",
    ]  # fmt: skip
    assert set(table["not_left_out"]) == {"sql_generation", "narrative"}
    full = table["baseline"]
    assert full["pass_rate"] == 1.0 and full["flaky_rate"] == 0.0 and full["cases"] == 2
    for row in table["variants"]:
        assert row["pass_rate"] == 1.0 and row["broken"] == [] and row["p_value"] == 1.0
        assert row["reused"] > 0 and 0 < row["reuse_ratio"] <= 1
    without_noise = table["variants"][1]
    assert NOISE not in without_noise["budget"] and set(without_noise["budget"]) >= {QUERY}
    # simple-002: query, reference, cleanup and SQL asked again; both date stages ran in
    # Python (nothing left for the model to restate): no model call, so not counted
    assert without_noise["calls"] == 4
    merged = table["variants"][-1]
    assert CLEANUP not in merged["budget"]
    assert any("gate1" in note for note in merged["notes"])

    assert main([*argv, "--only-listed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("full pipeline (run ")
    assert "merge-reference-cleanup (run " in out and "reused" in out and "budget: " in out

    # The Smoke page's section reads the same table back from the store.
    store = open_store(load_settings())
    stored = variant_runs(store)[baseline]
    assert list(stored)[0] == "merge-reference-cleanup"  # newest first
    table_again = stored_ablation(store, baseline, stored, load_prompt_set(prompts))
    assert {row.variant for row in table_again.rows} == set(names)
    frame = ablation_frame(table_again)
    assert list(frame["pipeline"])[0] == "full pipeline" and len(frame) == len(names) + 1
    assert ablation_figure(table_again).layout.title.text.startswith("Which stages earn")
