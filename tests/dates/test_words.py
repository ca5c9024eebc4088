"""The tokens dates are read from."""

from __future__ import annotations

from workbench.dates.words import tokenize


def test_tokens_keep_offsets_and_kinds() -> None:
    text = "Since 01/15/2026, Q3 and 2025-01-01 (COVID-19, 15th)"
    tokens = tokenize(text)
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "Since"),
        ("mdy", "01/15/2026"),
        ("punct", ","),
        ("word", "Q3"),
        ("word", "and"),
        ("iso", "2025-01-01"),
        ("punct", "("),
        ("word", "COVID"),
        ("punct", "-"),
        ("num", "19"),
        ("punct", ","),
        ("num", "15th"),
        ("punct", ")"),
    ]
    assert all(text[t.start : t.end] == t.text for t in tokens)
