"""The rewrite cleaner: which line of a model's answer becomes a rewrite stage's output."""

from __future__ import annotations

import pytest

from workbench.pipeline.cleaner import clean_answer, clean_rewrite


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
        # rule 2: SQL is never a rewritten question, fenced as sql or starting like a query
        ("```sql\nSELECT * FROM labs\n```", ""),
        ("```\nWITH x AS (SELECT 1) SELECT * FROM x\n```", ""),
        ("```sql\nSELECT 1\n```\nShow CBC results", "Show CBC results"),
        ("Show CBC results\n```sql\nSELECT 1", "Show CBC results"),  # a fence never closed
        ("Select the CBC results of May", "Select the CBC results of May"),  # words, no block
        # rule 3: an Input: line repeats the question given
        ("Input: hi, CBC please", ""),
        ("Input: hi, CBC please\nShow CBC results", "Show CBC results"),
        # rule 4: the last labelled line wins (an example copied first, then the answer)
        ("Output: list the critical TSH results\nOutput: Show CBC results", "Show CBC results"),
        ("Here you go:\nOutput: Show CBC results\nDone.", "Show CBC results"),
    ],
)
def test_clean_rewrite(answer: str, clean: str) -> None:
    assert clean_rewrite(answer) == clean


def test_the_lines_left_out_are_kept_in_order() -> None:
    cleaned = clean_answer("```\nInput: hi, CBC please\nOutput: Show CBC results\n```\nI hope so.")
    assert cleaned.output == "Show CBC results"
    assert cleaned.dropped == ("```", "Input: hi, CBC please", "```", "I hope so.")


def test_an_answer_that_is_only_its_line_drops_nothing() -> None:
    assert clean_answer('  "Show CBC results"  \n\n').dropped == ()
    assert clean_answer("Output: Show CBC results").dropped == ()


def test_an_answer_with_nothing_to_keep_drops_every_line() -> None:
    cleaned = clean_answer("```sql\nSELECT 1\n```")
    assert (cleaned.output, cleaned.dropped) == ("", ("```sql", "SELECT 1", "```"))
