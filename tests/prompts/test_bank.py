"""The example bank: read at the file boundary, the nearest entries sent, never a case's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import PromptError
from workbench.prompts import load_prompt, near_duplicates, render, worked_examples
from workbench.prompts.bank import BankRef, load_bank, nearest

BANK = """\
- question: How many albums does each artist have?
  sql: SELECT artist_id, COUNT(*) FROM album GROUP BY artist_id
- question: Show the tracks longer than five minutes
  sql: SELECT name FROM track WHERE milliseconds > 300000
- question: Show total sales by country
  sql: |
    SELECT billing_country, SUM(total) AS sales
    FROM invoice GROUP BY billing_country
- question: Show the customers in Brazil
  sql: SELECT first_name, last_name FROM customer WHERE country = 'Brazil'
"""

PROMPT = """\
---
id: sql_generation
title: SQL generation
order: 6
kind: sql
example_bank: {file: examples.yaml, count: 2}
---
Write one SQL query.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_bank_loads_with_each_entry_s_line(tmp_path: Path) -> None:
    bank = load_bank(write(tmp_path, "examples.yaml", BANK), BankRef())
    assert [e.question for e in bank.entries][:2] == [
        "How many albums does each artist have?",
        "Show the tracks longer than five minutes",
    ]
    assert bank.entries[2].sql == (
        "SELECT billing_country, SUM(total) AS sales\nFROM invoice GROUP BY billing_country"
    )
    assert [e.source.rsplit(":", 1)[1] for e in bank.entries] == ["1", "3", "5", "9"]


def test_an_empty_bank_is_a_bank_without_entries(tmp_path: Path) -> None:
    assert load_bank(write(tmp_path, "examples.yaml", "# none yet\n"), BankRef()).entries == ()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("- question: Show albums\n  sql: SELECT 1\n  note: x\n", 3, "note: unknown key"),
        ("- question: Show albums\n- question: Show tracks\n  sql: SELECT 1\n", 1, "sql"),
        ("question: Show albums\n", None, "must be a YAML list"),
    ],
)
def test_a_bad_bank_names_the_file_and_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = write(tmp_path, "examples.yaml", text)
    with pytest.raises(PromptError, match=words) as caught:
        load_bank(path, BankRef())
    assert caught.value.path == str(path) and caught.value.line == line


def test_the_nearest_entries_come_least_alike_first(tmp_path: Path) -> None:
    bank = load_bank(write(tmp_path, "examples.yaml", BANK), BankRef(count=2))
    chosen = nearest(bank, "Show total sales by country for 2025")
    assert chosen[-1].question == "Show total sales by country"  # next to the real input
    assert len(chosen) == 2 and nearest(bank, "Show total sales by country for 2025") == chosen


def test_an_entry_that_is_nearly_the_question_is_never_its_example(tmp_path: Path) -> None:
    bank = load_bank(write(tmp_path, "examples.yaml", BANK), BankRef(count=4))
    chosen = nearest(bank, "show customers in brazil", asked=["Show the customers in Brazil?"])
    assert "Show the customers in Brazil" not in [e.question for e in chosen]
    assert len(chosen) == 3


def test_a_prompt_sends_the_nearest_bank_entries_as_turns(tmp_path: Path) -> None:
    write(tmp_path, "examples.yaml", BANK)
    prompt = load_prompt(write(tmp_path, "06_sql.md", PROMPT))
    messages = render(prompt, {}, "Show total sales by country in 2025")
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[3].content == "Show total sales by country"
    assert messages[4].content.startswith("```sql\nSELECT billing_country")
    assert messages[-1].content == "Show total sales by country in 2025"
    assert worked_examples(prompt, "Show total sales by country in 2025")[-1][0] == (
        "Show total sales by country"
    )


def test_a_pass_through_bank_answers_with_the_question(tmp_path: Path) -> None:
    write(tmp_path, "examples.yaml", BANK)
    text = PROMPT.replace("count: 2}", "count: 1, answer: question}")
    prompt = load_prompt(write(tmp_path, "03_query.md", text))
    assert worked_examples(prompt, "tracks longer than 5 minutes") == (
        ("Show the tracks longer than five minutes", "Show the tracks longer than five minutes"),
    )


def test_editing_the_bank_changes_the_prompt_s_hash(tmp_path: Path) -> None:
    bank = write(tmp_path, "examples.yaml", BANK)
    path = write(tmp_path, "06_sql.md", PROMPT)
    before = load_prompt(path).content_hash
    bank.write_text(BANK.replace("Brazil", "Chile"), encoding="utf-8")
    assert load_prompt(path).content_hash != before


def test_a_missing_bank_says_how_to_make_one(tmp_path: Path) -> None:
    path = write(tmp_path, "06_sql.md", PROMPT)
    with pytest.raises(PromptError, match="does not exist; create it"):
        load_prompt(path)


def test_near_duplicates_name_the_case_and_the_entry(tmp_path: Path) -> None:
    bank = load_bank(write(tmp_path, "examples.yaml", BANK), BankRef())
    found = near_duplicates(
        bank, [("simple-001", "Show the customers in Brazil"), ("simple-002", "Count invoices")]
    )
    assert [(ident, entry.source.rsplit(":", 1)[1]) for ident, entry, _ in found] == [
        ("simple-001", "9")
    ]
