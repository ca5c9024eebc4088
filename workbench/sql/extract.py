"""The SQL query in a model's answer: past thinking, fences, labels and trailing prose."""

from __future__ import annotations

import re

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from workbench.errors import SQLParseError
from workbench.sql.check import parse_sql

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_QUERY_START = re.compile(r"(?im)^[ \t>*-]*(?:sql\s*:\s*)?\(*\s*(select|with|values)\b")
_QUERY_MID_LINE = re.compile(r"\b(SELECT|WITH)\b")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SQL_LABEL = re.compile(r"(?i)^\s*(?:sql(?:\s+query)?|query)\s*:\s*")


def extract_sql(model_output: str) -> str:
    """Pull the SQL query out of a model's answer.

    Skips ``<think>`` blocks (also a bare ``</think>`` left by a chat template), prefers fenced
    code (the last fence holding a complete SELECT/WITH), then an unfenced query after prose or a
    ``SQL:`` label, cut at its first semicolon or at the prose that follows it.

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
            return _trim_trailing_prose(_cut_statement(text[mid_line.start() :]))
        raise SQLParseError(
            "no SQL found in the model's answer (expected a SELECT or WITH query, "
            "ideally in a ```sql fence)"
        )
    candidate = _cut_statement(text[start.start(1) - _open_parens(text, start) :])
    return _trim_trailing_prose(candidate)


def _open_parens(text: str, match: re.Match[str]) -> int:
    prefix = text[match.start() : match.start(1)]
    return len(prefix) - len(prefix.rstrip("( \t"))


def _cut_statement(body: str) -> str:
    """The text up to the first statement-ending semicolon (outside strings and comments)."""
    body = _SQL_LABEL.sub("", body.strip())
    try:
        tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(body)
    except TokenError:
        return body.strip().rstrip(";").strip()
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            return body[: token.start].strip()
    return body.strip().rstrip(";").strip()


def _trim_trailing_prose(candidate: str) -> str:
    """Drop lines of prose after the query: the longest prefix of lines that parses."""
    if _parses(candidate):
        return candidate
    lines = candidate.splitlines()
    for end in range(len(lines) - 1, 0, -1):
        prefix = "\n".join(lines[:end]).strip()
        if prefix and _parses(prefix):
            return prefix
    return candidate


def _parses(sql: str) -> bool:
    try:
        parse_sql(sql)
    except SQLParseError:
        return False
    return True
