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
error. An output that is the prompt's example rather than a rewrite of the question
(``echoed_example``) is an error too: a later stage would turn it into the wrong query.
"""

from __future__ import annotations

import difflib
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


# -- an answer that is the prompt's example ---------------------------------------------

ECHO_SIMILARITY = 0.6
"""How alike (0..1, over words) an output and an example's output must be to count as a
copy (see ``echoed_example`` for the other two conditions)."""
SAME_QUESTION = 0.8
"""An input this alike to the example's input is the example's question: copying is right."""
_WORD = re.compile(r"[\w'-]+")
_BODY_EXAMPLE = re.compile(r"^\s*Input:\s*(.+)\n\s*Output:\s*(.+)$", re.I | re.M)


def body_examples(body: str) -> tuple[tuple[str, str], ...]:
    """The ``Input:`` / ``Output:`` pairs written in a prompt's body."""
    return tuple((m[1].strip(), m[2].strip()) for m in _BODY_EXAMPLE.finditer(body))


def echoed_example(
    output: str,
    given: str,
    examples: tuple[tuple[str, str], ...],
    instructions: str = "",
) -> tuple[str, str] | None:
    """The example (input, output) whose answer ``output`` copies instead of rewriting
    ``given``, or None.

    Small models often answer with the prompt's example, its dates changed. Such an
    output is more like the example's answer than like the question it was given, and it
    carries a word of the example's answer that is neither in the question nor in the
    prompt's ``instructions`` (its body): "lipid" in a question about thyroid tests. A good
    rewrite in the shape the example shows borrows only the shape, whose words the rules
    name too."""
    words = _words(output)
    known = set(_words(given)) | set(_words(_strip_examples(instructions)))
    for example_input, example_output in examples:
        if _alike(_words(given), _words(example_input)) >= SAME_QUESTION:
            continue
        shown = _words(example_output)
        to_example = _alike(words, shown)
        if to_example < ECHO_SIMILARITY or to_example <= _alike(words, _words(given)):
            continue
        if set(words) & (set(shown) - known - _FUNCTION_WORDS):
            return example_input, example_output
    return None


def _strip_examples(body: str) -> str:
    return _BODY_EXAMPLE.sub("", body)


_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "from",
        "by",
        "to",
        "in",
        "on",
        "at",
        "and",
        "or",
        "with",
        "through",
        "per",
        "each",
        "all",
        "is",
        "are",
        "was",
    ]
)


def _words(text: str) -> list[str]:
    """Lower-case words, a plural's ``s`` dropped (``tests`` is ``test``)."""
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in _WORD.findall(text.casefold())
    ]


def _alike(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a or b else 1.0
