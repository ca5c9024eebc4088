"""The prompt file as the editor shows it: front matter and body apart, marks on lines.

The Prompts page edits the YAML front matter and the Markdown body in two code
editors, each highlighted in its own language, numbered with the file's own line
numbers, and joined back into one file on save. A file whose front matter cannot be
told apart (no opening or no closing ``---``) is edited whole, so a broken file can
still be opened and fixed.

Marks say what the page should show beside a line: each counted rule (and where it
sits), each shouted word, and the line a validation error names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from workbench.errors import FileError
from workbench.prompts.budget import Measures
from workbench.prompts.rulemap import CountedRule

FENCE = "---"


@dataclass(frozen=True)
class EditorParts:
    """What the two editors hold; ``body`` is None when the file is edited whole."""

    head: str
    body: str | None
    body_first_line: int
    """The file line of the body's first line (1 when edited whole)."""

    @property
    def text(self) -> str:
        return join_parts(self.head, self.body)


def split_parts(text: str) -> EditorParts:
    """Front matter (with its ``---`` lines) and body; the whole text when they cannot be told apart."""
    lines = text.split("\n")
    if lines and lines[0].strip() == FENCE:
        for index in range(1, len(lines)):
            if lines[index].strip() == FENCE:
                head = "\n".join(lines[: index + 1])
                return EditorParts(head, "\n".join(lines[index + 1 :]), index + 2)
    return EditorParts(text, None, 1)


def join_parts(head: str, body: str | None) -> str:
    """The file from the two editors' texts (``body`` None: ``head`` is the whole file)."""
    if body is None:
        return head
    return head.rstrip("\n") + "\n" + body


def body_first_line(head: str) -> int:
    """The file line where the body starts, after a front-matter editor holding ``head``."""
    return head.rstrip("\n").count("\n") + 2


MarkKind = Literal["error", "rule", "late rule", "shouting"]


@dataclass(frozen=True)
class LineMark:
    line: int
    kind: MarkKind
    text: str


def rule_mark(rule: CountedRule, total: int) -> LineMark:
    where = f"{rule.position:.0%} of the way in ({rule.third})"
    what = "list item" if rule.kind == "list item" else "hidden rule (a directive outside a list)"
    task = f" under '{rule.task}'" if rule.task else ""
    text = f"rule {rule.rank} of {total}: {what}{task}, {where}"
    if rule.third == "late":
        text += "; rules late in a long prompt are followed less"
    return LineMark(rule.line, "late rule" if rule.third == "late" else "rule", text)


def line_marks(
    rules: Iterable[CountedRule],
    measures: Measures | None = None,
    error: FileError | None = None,
) -> tuple[LineMark, ...]:
    """Every mark of the prompt, in line order (an error on a line comes first there)."""
    rules = tuple(rules)
    marks = [rule_mark(rule, len(rules)) for rule in rules]
    if measures is not None:
        marks += [LineMark(s.line, "shouting", f"shouting: {s.word}") for s in measures.shouting]
    if error is not None and error.line is not None:
        marks.append(LineMark(error.line, "error", str(error)))
    order = {"error": 0, "late rule": 1, "rule": 2, "shouting": 3}
    return tuple(sorted(marks, key=lambda m: (m.line, order[m.kind])))
