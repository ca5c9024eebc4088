"""The rewrite cleaner: which part of a model's answer becomes a linguistic stage's output.

Small models often echo the prompt's example layout (a code fence, an ``Input:`` line,
an ``Output:`` line) around the one line that is the rewritten question, or write SQL
where a question was asked for. The rules, in order (also in ``prompts/README.md``):

1. blank lines and the lines that open or close a code fence are never the output;
2. a SQL block (a fence marked ``sql``, or a block whose first line starts with
   ``SELECT`` or ``WITH``) is never the output: a rewrite stage answers in words;
3. an ``Input:`` line is never the output (it repeats the question given);
4. the last line labelled ``Output:`` or ``Answer:`` wins (a model that copies the
   prompt's example first writes its own answer after it), else the first line left;
5. a leading label (``Output:``, ``Answer:``, ``Rewritten question:``, ``Question:``) and
   quotes around the whole line are removed.

Every other line of the answer is *dropped*; ``CleanedAnswer.dropped`` keeps them so that
the trace and the Run page can show what the model said besides its answer. Nothing
left (an empty answer, or only SQL) is an empty output, which the stage reports as an
error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = re.compile(r"^\s*(?:output|answer|rewritten(?: question)?|question)\s*:\s*", re.I)
_ANSWER_LABEL = re.compile(r"^\s*(?:output|answer)\s*:\s*\S", re.I)
_INPUT_LABEL = re.compile(r"^\s*input\s*:", re.I)
_SQL_START = re.compile(r"^\s*(?:select|with)\b", re.I)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "`": "`"}


@dataclass(frozen=True)
class CleanedAnswer:
    """The stage's output out of a model answer, and the answer's lines left out of it."""

    output: str
    dropped: tuple[str, ...] = ()
    """The answer's non-blank lines other than the one kept (fences included), in order."""


def _candidates(lines: list[str]) -> list[int]:
    """The indices of the lines that may become the output (rules 1–3), in order."""
    kept: list[int] = []
    block: list[int] | None = None  # inside a fence: the indices of its lines so far
    sql = False

    def close() -> None:
        if block and not sql and not _SQL_START.match(lines[block[0]]):
            kept.extend(block)

    for i, line in enumerate(lines):
        if not line.startswith("```"):
            (kept if block is None else block).append(i)
        elif block is None:
            block, sql = [], line[3:].strip().lower() in ("sql", "postgresql")
        else:
            close()
            block = None
    if block is not None:
        close()  # a fence never closed
    return [i for i in kept if not _INPUT_LABEL.match(lines[i])]


def clean_answer(text: str) -> CleanedAnswer:
    """The rewritten question out of a model answer (the rules in the module docstring)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    candidates = _candidates(lines)
    labelled = [i for i in candidates if _ANSWER_LABEL.match(lines[i])]
    if not candidates:
        return CleanedAnswer("", tuple(lines))
    index = labelled[-1] if labelled else candidates[0]
    line = _LABEL.sub("", lines[index]).strip()
    if len(line) >= 2 and _QUOTES.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    return CleanedAnswer(line, tuple(lines[:index] + lines[index + 1 :]))


def clean_rewrite(text: str) -> str:
    """The rewritten question out of a model answer (``clean_answer``'s output)."""
    return clean_answer(text).output
