"""The rewrite cleaner: which part of a model's answer becomes a linguistic stage's output.

Small models often echo the prompt's example layout (a code fence, an ``Input:`` line,
an ``Output:`` line) around the one line that is the rewritten question. The rules
(also in ``prompts/README.md``):

1. lines that open or close a code fence are ignored, and so are blank lines;
2. the first line labelled ``Output:`` or ``Answer:`` wins, else the first line;
3. a leading label (``Output:``, ``Answer:``, ``Rewritten question:``, ``Question:``) and
   quotes around the whole line are removed.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^\s*(?:output|answer|rewritten(?: question)?|question)\s*:\s*", re.I)
_ANSWER_LABEL = re.compile(r"^\s*(?:output|answer)\s*:\s*\S", re.I)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "`": "`"}


def clean_rewrite(text: str) -> str:
    """The rewritten question out of a model answer (the rules in the module docstring)."""
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("```")
    ]
    line = next((ln for ln in lines if _ANSWER_LABEL.match(ln)), lines[0] if lines else "")
    line = _LABEL.sub("", line).strip()
    if len(line) >= 2 and _QUOTES.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    return line
