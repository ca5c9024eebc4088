"""An edit of the prompt files cut into hunks, and any subset of them applied.

Edit blame (``workbench.diagnosis.blame``) asks which part of an edit flipped a case,
so it needs the edit in pieces it can apply one subset at a time: the prompt set of a
baseline with only some hunks of the edit in it. A hunk is a run of changed lines of
one file (``difflib`` opcodes; changes at most ``2 * join`` unchanged lines apart are one
hunk, because an edit of neighbouring lines is rarely meant as two). Hunks of one file
never overlap in the old text, so any subset applies cleanly: all of them give exactly
the new text, none of them the old.

Texts are whole files keyed by file name; a file absent on one side is the empty text
(a new prompt file is one hunk that adds it, and applying no hunk leaves it out).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONTEXT_LINES = 2
"""Unchanged lines shown around a hunk's diff (only shown: they are not part of it)."""


@dataclass(frozen=True)
class Hunk:
    """One run of changed lines of one file.

    Args:
        id: the hunk's number across the whole edit (1-based, files in name order).
        number: the hunk's number within its file (1-based).
        old_start, old_end: the old file's lines it replaces (0-based, end excluded).
        new_start, new_end: the new file's lines it puts there (0-based, end excluded).
        new_lines: those new lines, line ends kept.
        diff: the hunk as unified-diff text, with a little unchanged context.
    """

    id: int
    file: str
    number: int
    old_start: int
    old_end: int
    new_start: int
    new_end: int
    new_lines: tuple[str, ...]
    diff: str

    @property
    def lines(self) -> str:
        """Where the hunk is in the new file, as people count lines (``lines 40–44``)."""
        first, last = self.new_start + 1, self.new_end
        if last < first:  # only deleted lines: name the old ones
            gone = (self.old_start + 1, self.old_end)
            span = f"line {gone[0]}" if gone[0] == gone[1] else f"lines {gone[0]}–{gone[1]}"
            return f"deletes old {span}"
        return f"line {first}" if first == last else f"lines {first}–{last}"

    def describe(self) -> str:
        """``06_sql.md hunk 2, lines 40–44``."""
        return f"{self.file} hunk {self.number}, {self.lines}"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "file": self.file,
            "number": self.number,
            "lines": self.lines,
            "new_range": [self.new_start + 1, self.new_end],
            "diff": self.diff,
        }


def split_lines(text: str) -> list[str]:
    """Lines with their ends kept, so that joining them gives back the text exactly."""
    return text.splitlines(keepends=True)


def edit_hunks(old: Mapping[str, str], new: Mapping[str, str], *, join: int = 1) -> list[Hunk]:
    """Every hunk between ``old`` and ``new`` (file name -> text), files in name order."""
    hunks: list[Hunk] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = split_lines(old.get(name, "")), split_lines(new.get(name, ""))
        for number, group in enumerate(_groups(before, after, join), start=1):
            hunks.append(_hunk(len(hunks) + 1, name, number, group, before, after))
    return hunks


Opcode = tuple[str, int, int, int, int]


def _groups(before: list[str], after: list[str], join: int) -> list[list[Opcode]]:
    """The changed opcodes, grouped: a gap of at most ``2 * join`` equal lines joins."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    groups = []
    for group in matcher.get_grouped_opcodes(join):
        changed = [op for op in group if op[0] != "equal"]
        if changed:
            groups.append(group[group.index(changed[0]) : group.index(changed[-1]) + 1])
    return groups


def _hunk(
    hunk_id: int, name: str, number: int, group: list[Opcode], before: list[str], after: list[str]
) -> Hunk:
    i1, j1 = group[0][1], group[0][3]
    i2, j2 = group[-1][2], group[-1][4]
    return Hunk(
        id=hunk_id,
        file=name,
        number=number,
        old_start=i1,
        old_end=i2,
        new_start=j1,
        new_end=j2,
        new_lines=tuple(after[j1:j2]),
        diff=_diff_text(name, group, before, after),
    )


def _diff_text(name: str, group: list[Opcode], before: list[str], after: list[str]) -> str:
    """The hunk as a unified diff: ``@@ -old +new @@``, context, ``-`` and ``+`` lines."""
    i1, i2 = group[0][1], group[-1][2]
    j1, j2 = group[0][3], group[-1][4]
    lead = min(CONTEXT_LINES, i1, j1)
    trail = min(CONTEXT_LINES, len(before) - i2, len(after) - j2)
    body = [" " + line for line in before[i1 - lead : i1]]
    for tag, a1, a2, b1, b2 in group:
        if tag == "equal":
            body += [" " + line for line in before[a1:a2]]
            continue
        body += ["-" + line for line in before[a1:a2]]
        body += ["+" + line for line in after[b1:b2]]
    body += [" " + line for line in before[i2 : i2 + trail]]
    old_span = f"{i1 - lead + 1},{i2 - i1 + lead + trail}"
    new_span = f"{j1 - lead + 1},{j2 - j1 + lead + trail}"
    head = [f"--- {name} (before)\n", f"+++ {name} (after)\n", f"@@ -{old_span} +{new_span} @@\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in head + body)


def apply_hunks(
    old: Mapping[str, str], hunks: Iterable[Hunk], chosen: Iterable[int]
) -> dict[str, str]:
    """The old texts with only the ``chosen`` hunk ids applied, for every file of ``old``
    and of the hunks (an empty text: the file is absent)."""
    picked = set(chosen)
    by_file: dict[str, list[Hunk]] = {name: [] for name in old}
    for hunk in hunks:
        by_file.setdefault(hunk.file, []).append(hunk)
    texts = {}
    for name, file_hunks in by_file.items():
        lines = split_lines(old.get(name, ""))
        applied = sorted((h for h in file_hunks if h.id in picked), key=lambda h: h.old_start)
        out: list[str] = []
        at = 0
        for hunk in applied:
            out += lines[at : hunk.old_start] + list(hunk.new_lines)
            at = hunk.old_end
        texts[name] = "".join(out + lines[at:])
    return texts
