"""Dates: temporal expressions in a question resolved in Python, for a pinned as-of date.

- ``resolve``: find expressions and rewrite each as "from YYYY-MM-DD through YYYY-MM-DD"
  (its docstring lists the conventions); what looks temporal but is not resolved;
- ``grammar``: the recursive-descent parser behind it;
- ``words``: the vocabulary and the tokenizer;
- ``periods``: calendar arithmetic (months, quarters, windows).
"""

from __future__ import annotations

from workbench.dates.periods import Interval
from workbench.dates.resolve import (
    DateRewrite,
    DateSpan,
    find_unresolved_hints,
    resolve_expression,
    resolve_relative_dates,
)

__all__ = [
    "DateRewrite",
    "DateSpan",
    "Interval",
    "find_unresolved_hints",
    "resolve_expression",
    "resolve_relative_dates",
]
