"""Edit blame's ddmin against a scripted probe: minimal sets, shared and memoized probes,
noise, and the budget."""

from __future__ import annotations

from collections.abc import Callable

from workbench.diagnosis.blame import blame, estimate_probes

Rule = Callable[[frozenset[int]], bool]


class ScriptedProbe:
    """Each case fails when its rule holds for the applied hunks; records every probe."""

    def __init__(self, rules: dict[str, Rule], fixed: tuple[str, ...] = ()):
        self.rules = rules
        self.fixed = fixed
        self.probed: list[tuple[frozenset[int], frozenset[str]]] = []

    def __call__(self, subset: frozenset[int], cases: frozenset[str]) -> dict[str, str]:
        self.probed.append((subset, cases))
        verdicts = {}
        for case in cases:
            flipped = self.rules[case](subset)
            if case in self.fixed:
                verdicts[case] = "pass" if flipped else "fail"
            else:
                verdicts[case] = "fail" if flipped else "pass"
        return verdicts


def test_each_case_gets_its_own_minimal_hunks_from_shared_probes() -> None:
    probe = ScriptedProbe({"A": lambda s: 2 in s, "B": lambda s: {1, 3} <= s})
    result = blame([1, 2, 3, 4], {"A": "new failure", "B": "new failure"}, probe)

    assert result.cases["A"].hunks == (2,) and result.cases["A"].status == "found"
    assert result.cases["B"].hunks == (1, 3) and result.cases["B"].status == "found"
    subsets = [s for s, _ in probe.probed]
    assert len(subsets) == len(set(subsets)) == result.probes  # never probed twice
    assert subsets[0] == frozenset({1, 2, 3, 4})
    assert probe.probed[0][1] == frozenset({"A", "B"})  # the first probes serve both


def test_a_fix_is_blamed_on_the_hunk_that_makes_it_pass() -> None:
    probe = ScriptedProbe({"C": lambda s: 5 in s}, fixed=("C",))
    result = blame(range(1, 9), {"C": "fixed"}, probe)
    assert result.cases["C"].hunks == (5,)
    expected, _ = estimate_probes(8, 1)
    assert result.probes <= expected == result.estimate


def test_a_flip_that_does_not_recur_with_every_hunk_is_noise() -> None:
    probe = ScriptedProbe({"A": lambda s: False, "B": lambda s: 1 in s})
    result = blame([1, 2], {"A": "new failure", "B": "new failure"}, probe)
    assert result.cases["A"].status == "not reproduced" and result.cases["A"].hunks == ()
    assert result.cases["B"].hunks == (1,)
    assert all("A" not in cases for _, cases in probe.probed[1:])  # a settled case is not run


def test_when_the_budget_runs_out_the_best_set_so_far_is_kept() -> None:
    probe = ScriptedProbe({"A": lambda s: 7 in s})
    result = blame(range(1, 17), {"A": "new failure"}, probe, budget=3)
    assert result.probes == 3
    found = result.cases["A"]
    assert found.status == "budget ran out"
    assert 7 in found.hunks and len(found.hunks) < 16


def test_a_budget_of_nothing_probes_nothing() -> None:
    probe = ScriptedProbe({"A": lambda s: True})
    result = blame([1, 2], {"A": "new failure"}, probe, budget=0)
    assert probe.probed == [] and result.cases["A"].status == "budget ran out"
    assert result.cases["A"].hunks == (1, 2)


def test_one_hunk_takes_one_probe() -> None:
    probe = ScriptedProbe({"A": lambda s: 4 in s})
    result = blame([4], {"A": "new failure"}, probe)
    assert result.cases["A"].hunks == (4,) and result.probes == 1


def test_the_estimate_grows_with_the_halvings_and_the_worst_case_bounds_it() -> None:
    assert estimate_probes(1, 3) == (1, 1)
    expected, worst = estimate_probes(16, 2)
    assert expected == 1 + 2 * 2 * 4 and worst >= expected
