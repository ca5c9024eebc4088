"""Check SQL before anything runs it: parse, refuse anything but one read-only query, format, transpile.

The model writes PostgreSQL; the demo database is DuckDB. Whatever the model writes is untrusted
input, so the check is layered, and each layer refuses on its own:

1. Tokens. The statement count is taken from sqlglot's tokenizer (so a semicolon inside a string
   or a comment does not count and one after a comment does), the first word must open a query
   (SELECT, WITH, VALUES, FROM, TABLE or a parenthesis), and no token may call a function on the
   deny-list. Statements sqlglot cannot parse (``ATTACH``, ``INSTALL``, ``glob(...)``) are refused
   here with their reason instead of surfacing as parse errors.
2. The syntax tree. The root must be a query; no node anywhere may be DML (also inside a CTE), DDL,
   a raw ``Command`` (sqlglot's fallback for statements it does not know), ``SELECT ... INTO``, a
   locking clause, a function that is not allowed (``workbench.sql.functions``: sqlglot's known
   functions minus a deny-list, plus an allow-list of the ones it does not know), or a table
   reference that names a file or URL.
3. Execution (``workbench.sql.execute``) runs the SQL regenerated from the tree (never the raw text),
   after DuckDB's own parser confirms a single SELECT, on a read-only connection with external
   access disabled and the configuration locked, in a worker process the OS holds to its limits.

Before any of that the text meets its ceiling (``workbench.sql.limits``): SQL that is too long or
nested too deeply is refused from its tokens, before sqlglot's recursive parser sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from workbench.errors import SQLExecutionError, SQLParseError, SQLRefused
from workbench.sql.division import keep_integer_division
from workbench.sql.functions import function_names, is_allowed_unknown_function, is_denied_function
from workbench.sql.limits import bounded_recursion, check_nesting, check_text

QUERY_STARTS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN}
)
"""Token types a read-only query may start with (``TABLE t`` is checked by word)."""

_TOKEN_REPR = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: .*?>")
_FILE_LIKE_TABLE = re.compile(r"[/\\:*?.~]")

_REFUSED_NODES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.DML, "it changes data"),
    (exp.Create, "it creates an object (DDL)"),
    (exp.Drop, "it drops an object (DDL)"),
    (exp.Alter, "it alters an object (DDL)"),
    (exp.TruncateTable, "it deletes data"),
    (exp.Command, "it is a command, not a query"),
    (exp.Pragma, "PRAGMA changes or reads database settings"),
    (exp.Set, "SET changes settings"),
    (exp.Use, "USE switches databases"),
    (exp.Attach, "ATTACH opens another database"),
    (exp.Detach, "DETACH closes a database"),
    (exp.Install, "INSTALL fetches an extension"),
    (exp.Export, "EXPORT writes files"),
    (exp.Transaction, "it controls a transaction"),
    (exp.Commit, "it controls a transaction"),
    (exp.Rollback, "it controls a transaction"),
    (exp.Grant, "it changes privileges"),
    (exp.Revoke, "it changes privileges"),
    (exp.Comment, "it changes object comments"),
    (exp.Analyze, "it updates statistics"),
    (exp.Describe, "it describes an object; ask a query instead"),
    (exp.Summarize, "SUMMARIZE is not a query"),
    (exp.Show, "SHOW is not a query"),
    (exp.Cache, "it changes the cache"),
    (exp.Uncache, "it changes the cache"),
    (exp.Refresh, "it refreshes an object"),
    (exp.LoadData, "it loads data from a file"),
    (exp.Kill, "it kills a session"),
    (exp.Into, "SELECT ... INTO creates a table"),
    (exp.Lock, "a locking clause (FOR UPDATE/SHARE) asks for write locks"),
)

REFUSED_WORDS = {
    "attach": "ATTACH opens another database",
    "detach": "DETACH closes a database",
    "install": "INSTALL fetches an extension",
    "load": "LOAD loads an extension",
    "copy": "COPY reads or writes files",
    "pragma": "PRAGMA changes or reads database settings",
    "set": "SET changes settings",
    "reset": "RESET changes settings",
    "call": "CALL runs a procedure",
    "export": "EXPORT writes files",
    "import": "IMPORT reads files",
    "checkpoint": "CHECKPOINT writes the database file",
    "use": "USE switches databases",
    "vacuum": "VACUUM rewrites the database",
    "insert": "it changes data (INSERT)",
    "update": "it changes data (UPDATE)",
    "delete": "it changes data (DELETE)",
    "merge": "it changes data (MERGE)",
    "upsert": "it changes data",
    "truncate": "it deletes data (TRUNCATE)",
    "create": "it creates an object (DDL)",
    "drop": "it drops an object (DDL)",
    "alter": "it alters an object (DDL)",
}
"""First words of statements that are refused, with the reason given."""


def _tokenize(sql: str, dialect: str) -> list[Token]:
    check_text(sql)
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError as exc:
        raise SQLParseError(f"SQL does not tokenize: {exc}") from exc
    check_nesting(tokens)
    return tokens


def _split_statements(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def parse_sql(sql: str, dialect: str = "postgres") -> exp.Expression:
    """Parse one SQL statement.

    Raises:
        SQLParseError: empty input, several statements, or a syntax error (with line and column).
    """
    if not _split_statements(_tokenize(sql, dialect)):
        raise SQLParseError("no SQL to parse: the text is empty or only comments")
    try:
        with bounded_recursion():
            statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = first.get("line"), first.get("col")
        description = _TOKEN_REPR.sub(r"'\1'", first.get("description") or str(exc).splitlines()[0])
        where = f" at line {line}, column {column}" if line is not None else ""
        raise SQLParseError(
            f"SQL does not parse{where}: {description}", line=line, column=column
        ) from exc
    except TokenError as exc:
        raise SQLParseError(f"SQL does not tokenize: {exc}") from exc
    if len(statements) != 1:
        raise SQLParseError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


def _check_tokens(tokens: list[Token]) -> None:
    statements = _split_statements(tokens)
    if not statements:
        raise SQLParseError("no SQL to check: the text is empty or only comments")
    if len(statements) > 1:
        second = statements[1][0]
        raise SQLRefused(
            f"refused: {len(statements)} statements; only a single query may run "
            f"(the second starts with {second.text!r} on line {second.line})"
        )
    statement = statements[0]
    first = next((t for t in statement if t.token_type != TokenType.L_PAREN), statement[0])
    word = first.text.lower()
    if word in REFUSED_WORDS:
        raise SQLRefused(f"refused: {first.text.upper()} is not allowed, {REFUSED_WORDS[word]}")
    if first.token_type not in QUERY_STARTS and word != "table":
        raise SQLRefused(
            f"refused: only a read-only query (SELECT, WITH ... SELECT, VALUES) may run; "
            f"this statement starts with {first.text!r}"
        )
    for token, following in zip(statement, statement[1:], strict=False):
        if following.token_type == TokenType.L_PAREN and is_denied_function(token.text):
            raise SQLRefused(
                f"refused: function {token.text}() reaches outside the query (files, network, settings or sequences) "
                f"(line {token.line})"
            )


def _check_tree(tree: exp.Expression, dialect: str) -> None:
    if not isinstance(tree, exp.Query | exp.Values):
        raise SQLRefused(
            f"refused: only a read-only query may run; this is {type(tree).__name__.upper()}"
        )
    for node in tree.walk():
        for kind, reason in _REFUSED_NODES:
            if isinstance(node, kind):
                snippet = node.sql(dialect="postgres")[:60]
                raise SQLRefused(f"refused: {reason}" + (f" ({snippet!r})" if snippet else ""))
        if isinstance(node, exp.Func):
            denied = sorted(n for n in function_names(node) if is_denied_function(n))
            if denied:
                raise SQLRefused(
                    f"refused: function {denied[0]}() reaches outside the query (files, network, settings or sequences)"
                )
            if isinstance(node, exp.Anonymous) and not is_allowed_unknown_function(
                node.name, dialect
            ):
                raise SQLRefused(
                    f"refused: function {node.name}() is not one a query may call; only "
                    "functions known to compute on values are allowed (see ALLOWED_FUNCTIONS "
                    "in workbench/sql/check.py)"
                )
        if isinstance(node, exp.Table):
            _check_table(node)


def _check_table(table: exp.Table) -> None:
    target = table.this
    if isinstance(target, exp.Literal) and target.is_string:
        raise SQLRefused(f"refused: a string used as a table reads a file ({target.sql()})")
    if isinstance(target, exp.Identifier) and _FILE_LIKE_TABLE.search(target.name):
        raise SQLRefused(
            f"refused: table name {target.name!r} looks like a file path or URL; "
            f"query the database's own tables"
        )


def check_readonly(sql: str, dialect: str = "postgres") -> exp.Expression:
    """Parse ``sql`` and return its tree if it is a single read-only query.

    Raises:
        SQLParseError: empty input or a syntax error (with line and column).
        SQLRefused: anything but one read-only query; the message gives the reason.
    """
    _check_tokens(_tokenize(sql, dialect))
    tree = parse_sql(sql, dialect)
    with bounded_recursion():
        _check_tree(tree, dialect)
    return tree


def format_sql(sql: str, dialect: str = "postgres") -> str:
    """Pretty-print one statement for display (comments kept)."""
    tree = parse_sql(sql, dialect)
    with bounded_recursion():
        return tree.sql(dialect=dialect, pretty=True)


def to_duckdb(
    sql: str, dialect: str = "postgres", schema: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """Transpile one statement to DuckDB, regenerated from its tree (comments dropped).

    Args:
        schema: ``{table: {column: type}}`` of the target database. With it, PostgreSQL's integer
            division (``SUM(id) / COUNT(id)`` is 6) is kept wherever PostgreSQL types both
            operands as integers (``workbench.sql.division``); DuckDB's ``/`` would give 6.5.
    """
    return tree_to_duckdb(parse_sql(sql, dialect), schema)


def tree_to_duckdb(
    tree: exp.Expression, schema: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """DuckDB SQL for a parsed tree (see ``to_duckdb``); the tree is not modified.

    Raises:
        SQLExecutionError: DuckDB cannot say what the query says (``duckdb_problem``); a
            transpile that changed the meaning would return other rows without a word.
    """
    problem = duckdb_problem(tree)
    if problem:
        raise SQLExecutionError(f"DuckDB cannot run this query as written: {problem}")
    with bounded_recursion():
        return keep_integer_division(tree.copy(), schema).sql(dialect="duckdb", comments=False)


def keeps_ties(limit: exp.Expression) -> bool:
    """Whether a LIMIT/FETCH node is ``FETCH FIRST n ROWS WITH TIES``."""
    options = limit.args.get("limit_options")
    return isinstance(limit, exp.Fetch) and bool(options and options.args.get("with_ties"))


def duckdb_problem(tree: exp.Expression) -> str | None:
    """Why the DuckDB transpile of ``tree`` would mean something else, or None when it is
    faithful. sqlglot writes what DuckDB lacks as the nearest thing it has, silently."""
    if any(keeps_ties(node) for node in tree.find_all(exp.Fetch)):
        return (
            "FETCH FIRST n ROWS WITH TIES keeps every row tied with the last one; DuckDB has no "
            "WITH TIES, and the transpile would be a plain LIMIT n that cuts the ties (run it on "
            "PostgreSQL, or rank() the rows and keep rank <= n)"
        )
    return None
