"""The SQL query in a model's answer: past thinking, fences, labels and trailing prose.

Two rules keep extraction honest and cheap:

- **What runs is what was written.** A query found inside a statement that writes
  (``INSERT INTO t SELECT ...``, ``CREATE TABLE t AS SELECT ...``) or followed by one
  (``SELECT 1; DROP TABLE t``) is returned with it, so the check refuses the whole, as
  ``sql run`` would; running only the SELECT part would trace a refused statement as a success.
- **Linear in the answer.** An answer may be thousands of lines of prose. Trailing prose is
  cut where the parser reports the error, a bounded number of times, instead of trying every
  prefix of lines; and nothing longer than the check accepts is ever parsed.
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
    complete = [_cut_statement(body) for body in fenced]
    complete = [sql for sql in complete if sql and _parses(sql)]
    if complete:
        return complete[-1]
    if fenced:
        return _cut_statement(fenced[-1])

    start = _QUERY_START.search(text)
    if start is None:
        inline = [c for c in _INLINE_CODE.findall(text) if _QUERY_START.search(c)]
        if inline:
            return _cut_statement(inline[-1])
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
    return _trim_trailing_prose(_cut_statement(text[position:]))


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


def _head(text: str) -> str:
    """At most the first ``MAX_SQL_CHARS`` characters, cut at a line end when there is one:
    a query cannot be longer than the check accepts, so the prose after it need not be read."""
    if len(text) <= MAX_SQL_CHARS:
        return text
    head = text[:MAX_SQL_CHARS]
    return head[: head.rfind("\n")] if "\n" in head else head


def _trim_trailing_prose(candidate: str) -> str:
    """Drop lines of prose after the query.

    The parser names the line it could not read; the text is cut just before that line and
    parsed again, at most ``MAX_TRIM_ATTEMPTS`` times (a statement sqlglot could only keep as
    a raw command loses its last line instead). Each attempt parses at most the query's
    length, so the whole costs a bounded number of parses however long the prose runs.
    """
    text = candidate
    for _ in range(MAX_TRIM_ATTEMPTS):
        lines = text.splitlines()
        try:
            tree = parse_sql(text)
        except SQLParseError as exc:
            keep = min(exc.line - 1, len(lines) - 1) if exc.line else 0
        else:
            if not isinstance(tree, exp.Command):
                return text
            # sqlglot kept a statement it could not read whole as a raw command (it does so for
            # CREATE ... followed by prose); it names no line, so drop the last one.
            keep = len(lines) - 1
        text = "\n".join(lines[:keep]).strip()
        if not text:
            return candidate
    return candidate


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
