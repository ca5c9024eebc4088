"""The paired sign test on two runs' flips, and which flips count as uncertain."""

from __future__ import annotations

import math

import pytest

from tests.smoke_records import record, result
from workbench.diagnosis.noise import (
    ALPHA,
    Flip,
    format_p,
    paired_test,
    paired_test_html,
    sign_test_p,
)
from workbench.pipeline.view import LOW_MARGIN_NATS
from workbench.smoke.compare import compare_smoke_runs, format_comparison, uncertainty
from workbench.smoke.results import DivergencePoint


@pytest.mark.parametrize(
    ("fixes", "regressions", "p"),
    [(0, 5, 0.0625), (5, 0, 0.0625), (1, 9, 0.021484375), (4, 4, 1.0), (7, 6, 1.0), (0, 0, 1.0),
     (0, 1, 1.0), (2, 10, 0.0385742)],
)  # fmt: skip
def test_sign_test_p_matches_known_values(fixes, regressions, p) -> None:
    assert math.isclose(sign_test_p(fixes, regressions), p, rel_tol=1e-6)


def test_sign_test_p_refuses_negative_counts() -> None:
    with pytest.raises(ValueError):
        sign_test_p(-1, 2)


@pytest.mark.parametrize(
    ("p", "shown"), [(1.0, "1.00"), (0.5, "0.50"), (0.0215, "0.021"), (0.0499, "0.05"),
                     (0.0078125, "0.0078"), (0.0004, "< 0.001")],
)  # fmt: skip
def test_format_p_keeps_small_values_visible(p, shown) -> None:
    assert format_p(p) == shown


def regressions(n: int, *, uncertain: int = 0) -> list[Flip]:
    return [
        Flip(f"r{i}", "regression", ("flaky in the baseline",) if i < uncertain else ())
        for i in range(n)
    ]


def test_two_regressions_are_not_distinguishable_from_noise() -> None:
    test = paired_test(regressions(2, uncertain=1))
    assert (test.fixes, test.regressions, test.p_value) == (0, 2, 0.5)
    assert not test.significant and not test.significant_regression
    assert test.uncertain == ("r0",)
    assert test.describe() == (
        "2 regressions, 0 fixes — not distinguishable from noise (exact sign test, p = 0.50; "
        "1 of the flips uncertain); without the uncertain: 1 regression, 0 fixes, p = 1.00"
    )


def test_eight_regressions_are_distinguishable_from_noise() -> None:
    test = paired_test(regressions(8) + [Flip("f", "fix")])
    assert test.p_value < ALPHA and test.significant_regression
    assert test.describe() == (
        "8 regressions, 1 fix — distinguishable from noise (exact sign test, p = 0.039)"
    )


def test_many_fixes_are_significant_but_no_significant_regression() -> None:
    test = paired_test([Flip(f"f{i}", "fix") for i in range(6)])
    assert test.significant and not test.significant_regression
    assert "0 regressions, 6 fixes — distinguishable" in test.describe()


def test_leaving_uncertain_flips_out_can_change_the_verdict() -> None:
    test = paired_test(regressions(6, uncertain=3))
    assert test.significant  # p = 0.031
    assert not test.without_uncertain.significant  # 3 regressions: p = 0.25
    assert test.to_dict()["without_uncertain"] == {
        "fixes": 0, "regressions": 3, "p_value": 0.25, "significant": False,
    }  # fmt: skip


def test_settle_drops_or_confirms_uncertain_flips_only() -> None:
    seen: list[str] = []

    def settle(flip: Flip) -> Flip | None:
        seen.append(flip.case_id)
        return None if flip.case_id == "r0" else Flip(flip.case_id, flip.direction)

    test = paired_test(regressions(4, uncertain=2), settle=settle)
    assert seen == ["r0", "r1"]
    assert (test.regressions, test.uncertain) == (3, ())


def test_a_flaky_baseline_or_a_low_margin_makes_a_flip_uncertain() -> None:
    assert uncertainty(result("c", "flaky"), result("c", "fail"), None) == (
        "flaky in the baseline",
    )
    assert uncertainty(result("c", "pass"), result("c", "flaky"), None) == ("flaky in the new run",)
    assert uncertainty(result("c", "pass"), result("c", "fail"), None) == ()

    at = DivergencePoint("stage", "query", 3, "Query normalizer", 0, 0, 2, "token", 0.2, 3.0)
    assert uncertainty(result("c", "pass"), result("c", "fail"), at) == (
        "low margin (0.20) at stage 3 (Query normalizer)",
    )
    # No token margin at the divergence: the stage's lowest margin in either run decides.
    words = DivergencePoint("stage", "query", 3, "Query normalizer", 0, 0, 2, "word")
    low = result("c", "fail", margin=LOW_MARGIN_NATS / 2)
    assert uncertainty(result("c", "pass"), low, words) == (
        "low margin (0.50) at stage 3 (Query normalizer)",
    )
    assert uncertainty(result("c", "pass"), result("c", "fail"), words) == ()  # margin 1.0


def test_a_comparison_carries_the_test_in_words_and_in_json() -> None:
    before = record("a", [result("c1", "pass"), result("c2", "pass"), result("c3", "flaky"),
                          result("c4", "fail"), result("c5", "fail")])  # fmt: skip
    after = record("b", [result("c1", "fail", query="Other"), result("c2", "error"),
                         result("c3", "fail"), result("c4", "error"), result("c6", "pass")])  # fmt: skip
    comparison = compare_smoke_runs(before, after)
    # c1, c2 regressed; c3 flaky -> fail and c4 fail -> error are no flips; c5/c6 one run only
    test = comparison.paired_test
    assert (test.fixes, test.regressions, test.uncertain) == (0, 2, ())
    assert not comparison.significant_regression and comparison.regressed
    text = format_comparison(comparison)
    assert (
        "2 regressions, 0 fixes — not distinguishable from noise (exact sign test, p = 0.50)"
        in text
    )
    data = comparison.to_dict()
    assert data["paired_test"] | {"summary": ""} == {
        "test": "exact sign test", "alpha": 0.05, "fixes": 0, "regressions": 2, "p_value": 0.5,
        "significant": False, "uncertain": [], "uncertain_reasons": {},
        "without_uncertain": {"fixes": 0, "regressions": 2, "p_value": 0.5,
                              "significant": False},
        "summary": "",
    }  # fmt: skip
    assert data["significant_regression"] is False


def test_a_flip_from_a_flaky_baseline_case_is_marked_uncertain() -> None:
    before = record("a", [result("c1", "flaky"), result("c2", "pass")])
    after = record("b", [result("c1", "pass"), result("c2", "fail", query="Other")])
    comparison = compare_smoke_runs(before, after)
    assert [(c.case_id, c.direction, c.uncertain) for c in comparison.cases] == [
        ("c2", "regression", ()),
        ("c1", "fix", ("flaky in the baseline",)),
    ]
    assert comparison.paired_test.uncertain == ("c1",)
    assert comparison.to_dict()["paired_test"]["uncertain_reasons"] == {
        "c1": ["flaky in the baseline"]
    }
    text = format_comparison(comparison)
    assert "no longer flaky: c1 flaky -> pass [uncertain: flaky in the baseline]" in text
    assert "1 of the flips uncertain); without the uncertain: 1 regression, 0 fixes" in text


def test_a_quick_check_does_not_count_a_flaky_baseline_case() -> None:
    before = record("a", [result("c1", "flaky")])
    after = record("b", [result("c1", "pass")], mode="quick", baseline="a")
    comparison = compare_smoke_runs(before, after)
    assert comparison.cases[0].change == "unchanged"
    assert comparison.paired_test.flips == ()


def test_the_page_html_escapes_case_ids() -> None:
    test = paired_test([Flip("<b>x</b>", "fix", ("flaky in the baseline",)), Flip("y", "fix")])
    html = paired_test_html(test)
    assert html.startswith("<b>Signal or noise?</b> 0 regressions, 2 fixes — not distinguishable")
    assert "<b>x</b>" not in html and "&lt;b&gt;x" in html
    assert "Uncertain flips: <code>" in html and "(flaky in the baseline)" in html
    assert "Uncertain" not in paired_test_html(paired_test([Flip("y", "fix")]))


def test_a_comparisons_flips_can_be_settled_later() -> None:
    before = record("a", [result("c1", "flaky"), result("c2", "pass")])
    after = record("b", [result("c1", "pass"), result("c2", "fail", query="Other")])
    flips = compare_smoke_runs(before, after).flips
    assert [(f.case_id, f.direction) for f in flips] == [("c2", "regression"), ("c1", "fix")]
    settled = paired_test(flips, settle=lambda flip: None)  # c1 did not reproduce
    assert (settled.fixes, settled.regressions, settled.uncertain) == (0, 1, ())
