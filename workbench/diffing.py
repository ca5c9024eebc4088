"""Word diffs between stage texts, and line diffs between prompt versions.

A stage in the pipeline rewrites a question a few words at a time, so the
useful picture is a word diff: removed words struck through, new words
highlighted. Three decisions shape this module:

- **Whitespace is glue.** Only words, numbers and punctuation marks are
  compared; the whitespace between them travels with the neighbouring words.
  Two texts that differ only in spacing or line breaks give a single
  ``equal`` edit, and an ``equal`` edit may carry different whitespace on its
  two sides. Every edit keeps the exact text of both sides, so joining the
  ``before`` parts gives the old text back and joining the ``after`` parts
  gives the new one (``apply_edits``).
- **Changes are grouped.** rapidfuzz's Indel opcodes (a longest common
  subsequence over word tokens) are merged so that a run of deletions and
  insertions between two unchanged stretches becomes one ``replace``. A
  stray match inside a rewrite (a lone comma, or one word amid whole
  clauses) is folded into the change around it, so a full rewrite reads as
  one replacement instead of confetti.
- **Everything rendered is escaped.** Model output and user questions are
  untrusted; every piece of text goes through ``workbench.markup.escape``
  (HTML and Markdown syntax, line breaks as ``<br>``) before it is wrapped in
  a tag, so ``<script>`` and ``![x](http://…)`` show as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from rapidfuzz.distance import Indel

from workbench.markup import escape

Op = Literal["equal", "delete", "insert", "replace"]

TOKEN_PATTERN = re.compile(
    r"""
      \s+                          # a run of whitespace
    | \w+(?:[-./:'\u2019]\w+)*     # words and numbers: 2026-01-01, COVID-19, 3.5, 10:30, don't
    | [<>!=]=|<>|->|=>|\|\||::     # two-character operators
    | [^\w\s]                      # any other single mark
    """,
    re.VERBOSE,
)

DEL_CLASS = "wb-del"
INS_CLASS = "wb-ins"

DIFF_CSS = """
.wb-diff { white-space: pre-wrap; line-height: 1.7; }
.wb-diff del.wb-del, .wb-lines del.wb-del, .wb-linediff del.wb-del {
  color: #b42318; background: #fde8e7; text-decoration: line-through; }
.wb-diff ins.wb-ins, .wb-lines ins.wb-ins, .wb-linediff ins.wb-ins {
  color: #05603a; background: #d3f8df; text-decoration: none; }
.wb-lines, .wb-linediff { font-family: ui-monospace, monospace; font-size: 0.85em; }
.wb-line { white-space: pre-wrap; min-height: 1.4em; }
.wb-lineno { color: #98a2b3; user-select: none; }
span.wb-lineno { display: inline-block; min-width: 3em; }
td.wb-lineno { width: 3em; text-align: right; }
.wb-line-delete, td.wb-line-delete { background: #fef3f2; }
.wb-line-insert, td.wb-line-insert { background: #ecfdf3; }
.wb-line-replace, td.wb-line-replace { background: #fffaeb; }
.wb-linediff { border-collapse: collapse; width: 100%; }
.wb-linediff td { white-space: pre-wrap; vertical-align: top; padding: 0 0.4em; }
"""
"""Styles for every HTML fragment this module returns; a page injects them once."""


@dataclass(frozen=True)
class Edit:
    """One step of a word diff.

    ``before`` and ``after`` are the exact texts of the two sides, including the
    whitespace in front of the words. ``before_index`` and ``after_index`` are
    the positions of the edit's first word among the words (whitespace not
    counted) of each text.
    """

    op: Op
    before: str
    after: str
    before_index: int
    after_index: int


@dataclass(frozen=True)
class Divergence:
    """Where two texts first differ, with a few words of context.

    Args:
        word_index: position of the first differing word (whitespace not counted).
        a_offset, b_offset: character offsets of that position in each text.
        shared: the words just before the divergence, common to both texts.
        a_context, b_context: the next words of each text from the divergence on
            (empty when that text has ended).
    """

    word_index: int
    a_offset: int
    b_offset: int
    shared: str
    a_context: str
    b_context: str


@dataclass(frozen=True)
class LineRow:
    """One row of a line diff; line numbers are 1-based, None on the missing side.

    ``words`` holds the word edits of a ``replace`` row. A line changed only in
    its spacing is a ``replace`` row whose word edits are all ``equal``.
    """

    op: Op
    before_line: int | None
    after_line: int | None
    before: str
    after: str
    words: tuple[Edit, ...] = ()


def tokenize(text: str) -> tuple[str, ...]:
    """Split text into word, mark and whitespace tokens; joining them gives the text back."""
    return tuple(TOKEN_PATTERN.findall(text))


def _words(text: str) -> tuple[list[str], list[int], list[int]]:
    """The non-whitespace tokens of text with their start and end offsets."""
    words, starts, ends = [], [], []
    for match in TOKEN_PATTERN.finditer(text):
        if not match.group().isspace():
            words.append(match.group())
            starts.append(match.start())
            ends.append(match.end())
    return words, starts, ends


Block = tuple[Literal["equal", "change"], int, int, int, int]


def _blocks(before: list[str], after: list[str]) -> list[Block]:
    """Indel opcodes merged into alternating equal and changed blocks."""
    blocks: list[Block] = []
    for tag, i1, i2, j1, j2 in Indel.opcodes(before, after):
        kind: Literal["equal", "change"] = "equal" if tag == "equal" else "change"
        if blocks and blocks[-1][0] == kind:
            _, i1, _, j1, _ = blocks.pop()
        blocks.append((kind, i1, i2, j1, j2))
    return blocks


def _fold_stray_equalities(blocks: list[Block], before: list[str]) -> list[Block]:
    """Fold an equal block into the changes around it when it is a stray match.

    Stray means: only marks and shorter than the changes on both sides (the
    comma kept inside a rewrite), or under a third of their length (one word
    kept inside a rewrite of a whole clause).
    """

    def size(block: Block) -> int:
        return max(block[2] - block[1], block[4] - block[3])

    k = 1
    while k < len(blocks) - 1:
        left, middle, right = blocks[k - 1 : k + 2]
        room = min(size(left), size(right))
        marks_only = all(_is_mark(word) for word in before[middle[1] : middle[2]])
        stray = size(middle) < room if marks_only else 3 * size(middle) < room
        if middle[0] == "equal" and stray:
            blocks[k - 1 : k + 2] = [("change", left[1], right[2], left[3], right[4])]
            k = max(1, k - 2)  # the grown change may now outweigh the equality before it
        else:
            k += 1
    return blocks


def _slide_past_marks(blocks: list[Block], before: list[str], after: list[str]) -> list[Block]:
    """Move a pure deletion or insertion that starts with a mark one word later when it can.

    The longest common subsequence often keeps the first of two equal marks,
    giving ``results[-. Thank you-].``; sliding gives ``results.[- Thank you.-]``,
    where the mark stays with the word it ends.
    """
    k = 0
    while k < len(blocks) - 1:
        kind, i1, i2, j1, j2 = blocks[k]
        words = before[i1:i2] if i2 > i1 else after[j1:j2]
        following = blocks[k + 1]
        pure = kind == "change" and (i1 == i2 or j1 == j2)
        if not (pure and following[0] == "equal" and _is_mark(words[0])):
            k += 1
            continue
        if words[0] != before[following[1]]:
            k += 1
            continue
        blocks[k] = (kind, i1 + 1, i2 + 1, j1 + 1, j2 + 1)
        if k and blocks[k - 1][0] == "equal":
            e_kind, e_i1, e_i2, e_j1, e_j2 = blocks[k - 1]
            blocks[k - 1] = (e_kind, e_i1, e_i2 + 1, e_j1, e_j2 + 1)
        else:
            blocks.insert(k, ("equal", i1, i1 + 1, j1, j1 + 1))
            k += 1
        _, n_i1, n_i2, n_j1, n_j2 = following
        blocks[k + 1] = ("equal", n_i1 + 1, n_i2, n_j1 + 1, n_j2)
        if n_i1 + 1 == n_i2:
            del blocks[k + 1]
            if k + 1 < len(blocks):  # two changes now touch: one change
                _, _, r_i2, _, r_j2 = blocks.pop(k + 1)
                kind, i1, _, j1, _ = blocks[k]
                blocks[k] = (kind, i1, r_i2, j1, r_j2)
    return blocks


def _is_mark(token: str) -> bool:
    return not any(ch.isalnum() for ch in token)


def word_diff(before: str, after: str) -> tuple[Edit, ...]:
    """The word-level edits that turn ``before`` into ``after``.

    Adjacent edits never share an op; ``apply_edits(before, edits) == after``.
    """
    words_b, _, ends_b = _words(before)
    words_a, _, ends_a = _words(after)
    edits: list[Edit] = []
    pos_b = pos_a = 0
    for kind, i1, i2, j1, j2 in _fold_stray_equalities(
        _slide_past_marks(_blocks(words_b, words_a), words_b, words_a), words_b
    ):
        end_b = ends_b[i2 - 1] if i2 > i1 else pos_b
        end_a = ends_a[j2 - 1] if j2 > j1 else pos_a
        if kind == "equal":
            op: Op = "equal"
        else:
            op = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        edits.append(Edit(op, before[pos_b:end_b], after[pos_a:end_a], i1, j1))
        pos_b, pos_a = end_b, end_a
    tail_b, tail_a = before[pos_b:], after[pos_a:]  # whitespace after the last word
    if tail_b or tail_a:
        if edits and edits[-1].op == "equal":
            last = edits[-1]
            edits[-1] = replace(last, before=last.before + tail_b, after=last.after + tail_a)
        else:
            edits.append(Edit("equal", tail_b, tail_a, len(words_b), len(words_a)))
    return tuple(edits)


def apply_edits(before: str, edits: tuple[Edit, ...]) -> str:
    """Replay edits on ``before``; raises ValueError when they do not fit it."""
    position = 0
    for edit in edits:
        if not before.startswith(edit.before, position):
            raise ValueError(f"edit at word {edit.before_index} does not match the text")
        position += len(edit.before)
    if position != len(before):
        raise ValueError(f"edits cover {position} of {len(before)} characters")
    return "".join(edit.after for edit in edits)


def _split_space(text: str) -> tuple[str, str, str]:
    """Leading whitespace, the words, trailing whitespace."""
    core = text.strip()
    if not core:
        return text, "", ""
    start = len(text) - len(text.lstrip())
    return text[:start], core, text[start + len(core) :]


def _tag(name: str, css_class: str, text: str) -> str:
    return f'<{name} class="{css_class}">{escape(text)}</{name}>'


def _removed(text: str) -> str:
    lead, core, trail = _split_space(text)
    return escape(lead) + _tag("del", DEL_CLASS, core) + escape(trail)


def _added(text: str) -> str:
    lead, core, trail = _split_space(text)
    return escape(lead) + _tag("ins", INS_CLASS, core) + escape(trail)


Segment = tuple[Literal["same", "removed", "added"], str]


def _inline_segments(edits: tuple[Edit, ...]) -> list[Segment]:
    """The merged reading of a diff: kept text, removed words, added words.

    Whitespace shown between words is the new text's, or the old text's where
    the new text has none there (so a struck first word stays apart from the
    kept one after it).
    """
    segments: list[Segment] = []
    for edit in edits:
        lead_b, core_b, _ = _split_space(edit.before)
        lead_a, core_a, trail_a = _split_space(edit.after)
        segments.append(("same", lead_a or lead_b))
        if edit.op == "equal":
            segments.append(("same", edit.after[len(lead_a) :]))
            continue
        if core_b:
            segments.append(("removed", core_b))
        if core_b and core_a:
            segments.append(("same", " "))
        if core_a:
            segments.append(("added", core_a))
        segments.append(("same", trail_a))
    return [segment for segment in segments if segment[1]]


def render_html(edits: tuple[Edit, ...]) -> str:
    """One inline view: removed words struck through, new words highlighted.

    A replacement shows the struck old words followed by the new ones. All
    text is HTML-escaped; style with ``DIFF_CSS``.
    """
    parts = []
    for kind, text in _inline_segments(edits):
        if kind == "removed":
            parts.append(_tag("del", DEL_CLASS, text))
        elif kind == "added":
            parts.append(_tag("ins", INS_CLASS, text))
        else:
            parts.append(escape(text))
    return f'<div class="wb-diff">{"".join(parts)}</div>'


def _two_sides(edits: tuple[Edit, ...]) -> tuple[str, str]:
    """The old text with its removed words marked, the new text with its added words marked."""
    left, right = [], []
    for edit in edits:
        if edit.op == "equal":
            left.append(escape(edit.before))
            right.append(escape(edit.after))
        if edit.op in ("delete", "replace"):
            left.append(_removed(edit.before))
        if edit.op in ("insert", "replace"):
            right.append(_added(edit.after))
    return "".join(left), "".join(right)


def side_by_side_html(a: str, b: str) -> tuple[str, str]:
    """Two views for a compare screen: ``a`` with its removed words, ``b`` with its new ones."""
    left, right = _two_sides(word_diff(a, b))
    return f'<div class="wb-diff">{left}</div>', f'<div class="wb-diff">{right}</div>'


def format_edits(edits: tuple[Edit, ...]) -> str:
    """Plain-text form in the wdiff style: ``[-old-] {+new+}``."""
    marks = {"same": "{}", "removed": "[-{}-]", "added": "{{+{}+}}"}
    return "".join(marks[kind].format(text) for kind, text in _inline_segments(edits))


def first_divergence(a: str, b: str, context_words: int = 4) -> Divergence | None:
    """Where the words of ``a`` and ``b`` first differ; None when only whitespace differs."""
    words_a, starts_a, ends_a = _words(a)
    words_b, starts_b, ends_b = _words(b)
    index = 0
    while index < min(len(words_a), len(words_b)) and words_a[index] == words_b[index]:
        index += 1
    if index == len(words_a) == len(words_b):
        return None

    def offset(starts: list[int], text: str) -> int:
        return starts[index] if index < len(starts) else len(text)

    def following(text: str, starts: list[int], ends: list[int]) -> str:
        if index >= len(starts):
            return ""
        last = min(index + context_words, len(ends)) - 1
        return text[starts[index] : ends[last]]

    a_offset, b_offset = offset(starts_a, a), offset(starts_b, b)
    first_shared = max(0, index - context_words)
    shared = a[starts_a[first_shared] : a_offset].rstrip() if index else ""
    return Divergence(
        word_index=index,
        a_offset=a_offset,
        b_offset=b_offset,
        shared=shared,
        a_context=following(a, starts_a, ends_a),
        b_context=following(b, starts_b, ends_b),
    )


def line_diff(a: str, b: str) -> tuple[LineRow, ...]:
    """Line-by-line diff of two prompt versions, with word edits inside changed lines.

    Within a changed stretch, old and new lines are paired in order; the extra
    lines of the longer side become plain deletions or insertions.
    """
    lines_a, lines_b = a.splitlines(), b.splitlines()
    rows: list[LineRow] = []
    for kind, i1, i2, j1, j2 in _blocks(lines_a, lines_b):
        if kind == "equal":
            for offset in range(i2 - i1):
                line = lines_a[i1 + offset]
                rows.append(
                    LineRow("equal", i1 + offset + 1, j1 + offset + 1, line, lines_b[j1 + offset])
                )
            continue
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            if i < i2 and j < j2:
                words = word_diff(lines_a[i], lines_b[j])
                rows.append(LineRow("replace", i + 1, j + 1, lines_a[i], lines_b[j], words))
            elif i < i2:
                rows.append(LineRow("delete", i + 1, None, lines_a[i], ""))
            else:
                rows.append(LineRow("insert", None, j + 1, "", lines_b[j]))
    return tuple(rows)


def _line_cells(row: LineRow) -> tuple[str, str]:
    """The escaped, highlighted text of a row's two sides."""
    if row.op == "replace":
        return _two_sides(row.words)
    return escape(row.before), escape(row.after)


def _number(line: int | None) -> str:
    return f'<span class="wb-lineno">{line if line is not None else ""}</span>'


def line_diff_html(a: str, b: str) -> tuple[str, str]:
    """Two columns of the same number of rows: old version left, new version right."""
    left, right = [], []
    for row in line_diff(a, b):
        cell_a, cell_b = _line_cells(row)
        for column, line, cell, present in (
            (left, row.before_line, cell_a, row.op != "insert"),
            (right, row.after_line, cell_b, row.op != "delete"),
        ):
            kind = row.op if present else "empty"
            column.append(
                f'<div class="wb-line wb-line-{kind}">{_number(line)}{cell if present else ""}</div>'
            )
    return (
        f'<div class="wb-lines">{"".join(left)}</div>',
        f'<div class="wb-lines">{"".join(right)}</div>',
    )


def line_diff_table_html(a: str, b: str) -> str:
    """The same rows as ``line_diff_html`` in one table, so long lines stay aligned."""
    rows = []
    for row in line_diff(a, b):
        cell_a, cell_b = _line_cells(row)
        rows.append(
            f'<tr class="wb-line-{row.op}">'
            f'<td class="wb-lineno">{row.before_line or ""}</td>'
            f'<td class="wb-line-{row.op}">{cell_a}</td>'
            f'<td class="wb-lineno">{row.after_line or ""}</td>'
            f'<td class="wb-line-{row.op}">{cell_b}</td></tr>'
        )
    return f'<table class="wb-linediff">{"".join(rows)}</table>'
