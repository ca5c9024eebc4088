"""Two runs side by side, the model matrix, and the plots' data."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.smoke_records import record, result
from workbench.pipeline.compare import compare_link
from workbench.smoke.compare import (
    classify,
    compare_smoke_runs,
    comparison_frame,
    format_comparison,
    model_matrix,
    variant_rates,
)
from workbench.smoke.plots import (
    category_figure,
    category_frame,
    divergence_frame,
    margin_figure,
    margin_frame,
    rates_figure,
    rates_frame,
)
from workbench.smoke.results import RunSummary, count_verdicts


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        ("pass", "fail", "new failure"),
        ("pass", "error", "new failure"),
        ("fail", "pass", "fixed"),
        ("error", "pass", "fixed"),
        ("pass", "flaky", "newly flaky"),
        ("fail", "flaky", "newly flaky"),
        ("flaky", "pass", "no longer flaky"),
        ("fail", "error", "unchanged"),
        ("pass", "pass", "unchanged"),
        (None, "pass", "added"),
        ("pass", None, "removed"),
    ],
)
def test_classify(before, after, change) -> None:
    assert classify(before, after) == change


def test_compare_names_each_change_and_where_the_runs_first_differ() -> None:
    before = record("a", [result("c1", "pass"), result("c2", "fail"), result("c3", "flaky"),
                          result("c4", "pass")])  # fmt: skip
    after = record("b", [result("c1", "fail", query="Show other"), result("c2", "pass"),
                         result("c3", "pass"), result("c4", "pass"), result("c5", "pass")],
                   minutes=5, prompt_hash="p2")  # fmt: skip
    comparison = compare_smoke_runs(before, after)

    assert [(c.case_id, c.change) for c in comparison.cases] == [
        ("c1", "new failure"), ("c2", "fixed"), ("c3", "no longer flaky"), ("c4", "unchanged"),
        ("c5", "added"),
    ]  # fmt: skip
    c1 = comparison.cases[0]
    assert c1.first_difference.stage_id == "query"
    assert (c1.before_trace, c1.after_trace) == ("trace-pass-Show q", "trace-fail-Show other")
    assert comparison.cases[3].first_difference is None
    assert comparison.regressed and comparison.prompt_set_changed
    assert comparison.counts["fixed"] == 1
    text = format_comparison(comparison)
    assert "new failure: c1 pass -> fail; first differs at stage 3 (Query normalizer)" in text
    assert "REGRESSION" in text
    frame = comparison_frame(comparison)
    assert list(frame["case"]) == ["c1", "c2", "c3", "c5"]
    assert frame["compare"][0] == compare_link(c1.before_trace, c1.after_trace)
    assert pd.isna(frame["compare"][3])  # added: no trace before
    assert comparison.to_dict()["changed"][0]["traces"] == list((c1.before_trace, c1.after_trace))


def test_only_losing_a_pass_is_a_regression() -> None:
    before = record("a", [result("c1", "fail"), result("c2", "flaky")])
    after = record("b", [result("c1", "flaky"), result("c2", "fail")])
    assert not compare_smoke_runs(before, after).regressed
    assert compare_smoke_runs(after, record("c", [result("c1", "pass"), result("c2", "flaky")]))


def test_the_model_matrix_marks_cases_that_flipped() -> None:
    bf16 = record("bf16", [result("c1", "pass"), result("c2", "fail"), result("c3", "pass")])
    fp32 = record("fp32", [result("c1", "pass"), result("c2", "pass")],
                  case_ids=["c1", "c2", "c3"])  # fmt: skip
    matrix = model_matrix({"bf16": bf16, "fp32": fp32})
    assert list(matrix.columns) == ["case", "bf16", "fp32", "flipped"]
    assert matrix.to_dict("records") == [
        {"case": "c1", "bf16": "pass", "fp32": "pass", "flipped": False},
        {"case": "c2", "bf16": "fail", "fp32": "pass", "flipped": True},
        {"case": "c3", "bf16": "pass", "fp32": "not run", "flipped": False},
    ]
    rates = variant_rates({"bf16": bf16, "fp32": fp32})
    assert list(rates["pass rate"]) == pytest.approx([2 / 3, 1.0])
    assert list(rates["dtype"]) == ["bfloat16", "bfloat16"]


def test_plot_data() -> None:
    one = record("r1", [result("c1", "pass", category="simple"),
                        result("c2", "flaky", category="messy", margin=0.05),
                        result("c3", "fail", category="messy", margin=None)])  # fmt: skip
    two = record("r2", [result("c1", "pass"), result("c2", "pass", category="messy")], minutes=9)
    summaries = [
        RunSummary(r.id, r.created, r.status, r.label, len(r.case_ids),
                   count_verdicts(r.results, len(r.case_ids)))
        for r in (two, one)
    ]  # fmt: skip
    rates = rates_frame(summaries)
    assert list(rates["run"]) == ["r1", "r2"]
    assert list(rates["flaky rate"]) == pytest.approx([1 / 3, 0.0])
    categories = category_frame(one).set_index("category")
    assert categories.loc["messy", "pass rate"] == 0 and categories.loc["simple", "pass rate"] == 1
    assert divergence_frame([one, two]).to_dict("records") == [
        {"stage": "3 Query normalizer", "flaky cases": 1}
    ]
    margins = margin_frame([one])
    assert margins.set_index("case").loc["c2", "min margin"] == 0.05
    assert "c3" not in set(margins["case"])  # no logprobs, no point
    for figure in (rates_figure(summaries), category_figure(one), margin_figure([one])):
        assert figure.to_dict()["data"]
