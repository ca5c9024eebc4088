"""The run summary for people and --json, and the JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd

from tests.smoke_records import record, result
from workbench.smoke.report import format_run, junit_xml, results_frame, run_summary, write_junit


def sample():
    return record(
        "r1",
        [result("c1", "pass"), result("c2", "fail"), result("c3", "flaky", category="messy"),
         result("c4", "error")],
        case_ids=["c1", "c2", "c3", "c4", "c5"],
    )  # fmt: skip


def test_json_summary_has_the_counts_and_each_case() -> None:
    data = run_summary(sample())
    assert {k: data[k] for k in ("run_id", "cases", "passed", "failed", "flaky", "errors")} == {
        "run_id": "r1", "cases": 5, "passed": 1, "failed": 1, "flaky": 1, "errors": 1,
    }  # fmt: skip
    assert data["pending"] == 1 and data["wall_s"] == 30.0
    flaky = next(r for r in data["results"] if r["case"] == "c3")
    assert flaky["divergence"] == {"stage": "query", "stage_order": 3, "position": 2,
                                   "unit": "token", "margin": 1.0}  # fmt: skip


def test_people_see_the_counts_the_cases_that_did_not_pass_and_how_to_resume() -> None:
    lines = format_run(sample()).splitlines()
    assert lines[1] == "passed 1 · failed 1 · flaky 1 · errors 1 · 30.0 s"
    assert "  FAIL  c2: fail: because" in lines
    assert not any("c1" in line for line in lines)
    assert lines[-1] == "1 cases not run; finish with `python -m workbench smoke run --resume r1`"


def test_junit_counts_flaky_as_failures_and_lists_cases_not_run(tmp_path) -> None:
    path = write_junit(sample(), tmp_path / "out" / "smoke.xml")
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "5", "2", "1", "1",
    )  # fmt: skip
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["c1"].find("failure") is None and cases["c1"].find("error") is None
    assert cases["c3"].find("failure").get("type") == "flaky"
    assert cases["c3"].get("classname") == "smoke.messy"
    assert cases["c4"].find("error").get("message") == "error: because"
    assert cases["c5"].find("skipped") is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["prompt_set_hash"] == "p1" and props["repeats"] == "2"
    assert junit_xml(sample()).startswith('<?xml version="1.0" encoding="utf-8"?>')


def test_the_results_table_links_each_trace_and_the_flaky_repeats_to_the_run_page() -> None:
    from urllib.parse import parse_qsl, urlsplit

    def query(link: str) -> dict[str, str]:
        assert urlsplit(link).path == "run"
        return dict(parse_qsl(urlsplit(link).query))

    frame = results_frame(sample()).set_index("case")
    c3 = next(r for r in sample().results if r.case_id == "c3")
    first, second = c3.trace_ids
    assert first != second
    assert query(frame.loc["c3", "trace"]) == {"trace": first}
    assert query(frame.loc["c3", "compare repeats"]) == {"a": first, "b": second}
    assert pd.isna(frame.loc["c1", "compare repeats"])  # repeats agree: nothing to compare
    assert query(frame.loc["c1", "trace"]) == {"trace": "trace-pass-Show q"}
