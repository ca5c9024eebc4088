"""Is "+2 fixed, -1 regressed" signal or noise? A paired test on two runs' flips.

Two runs of the same cases are paired data: each case either kept its outcome or
flipped. Only the flips (the discordant pairs) carry evidence about which run is
better, and under "the edit changed nothing" a flip is as likely to go either way. So
the exact two-sided sign test on fixes against regressions (the exact McNemar test) is
the right question to ask, and it needs nothing but ``math.comb``: a handful of flips
is exactly where a normal approximation misleads.

A flip may be *uncertain*: not necessarily the edit's doing (the smoke suite decides
which, in ``workbench.smoke.compare.uncertainty``: a flaky side, a low logprob margin
where the runs part ways). The test is reported on every flip and again with the
uncertain ones left out, so a verdict that rests on coin-flip cases shows as such. The
statistics know nothing of runs: a flip is a case id, a direction and its doubts.

Re-asking uncertain flips to settle them is a later step; ``paired_test`` takes it as
``settle`` (see ``Settle``), and without one the flips are counted as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workbench.markup import escape

ALPHA = 0.05
"""The significance level of the summary and of ``--fail-on-significant-regression``."""
TEST_NAME = "exact sign test"

Direction = Literal["fix", "regression"]


def sign_test_p(fixes: int, regressions: int) -> float:
    """The exact two-sided sign-test p-value of ``fixes`` against ``regressions``.

    p = min(1, 2 * sum_{k <= min(b, c)} C(b + c, k) / 2^(b + c)); 1 with no flips, since
    no flip is no evidence either way.
    """
    if fixes < 0 or regressions < 0:
        raise ValueError("counts of flips cannot be negative")
    n = fixes + regressions
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(fixes, regressions) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class Flip:
    """One case whose pass/not-pass outcome differs between the two runs."""

    case_id: str
    direction: Direction
    uncertain: tuple[str, ...] = ()
    """Why this flip may be noise rather than the change (empty: it looks real)."""


Settle = Callable[[Flip], Flip | None]
"""Re-examines one uncertain flip: the flip confirmed (``uncertain`` emptied), or None
when it did not reproduce. The boundary where automatic re-asking will plug in."""


@dataclass(frozen=True)
class SignTest:
    """Fixes against regressions and the exact two-sided p-value."""

    fixes: int
    regressions: int

    @property
    def p_value(self) -> float:
        return sign_test_p(self.fixes, self.regressions)

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def significant_regression(self) -> bool:
        """More regressions than fixes, and more than noise explains."""
        return self.regressions > self.fixes and self.significant

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixes": self.fixes,
            "regressions": self.regressions,
            "p_value": self.p_value,
            "significant": self.significant,
        }


@dataclass(frozen=True)
class PairedTest(SignTest):
    """The sign test on every flip, plus the same test without the uncertain ones."""

    flips: tuple[Flip, ...] = ()

    @property
    def uncertain(self) -> tuple[str, ...]:
        """The case ids of the uncertain flips."""
        return tuple(f.case_id for f in self.flips if f.uncertain)

    @property
    def without_uncertain(self) -> SignTest:
        return count_flips(f for f in self.flips if not f.uncertain)

    def describe(self) -> str:
        """The verdict in words, e.g. "2 regressions, 0 fixes — not distinguishable from
        noise (exact sign test, p = 0.50; 1 of the flips uncertain)"."""
        judged = "distinguishable" if self.significant else "not distinguishable"
        detail = f"{TEST_NAME}, {_p_words(self.p_value)}"
        if not self.uncertain:
            return f"{_counts_words(self)} — {judged} from noise ({detail})"
        rest = self.without_uncertain
        flips = "flip" if len(self.flips) == 1 else "flips"
        return (
            f"{_counts_words(self)} — {judged} from noise ({detail}; "
            f"{len(self.uncertain)} of the {flips} uncertain); without the uncertain: "
            f"{_counts_words(rest)}, {_p_words(rest.p_value)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": TEST_NAME,
            "alpha": ALPHA,
            **super().to_dict(),
            "uncertain": list(self.uncertain),
            "uncertain_reasons": {f.case_id: list(f.uncertain) for f in self.flips if f.uncertain},
            "without_uncertain": self.without_uncertain.to_dict(),
            "summary": self.describe(),
        }


def count_flips(flips: Iterable[Flip]) -> SignTest:
    """The sign test on these flips."""
    flips = list(flips)
    return SignTest(
        fixes=sum(f.direction == "fix" for f in flips),
        regressions=sum(f.direction == "regression" for f in flips),
    )


def paired_test(flips: Sequence[Flip], *, settle: Settle | None = None) -> PairedTest:
    """The paired test on two runs' flips.

    ``settle``, when given, re-examines each uncertain flip first (``Settle``); a flip
    it drops leaves the count, one it confirms counts as certain.
    """
    kept = list(flips)
    if settle is not None:
        settled = [settle(f) if f.uncertain else f for f in kept]
        kept = [f for f in settled if f is not None]
    counts = count_flips(kept)
    return PairedTest(fixes=counts.fixes, regressions=counts.regressions, flips=tuple(kept))


def format_p(p: float) -> str:
    """Two decimals (0.50); two significant digits under 0.1 (0.022, 0.0078), so that a
    p near the 0.05 line is not rounded onto the other side of it."""
    if p < 0.001:
        return "< 0.001"
    return f"{p:.2f}" if p >= 0.1 else f"{p:.2g}"


def _counts_words(test: SignTest) -> str:
    regressions = "regression" if test.regressions == 1 else "regressions"
    fixes = "fix" if test.fixes == 1 else "fixes"
    return f"{test.regressions} {regressions}, {test.fixes} {fixes}"


def _p_words(p: float) -> str:
    shown = format_p(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def paired_test_html(test: PairedTest) -> str:
    """The verdict and the uncertain flips as HTML for the Smoke page, case ids escaped
    (they come from the case files)."""
    html = f"<b>Signal or noise?</b> {escape(test.describe())}"
    uncertain = [
        f"<code>{escape(f.case_id)}</code> ({escape('; '.join(f.uncertain))})"
        for f in test.flips
        if f.uncertain
    ]
    if uncertain:
        html += "<br>Uncertain flips: " + ", ".join(uncertain)
    return html
