"""Cases against the example bank: a case whose question is (nearly) a bank entry's.

A run never shows a case its own entry (``workbench.prompts.bank.nearest`` leaves out
any entry that is nearly the question asked), so the verdict stays honest; but the case
then measures less than its author thinks, and the entry teaches nothing the case does
not already check. ``smoke check`` names each such pair so that one of the two moves.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.cases.suite import SmokeCase
from workbench.prompts import StagePrompt, near_duplicates


def bank_overlaps(prompts: Iterable[StagePrompt], cases: Iterable[SmokeCase]) -> list[str]:
    """One warning per case whose question is nearly an entry of a bank the prompts use."""
    questions = [(case.id, case.question) for case in cases]
    sources = {case.id: case.source for case in cases}
    seen: set[tuple[str, str]] = set()
    warnings = []
    for prompt in prompts:
        if prompt.bank is None:
            continue
        for case_id, entry, score in near_duplicates(prompt.bank, questions):
            if (case_id, entry.source) in seen:
                continue
            seen.add((case_id, entry.source))
            where = f" ({sources[case_id]})" if sources.get(case_id) else ""
            warnings.append(
                f"{case_id}{where}: its question is {score:.0f}% the example at "
                f"{entry.source}; a run never shows a case its own example, but move one of "
                "the two so that each measures something"
            )
    return warnings
