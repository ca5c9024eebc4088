"""The example bank: a workspace's own question -> SQL pairs, the nearest few sent as turns.

A stage prompt that names a bank in its front matter (``example_bank``) gets, on every
call, the ``count`` bank entries whose questions are most like its input, as worked
examples (earlier user and assistant turns), after the prompt's fixed ``examples``. The
examples so come from the team's own database and words, never from ours, and each
question sees the ones that resemble it most (text-to-SQL tools that retrieve examples
by similarity report it as the largest single gain after the schema itself).

Evaluation stays honest: an entry that is (nearly) the question being asked is never
among its examples, so a smoke case whose question was also put in the bank is not
answered by copying its own gold; ``near_duplicates`` lets ``smoke check`` say where.

Entries are ranked by rapidfuzz's token-set ratio on lowercased words, and "nearly the
question" is a plain ratio of 90 or more on the texts with case and punctuation aside: both
deterministic, so the same question always gets the same examples (and cache key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import fuzz

from workbench.errors import PromptError
from workbench.yamlfiles import describe_error, item_lines, line_of, parse_yaml, read_text

BankAnswer = Literal["sql", "question"]
"""What an example's assistant turn holds: the SQL in a ```sql block, or the question
itself unchanged (a pass-through example for a rewrite stage)."""

NEAR_DUPLICATE = 90.0
"""A bank question at least this similar (0-100) to the asked one counts as the same."""


class BankRef(BaseModel):
    """``example_bank`` in a prompt's front matter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = "examples.yaml"
    count: int = Field(default=3, ge=1, le=10)
    answer: BankAnswer = "sql"


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    sql: str = Field(min_length=1)

    @field_validator("question", "sql")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


@dataclass(frozen=True)
class BankEntry:
    """One question and the SQL that answers it, with where it was read (``file:line``)."""

    question: str
    sql: str
    source: str = ""


@dataclass(frozen=True)
class Bank:
    """A loaded bank and how a stage uses it."""

    entries: tuple[BankEntry, ...]
    count: int
    answer: BankAnswer
    path: str
    text: str
    """The file's text as read (part of the prompt's content hash)."""

    def answer_for(self, entry: BankEntry) -> str:
        return f"```sql\n{entry.sql}\n```" if self.answer == "sql" else entry.question


def load_bank(path: Path, ref: BankRef) -> Bank:
    """Read a bank file: a YAML list of ``question``/``sql`` pairs (it may be empty).

    Raises:
        PromptError: the file is missing or malformed (names the file and the line).
    """
    if not path.is_file():
        raise PromptError(
            f"the example bank {ref.file!r} does not exist; create it (a YAML list of "
            "question/sql pairs, may be empty) or drop 'example_bank' from the front matter",
            path=str(path),
        )
    text = read_text(path, error=PromptError, what="example bank")
    data = parse_yaml(text, path=path, error=PromptError)
    if data is None:
        data = []
    if not isinstance(data, list):
        raise PromptError(
            "must be a YAML list of examples ('- question: …' then 'sql: …')", path=str(path)
        )
    lines = item_lines(text)
    entries = []
    for index, raw in enumerate(data):
        line = lines[index] if index < len(lines) else None
        try:
            entry = _EntryModel.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(describe_error(err) for err in exc.errors())
            where = line_of(text, [index, *exc.errors()[0]["loc"]]) or line
            raise PromptError(
                f"example {index + 1}: {problems}", path=str(path), line=where
            ) from exc
        entries.append(BankEntry(entry.question, entry.sql, f"{path}:{line or 1}"))
    return Bank(tuple(entries), ref.count, ref.answer, str(path), text)


def similarity(a: str, b: str) -> float:
    """0-100: how much two questions share, word order and repeats aside (for ranking)."""
    return fuzz.token_set_ratio(a.lower(), b.lower())


def sameness(a: str, b: str) -> float:
    """0-100: how nearly two questions are the same text (case, punctuation and spacing aside).

    Not ``similarity``: a question that holds another whole ("… by country" and "… by
    country in 2025") shares all its words but asks something else."""
    return fuzz.ratio(_plain(a), _plain(b))


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def nearest(bank: Bank, text: str, *, asked: Iterable[str] = ()) -> tuple[BankEntry, ...]:
    """The ``bank.count`` entries most like ``text``, least alike first (the nearest example
    sits next to the real input), leaving out any that is nearly a question in ``asked``."""
    avoid = [q for q in (text, *asked) if q]
    usable = [
        (similarity(entry.question, text), -index, entry)
        for index, entry in enumerate(bank.entries)
        if all(sameness(entry.question, q) < NEAR_DUPLICATE for q in avoid)
    ]
    usable.sort(key=lambda scored: (scored[0], scored[1]))
    return tuple(entry for _, _, entry in usable[-bank.count :])


def near_duplicates(
    bank: Bank, questions: Iterable[tuple[str, str]]
) -> list[tuple[str, BankEntry, float]]:
    """(question id, entry, similarity) for each bank entry that is nearly a given question."""
    found = []
    for ident, question in questions:
        for entry in bank.entries:
            score = sameness(entry.question, question)
            if score >= NEAR_DUPLICATE:
                found.append((ident, entry, score))
    return found
