"""Edit blame: which hunks of an edit flipped a case, by delta debugging.

After a quick check names regressions and fixes, the next question is which part of the
edit did it. Zeller's ddmin answers it with probes: run the flipped cases with the
baseline's prompts plus only a subset of the edit's hunks (``workbench.diagnosis.hunks``),
and keep shrinking the subset while the flip still happens. What comes out is a subset
of which no single part can be dropped (1-minimal), usually the one or two hunks to look at.

The search here is pure: ``probe(subset, cases)`` is injected and returns each case's
verdict, so the logic is tested with a scripted probe and run for real by
``workbench.diagnosis.probing``. Every flipped case runs its own ddmin, but they share
probes: a subset is probed once, for every case still searching, and never again (the
ddmin of every case starts with the same halves, so that saves most of the work).

The budget counts probes, not model calls: a probe is one quick check of the cases still
searching, and what it costs in calls depends on which stages its hunks touch and on
what is reused, which is unknown before it runs; probes are what ddmin decides and what
the memo saves, so that is what the budget can hold to. The first probe applies every
hunk: when that does not flip the case again, the flip was noise ("not reproduced").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["found", "not reproduced", "budget ran out"]
Subset = frozenset[int]
Probe = Callable[[Subset, frozenset[str]], Mapping[str, str]]
"""``probe(hunk ids applied, case ids) -> {case id: verdict}`` (pass, fail, error, …)."""

DEFAULT_BUDGET = 24
"""Probes: enough for one culprit among about 2**10 hunks for several cases at once."""

FAILING = ("fail", "error")


def reproduces(change: str, verdict: str | None) -> bool:
    """Whether a probe's verdict shows the flip again: a new failure fails or errors, a fix
    passes. A case the probe did not judge (``None``) shows nothing."""
    if change == "fixed":
        return verdict == "pass"
    return verdict in FAILING


@dataclass(frozen=True)
class CaseBlame:
    """One flipped case's answer.

    Args:
        change: ``new failure`` or ``fixed``, as the comparison called it.
        hunks: the minimal hunk ids (``found``), the smallest set seen to flip it so far
            (``budget ran out``; all hunks when not even the first probe ran), or none.
    """

    case_id: str
    change: str
    status: Status
    hunks: tuple[int, ...]


@dataclass(frozen=True)
class BlameResult:
    cases: dict[str, CaseBlame]
    probes: int
    budget: int
    estimate: int


def estimate_probes(hunks: int, cases: int) -> tuple[int, int]:
    """(expected, worst) probe counts: one hunk to blame per case costs about two probes
    per halving after the first; ddmin's worst case is quadratic in the hunks per case."""
    if hunks <= 1:
        return 1, 1
    expected = 1 + cases * 2 * math.ceil(math.log2(hunks))
    distinct = 2**hunks - 1 if hunks < 30 else math.inf
    worst = int(min(1 + cases * (hunks * hunks + 3 * hunks), distinct))
    return min(expected, worst), worst


Search = Generator[Subset, bool, Status]


class _Ddmin:
    """One case's ddmin as a coroutine: it yields the subset it wants probed and is sent
    whether the flip recurred; ``best`` is the smallest subset seen to flip it."""

    def __init__(self, hunks: Sequence[int]):
        self.best: tuple[int, ...] = tuple(hunks)
        self.steps: Search = self._search(list(hunks))

    def _search(self, current: list[int]) -> Search:
        if not (yield frozenset(current)):
            return "not reproduced"
        n = 2
        while len(current) >= 2:
            chunks = _split(current, n)
            found: list[int] | None = None
            for chunk in chunks:
                if (yield frozenset(chunk)):
                    found, n_next = chunk, 2
                    break
            if found is None and n > 2:  # with two chunks the complements are the chunks
                for i in range(len(chunks)):
                    rest = [h for j, chunk in enumerate(chunks) if j != i for h in chunk]
                    if (yield frozenset(rest)):
                        found, n_next = rest, max(n - 1, 2)
                        break
            if found is not None:
                current, n = found, n_next
                self.best = tuple(current)
            elif n >= len(current):
                break
            else:
                n = min(2 * n, len(current))
        return "found"


def _split(items: list[int], n: int) -> list[list[int]]:
    """``items`` in ``n`` nearly equal consecutive chunks."""
    size, extra = divmod(len(items), n)
    chunks, at = [], 0
    for i in range(n):
        end = at + size + (1 if i < extra else 0)
        chunks.append(items[at:end])
        at = end
    return [c for c in chunks if c]


def blame(
    hunk_ids: Iterable[int],
    flips: Mapping[str, str],
    probe: Probe,
    budget: int = DEFAULT_BUDGET,
) -> BlameResult:
    """The minimal hunk set of each flipped case (``flips``: case id -> change).

    Each probe runs the cases still searching; its verdicts are kept by subset, so a
    subset another case asks for later is answered from the memo.
    """
    hunks = sorted(set(hunk_ids))
    searches = {case: _Ddmin(hunks) for case in flips}
    asks = {case: next(s.steps) for case, s in searches.items()}
    memo: dict[Subset, Mapping[str, str]] = {}
    done: dict[str, CaseBlame] = {}
    probes = 0
    while asks:
        for case in _answerable(asks, memo):
            verdict = memo[asks[case]].get(case)
            try:
                asks[case] = searches[case].steps.send(reproduces(flips[case], verdict))
            except StopIteration as stop:
                del asks[case]
                chosen = searches[case].best if stop.value == "found" else ()
                done[case] = CaseBlame(case, flips[case], stop.value, chosen)
        if not asks or _answerable(asks, memo):
            continue
        if probes >= budget:
            for case in asks:
                done[case] = CaseBlame(case, flips[case], "budget ran out", searches[case].best)
            break
        subset = _next_subset(asks)
        memo[subset] = probe(subset, frozenset(asks))
        probes += 1
    estimate, _ = estimate_probes(len(hunks), len(flips))
    return BlameResult({c: done[c] for c in flips}, probes, budget, estimate)


def _answerable(asks: Mapping[str, Subset], memo: Mapping[Subset, object]) -> list[str]:
    return [case for case, subset in asks.items() if subset in memo]


def _next_subset(asks: Mapping[str, Subset]) -> Subset:
    """The subset most cases are waiting for (then the smaller, then the lower ids)."""
    wanted = Counter(asks.values())
    return min(wanted, key=lambda s: (-wanted[s], len(s), sorted(s)))
