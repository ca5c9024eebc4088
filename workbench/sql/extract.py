"""The SQL query in a model's answer: past thinking, fences, labels and trailing prose.

Two rules keep extraction honest and cheap:

- **What runs is what was written.** A query found inside a statement that writes
  (``INSERT INTO t SELECT ...``, ``CREATE TABLE t AS SELECT ...``) or followed by one
  (``SELECT 1; DROP TABLE t``) is returned with it, so the check refuses the whole, as
  ``sql run`` would; running only the SELECT part would trace a refused statement as a success.
- **Linear in the answer.** An answer may be thousands of lines of prose. Trailing prose is
  cut where the parser reports the error, a bounded number of times, instead of trying every
  prefix of lines; and nothing longer than the check accepts is ever parsed.
- **A cut query never runs.** Only the first ``MAX_SQL_CHARS`` characters from a query's start
  are read. Prose after a query is dropped as always; but when the query itself runs past
  that (see ``_runs_past_the_cap``), extraction fails naming the length and the cap, instead
  of returning the part that fits, which may parse and run as a different query.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from workbench.errors import SQLParseError
from workbench.sql.check import REFUSED_WORDS, parse_sql
from workbench.sql.limits import MAX_SQL_CHARS

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_QUERY_START = re.compile(r"(?im)^[ \t>*-]*(?:sql\s*:\s*)?\(*\s*(select|with|values)\b")
_QUERY_MID_LINE = re.compile(r"\b(SELECT|WITH)\b")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SQL_LABEL = re.compile(r"(?i)^\s*(?:sql(?:\s+query)?|query)\s*:\s*")
_WRITING_WORD = re.compile(r"(?i)\b(insert|create|update|delete|merge|upsert|copy|explain)\b")
"""Words that open a statement a query can be part of (``INSERT INTO t SELECT ...``)."""
_STATEMENT_BREAK = re.compile(r"\n[ \t]*\n|;|```")

MAX_TRIM_ATTEMPTS = 8
"""How many times trailing prose is cut at the parser's error before the text is kept as is."""
WRITING_LOOKBACK = 3
"""How many writing keywords before a query are tried as the start of its statement."""


def extract_sql(model_output: str) -> str:
    """Pull the SQL query out of a model's answer.

    Skips ``<think>`` blocks (also a bare ``</think>`` left by a chat template), prefers fenced
    code (the last fence holding a complete SELECT/WITH), then an unfenced query after prose or a
    ``SQL:`` label, cut at its first semicolon or at the prose that follows it. A query that is
    part of a statement that writes comes back with that statement (and is refused by the check).

    Raises:
        SQLParseError: the answer holds no SQL query.
    """
    text = model_output
    if "</think>" in text.lower():
        text = text[text.lower().rindex("</think>") + len("</think>") :]
    text = _THINK_BLOCK.sub("", text)

    fenced = [body for _, body in _FENCE.findall(text) if _QUERY_START.search(body)]
    complete = [_cut_statement(body) for body in fenced if not _open_ended(body)]
    complete = [sql for sql in complete if sql and _parses(sql)]
    if complete:
        return complete[-1]
    if fenced:
        return _whole_statement(fenced[-1])

    start = _QUERY_START.search(text)
    if start is None:
        inline = [c for c in _INLINE_CODE.findall(text) if _QUERY_START.search(c)]
        if inline:
            return _whole_statement(inline[-1])
        mid_line = _QUERY_MID_LINE.search(text)
        if mid_line is not None:
            return _query_at(text, mid_line.start())
        raise SQLParseError(
            "no SQL found in the model's answer (expected a SELECT or WITH query, "
            "ideally in a ```sql fence)"
        )
    return _query_at(text, start.start(1) - _open_parens(text, start))


def _query_at(text: str, position: int) -> str:
    """The query starting at ``position``, or the writing statement it belongs to."""
    writing = _writing_statement(text, position)
    if writing is not None:
        return writing
    rest = text[position:]
    statement = _cut_statement(rest)
    query, first_complaint = _trim(statement)
    if _open_ended(rest) and _runs_past_the_cap(statement, first_complaint):
        raise _too_long(rest)
    return query


def _writing_statement(text: str, position: int) -> str | None:
    """``INSERT INTO t`` / ``CREATE TABLE t AS`` before a query, when they form one statement.

    Only keywords in the same stretch of text (no blank line, semicolon or fence between) are
    tried, nearest first, and only a candidate that parses counts: prose that happens to begin
    with "Create" or "Update" is not a statement.
    """
    breaks = list(_STATEMENT_BREAK.finditer(text, 0, position))
    stretch = breaks[-1].end() if breaks else 0
    words = list(_WRITING_WORD.finditer(text, stretch, position))
    for word in reversed(words[-WRITING_LOOKBACK:]):
        candidate = _trim_trailing_prose(_cut_statement(text[word.start() :]))
        reaches_query = word.start() + len(candidate) > position
        if reaches_query and _is_statement(candidate):
            return candidate
    return None


def _open_parens(text: str, match: re.Match[str]) -> int:
    prefix = text[match.start() : match.start(1)]
    return len(prefix) - len(prefix.rstrip("( \t"))


def _cut_statement(body: str) -> str:
    """The text up to the first statement-ending semicolon (outside strings and comments).

    When what follows the semicolon is a statement that writes (``SELECT 1; DROP TABLE t``),
    the text runs on to the end of that one: both go to the check, which refuses them.
    """
    body = _SQL_LABEL.sub("", _head(body.strip()))
    try:
        tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(body)
    except TokenError:
        return body.strip().rstrip(";").strip()
    ends = [i for i, token in enumerate(tokens) if token.token_type == TokenType.SEMICOLON]
    if not ends:
        return body.strip().rstrip(";").strip()
    first = ends[0]
    following = tokens[first + 1] if first + 1 < len(tokens) else None
    if following is not None and following.text.lower() in REFUSED_WORDS:
        second = next((i for i in ends if i > first + 1), None)
        end = tokens[second].start if second is not None else len(body)
        if _is_statement(body[following.start : end]):
            return body[:end].strip()
    return body[: tokens[first].start].strip()


def _whole_statement(body: str) -> str:
    """``_cut_statement`` of code that is all SQL (a fence, inline code): when no ``;`` ends
    it within the characters read, the query is longer than the cap."""
    if _open_ended(body):
        raise _too_long(body)
    return _cut_statement(body)


def _open_ended(body: str) -> bool:
    """True when ``body`` is longer than is read and no statement ends within what is read:
    the statement may run past the cap (``_cut_statement`` saw only its head)."""
    head = _head(body.strip())
    if len(head) == len(body.strip()):
        return False
    try:
        tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(_SQL_LABEL.sub("", head))
    except TokenError:
        return True  # an open string or comment at the cut: the statement goes on
    return not any(token.token_type == TokenType.SEMICOLON for token in tokens)


def _runs_past_the_cap(statement: str, first_complaint: int | None) -> bool:
    """Whether the query in ``statement`` (what was read of an open-ended one) is cut.

    The text was cut at ``MAX_SQL_CHARS``, at a line end. The query is whole when trailing
    prose was dropped before the cut: the parser's first complaint was on a line before the
    last one. It is cut when the head parses to its end (the cut fell where the query could
    end), when the first complaint is on the last line (the line the cut went through, so the
    query runs into it), or when no prefix parsed (``first_complaint`` is None either way).
    A query followed by one line of prose longer than the cap is taken for a cut query: an
    error, never a cut query that runs.
    """
    last_line = statement.count("\n")
    return first_complaint is None or first_complaint >= last_line


def _too_long(body: str) -> SQLParseError:
    return SQLParseError(
        f"the SQL in the model's answer is longer than the {MAX_SQL_CHARS:,} characters that "
        f"are checked (it runs on for up to {len(body.strip()):,} characters with no end of "
        "statement): ask for a shorter query, or lower the SQL stage's max_tokens"
    )


def _head(text: str) -> str:
    """At most the first ``MAX_SQL_CHARS`` characters, cut at a line end when there is one:
    a query cannot be longer than the check accepts, so the prose after it need not be read."""
    if len(text) <= MAX_SQL_CHARS:
        return text
    head = text[:MAX_SQL_CHARS]
    return head[: head.rfind("\n")] if "\n" in head else head


def _trim_trailing_prose(candidate: str) -> str:
    """Drop lines of prose after the query (see ``_trim``)."""
    return _trim(candidate)[0]


def _trim(candidate: str) -> tuple[str, int | None]:
    """Drop lines of prose after the query; also the line (0-based) of the parser's first
    complaint, None when it had none or no prefix parsed (the candidate is returned whole).

    The parser names the line it could not read; the text is cut just before that line and
    parsed again, at most ``MAX_TRIM_ATTEMPTS`` times (a statement sqlglot could only keep as
    a raw command loses its last line instead). Each attempt parses at most the query's
    length, so the whole costs a bounded number of parses however long the prose runs.
    """
    text = candidate
    first_complaint: int | None = None
    for _ in range(MAX_TRIM_ATTEMPTS):
        lines = text.splitlines()
        try:
            tree = parse_sql(text)
        except SQLParseError as exc:
            keep = min(exc.line - 1, len(lines) - 1) if exc.line else 0
        else:
            if not isinstance(tree, exp.Command):
                return text, first_complaint
            # sqlglot kept a statement it could not read whole as a raw command (it does so for
            # CREATE ... followed by prose); it names no line, so drop the last one.
            keep = len(lines) - 1
        if first_complaint is None:
            first_complaint = keep
        text = "\n".join(lines[:keep]).strip()
        if not text:
            return candidate, None
    return candidate, None


def _parses(sql: str) -> bool:
    try:
        parse_sql(sql)
    except SQLParseError:
        return False
    return True


def _is_statement(sql: str) -> bool:
    """True when ``sql`` parses as a statement sqlglot understands (not prose it would
    keep as a raw command)."""
    try:
        tree = parse_sql(sql)
    except SQLParseError:
        return False
    return not isinstance(tree, exp.Command)
