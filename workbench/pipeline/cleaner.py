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


def _candidates(lines: list[str]) -> list[str]:
    """The lines that may become the output (rules 1–3), in order."""
    kept: list[str] = []
    block: list[str] | None = None  # inside a fence: its lines so far
    sql_fence = False
    for line in lines:
        if line.startswith("```"):
            if block is None:
                block, sql_fence = [], line[3:].strip().lower() in ("sql", "postgresql")
            else:
                if not (sql_fence or (block and _SQL_START.match(block[0]))):
                    kept += block
                block = None
            continue
        if block is not None:
            block.append(line)
        elif not _INPUT_LABEL.match(line):
            kept.append(line)
    if block is not None and not (sql_fence or (block and _SQL_START.match(block[0]))):
        kept += block  # a fence never closed
    return [ln for ln in kept if not _INPUT_LABEL.match(ln)]


def clean_answer(text: str) -> CleanedAnswer:
    """The rewritten question out of a model answer (the rules in the module docstring)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    candidates = _candidates(lines)
    labelled = [ln for ln in candidates if _ANSWER_LABEL.match(ln)]
    chosen = labelled[-1] if labelled else (candidates[0] if candidates else None)
    if chosen is None:
        return CleanedAnswer("", tuple(lines))
    index = lines.index(chosen) if not labelled else len(lines) - 1 - lines[::-1].index(chosen)
    line = _LABEL.sub("", chosen).strip()
    if len(line) >= 2 and _QUOTES.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    return CleanedAnswer(line, tuple(lines[:index] + lines[index + 1 :]))


def clean_rewrite(text: str) -> str:
    """The rewritten question out of a model answer (``clean_answer``'s output)."""
    return clean_answer(text).output
