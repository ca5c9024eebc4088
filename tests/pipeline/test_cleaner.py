"""The rewrite cleaner: which line of a model's answer becomes a rewrite stage's output."""

from __future__ import annotations

import pytest

from workbench.pipeline.cleaner import clean_rewrite


@pytest.mark.parametrize(
    ("answer", "clean"),
    [
        ("Show CBC results", "Show CBC results"),
        ("  Output: Show CBC results\n\nI removed the greeting.", "Show CBC results"),
        ('"Show CBC results"', "Show CBC results"),
        ("\u201cShow CBC results\u201d", "Show CBC results"),
        ("\n\nAnswer:   \u201cShow x\u201d  ", "Show x"),
        ('Show "CBC" results', 'Show "CBC" results'),
        ("```\nInput: hi, CBC please\nOutput: Show CBC results\n```", "Show CBC results"),
        ("```\nShow CBC results\n```", "Show CBC results"),
        ("```", ""),
    ],
)
def test_clean_rewrite(answer: str, clean: str) -> None:
    assert clean_rewrite(answer) == clean
