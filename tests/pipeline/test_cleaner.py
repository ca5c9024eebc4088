"""The rewrite cleaner: which line of a model's answer becomes a rewrite stage's output."""

from __future__ import annotations

import pytest

from workbench.pipeline.cleaner import body_examples, clean_answer, clean_rewrite, echoed_example


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


NOISE_EXAMPLE = (
    "Hey there! Could you list, as a CSV, the critical TSH results from 2026-03-01 through "
    "2026-03-31? Thanks!",
    "list the critical TSH results from 2026-03-01 through 2026-03-31",
)
QUERY_EXAMPLE = (
    "which doctors ordered the most lipid panels from 2025-10-01 through 2025-12-31",
    "Show count lipid panel tests by physician from 2025-10-01 through 2025-12-31, "
    "sorted highest to lowest",
)
QUERY_RULES = (
    '- Start with the verb "Show"; turn "how many" into "count".\n'
    '- Turn "per X" into "by X".\n- Write sort wishes as "sorted highest to lowest".\n'
    "- doctor, provider -> physician\n- panel, assay -> test\n"
)


@pytest.mark.parametrize(
    ("given", "output", "examples", "rules"),
    [
        # seen in smoke runs of a 0.5B model: the example's answer, the question's dates
        ("Which five physicians ordered the most tests from 2026-02-01 through 2026-02-28?",
         "list the critical TSH results from 2026-02-01 through 2026-02-28", (NOISE_EXAMPLE,), ""),
        ("list the monthly order counts for Lakeshore Pathology from 2025-01-01 through 2025-12-31",
         "Show count lipid panel tests by physician from 2025-01-01 through 2025-12-31, sorted "
         "highest to lowest", (QUERY_EXAMPLE,), QUERY_RULES),
        # the example's dates carried into an answer about something else
        ("Dr. Hannah Weiss's specialty is cardiovascular medicine.",
         "Show count cardiovascular medicine tests by physician from 2025-10-01 through "
         "2025-12-31, sorted highest to lowest", (QUERY_EXAMPLE,), QUERY_RULES),
    ],
)  # fmt: skip
def test_an_answer_that_is_the_prompts_example_is_caught(given, output, examples, rules) -> None:
    assert echoed_example(output, given, examples, rules) == examples[0]


@pytest.mark.parametrize(
    ("given", "output"),
    [
        # a rewrite in the example's shape: it borrows the shape, whose words the rules name
        ("department ordered the most thyroid tests from 2025-01-01 through 2025-12-31",
         "Show count thyroid panel tests by department from 2025-01-01 through 2025-12-31, "
         "sorted highest to lowest"),
        ("which doctors ordered the most CBC panels from 2026-01-01 through 2026-03-31",
         "Show count CBC panel tests by physician from 2026-01-01 through 2026-03-31, sorted "
         "highest to lowest"),
        # the example's own question: its answer is right
        (QUERY_EXAMPLE[0], QUERY_EXAMPLE[1]),
        ("How many female patients are there?", "Show count female patients"),
    ],
)  # fmt: skip
def test_a_rewrite_shaped_like_the_example_is_not_a_copy(given: str, output: str) -> None:
    assert echoed_example(output, given, (QUERY_EXAMPLE,), QUERY_RULES) is None


def test_examples_written_in_a_body_are_found() -> None:
    body = (
        f"## Task\n- Clean it.\n\n```\nInput: {NOISE_EXAMPLE[0]}\nOutput: {NOISE_EXAMPLE[1]}\n```\n"
    )
    assert body_examples(body) == (NOISE_EXAMPLE,)
    assert body_examples("## Task\n- Write Output: lines.\n") == ()
