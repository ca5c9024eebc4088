"""The ceiling on SQL, from its text to its rows, and what happens at each limit.

Untrusted SQL costs resources at every step, so every step has a limit:

- **text**: more than ``MAX_SQL_CHARS`` characters, or nesting deeper than ``MAX_NESTING`` (or
  ``ARRAY[...]`` deeper than ``MAX_ARRAY_NESTING``), is refused from its tokens before sqlglot's
  recursive parser sees it: a clear ``SQLParseError`` instead of a ``RecursionError`` or minutes
  of parsing. A ``RecursionError`` that still happens is turned into the same error.
- **time**: on DuckDB, checking, transpiling and running a query happen in a worker process
  (``workbench.sql.worker``); DuckDB is interrupted at the timeout and the process is killed
  ``KILL_GRACE_S`` later if it has not answered, whatever it was doing. On PostgreSQL the
  server's ``statement_timeout`` stops the query (``workbench.sql.postgres``).
- **memory**: the worker's address space is capped at ``WORKER_ADDRESS_SPACE_BYTES`` by the OS,
  DuckDB's own ``memory_limit`` is ``DUCKDB_MEMORY_LIMIT``; a query that needs more fails. A
  PostgreSQL query uses the server's memory; what reaches the calling process is bounded by the
  byte caps below.
- **bytes**, on every database: a cell longer than ``MAX_CELL_BYTES`` is cut, and no more rows
  are kept once the result holds ``MAX_RESULT_BYTES``; either marks the result truncated (never
  equivalent to a gold result), with ``cut_by`` saying which. The row cap
  (``WORKBENCH_SQL_ROW_CAP``) applies too. DuckDB's rows are cut in its worker; PostgreSQL's are
  cut by the server before they are sent (``workbench.sql.pgcaps``), since they arrive in the
  calling process whole: there a cell's cap is also at most ``MAX_RESULT_BYTES`` divided by the
  number of columns, so that one row cannot exceed the result's cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlglot.tokens import Token, TokenType

from workbench.errors import SQLParseError

MAX_SQL_CHARS = 20_000
"""Longer SQL is refused before it is parsed (a generated query is a few hundred characters)."""
MAX_NESTING = 24
"""Parentheses, brackets, braces and CASE ... END nested deeper than this are refused."""
MAX_ARRAY_NESTING = 6
"""``ARRAY[...]`` nested deeper than this is refused (sqlglot's time doubles with each level)."""
NESTED_TOO_DEEPLY = (
    "the SQL is nested too deeply to check (at most {limit} levels of parentheses, brackets, "
    "CASE or operators); write it flatter, e.g. with a WITH clause"
)

DUCKDB_MEMORY_LIMIT = "1GB"
"""DuckDB's own limit for what it manages (joins, sorts, aggregates)."""
WORKER_ADDRESS_SPACE_BYTES = 3 * 1024**3
"""The OS limit on the worker's whole address space: what DuckDB ignores its limit for (a huge
string, a huge list) fails here."""
MAX_CELL_BYTES = 1024**2
"""A cell longer than this (text, bytes, or a list or struct written out) is cut: text and bytes
to a prefix, anything else to a note (``execute.cut_note``)."""
MAX_RESULT_BYTES = 32 * 1024**2
"""No more rows are kept once a result holds this much."""
KILL_GRACE_S = 1.0
"""How long after its timeout a worker that has not answered is killed."""


def check_text(sql: str) -> None:
    """Refuse text too long to parse, or that is not valid Unicode."""
    if len(sql) > MAX_SQL_CHARS:
        raise SQLParseError(
            f"the SQL is {len(sql):,} characters long; at most {MAX_SQL_CHARS:,} are checked: "
            "ask for a shorter query"
        )
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SQLParseError(
            f"the SQL is not valid Unicode text (character {exc.start} is a lone surrogate, "
            "often bytes that were not UTF-8)"
        ) from exc


_OPENERS = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSERS = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_PREFIX_OPERATORS = {TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE}


def check_nesting(tokens: list[Token]) -> None:
    """Refuse SQL nested deeper than the parser can take, counted on its tokens.

    A level is an open parenthesis, bracket, brace or CASE; a run of prefix operators
    (``NOT NOT -x``) and a chain of subscripts (``x[1][2]``, which sqlglot nests) count too.
    """
    arrays: list[bool] = []  # one entry per open level: does it open an ARRAY?
    chain = closed_chain = operators = 0
    previous: Token | None = None
    for token in tokens:
        kind = token.token_type
        after = previous.token_type if previous is not None else None
        if kind in _OPENERS:
            arrays.append(after == TokenType.ARRAY)
            chain = (
                closed_chain + 1
                if kind == TokenType.L_BRACKET and after == TokenType.R_BRACKET
                else 0
            )
            if sum(arrays) > MAX_ARRAY_NESTING:
                raise SQLParseError(
                    f"the SQL nests ARRAY[...] more than {MAX_ARRAY_NESTING} levels deep; "
                    "write it flatter",
                    line=token.line,
                    column=token.col,
                )
        elif kind in _CLOSERS and arrays:
            arrays.pop()
            closed_chain = chain
            chain = 0
        operators = operators + 1 if kind in _PREFIX_OPERATORS else 0
        if len(arrays) + chain + operators > MAX_NESTING:
            raise SQLParseError(
                NESTED_TOO_DEEPLY.format(limit=MAX_NESTING), line=token.line, column=token.col
            )
        previous = token


@contextmanager
def bounded_recursion() -> Iterator[None]:
    """Turn a RecursionError from sqlglot's recursive parser or generator into a clear error."""
    try:
        yield
    except RecursionError as exc:
        raise SQLParseError(NESTED_TOO_DEEPLY.format(limit=MAX_NESTING)) from exc
