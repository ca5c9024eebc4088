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
   locking clause, a function on the deny-list, or a table reference that names a file or URL.
3. Execution (``workbench.sql.execute``) runs the SQL regenerated from the tree (never the raw text),
   after DuckDB's own parser confirms a single SELECT, on a read-only connection with external
   access disabled and the configuration locked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.tokens import Token, TokenType

from workbench.errors import SQLParseError, SQLRefused

QUERY_STARTS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN}
)
"""Token types a read-only query may start with (``TABLE t`` is checked by word)."""

DENIED_FUNCTIONS = frozenset(
    {
        # DuckDB: files, URLs, other databases, secrets, the environment.
        "read_csv",
        "read_csv_auto",
        "read_text",
        "read_blob",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_xlsx",
        "glob",
        "sniff_csv",
        "delta_scan",
        "iceberg_scan",
        "iceberg_metadata",
        "iceberg_snapshots",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "postgres_query",
        "postgres_execute",
        "mysql_scan",
        "mysql_query",
        "mysql_execute",
        "query",
        "query_table",
        "json_execute_serialized_sql",
        "st_read",
        "httpfs",
        "http_get",
        "http_post",
        "duckdb_secrets",
        "load_aws_credentials",
        "getenv",
        "nextval",
        "setval",
        "checkpoint",
        "force_checkpoint",
        # PostgreSQL: server files and side channels.
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "dblink",
        "dblink_exec",
        "pg_sleep",
        "set_config",
        "pg_terminate_backend",
        "pg_cancel_backend",
    }
)
"""Functions that reach outside the database or change its state, by lower-case name."""

DENIED_PREFIXES = ("read_", "pg_read", "pg_ls", "lo_")
DENIED_SUFFIXES = ("_scan", "_attach", "_query", "_execute")

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

_REFUSED_WORDS = {
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


def _tokenize(sql: str, dialect: str) -> list[Token]:
    try:
        return sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError as exc:
        raise SQLParseError(f"SQL does not tokenize: {exc}") from exc


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


def _function_names(node: exp.Func) -> set[str]:
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {name.lower() for name in type(node).sql_names()} | {node.key.lower()}


def _is_denied_function(name: str) -> bool:
    name = name.lower()
    return (
        name in DENIED_FUNCTIONS
        or name.startswith(DENIED_PREFIXES)
        or name.endswith(DENIED_SUFFIXES)
    )


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
    if word in _REFUSED_WORDS:
        raise SQLRefused(f"refused: {first.text.upper()} is not allowed, {_REFUSED_WORDS[word]}")
    if first.token_type not in QUERY_STARTS and word != "table":
        raise SQLRefused(
            f"refused: only a read-only query (SELECT, WITH ... SELECT, VALUES) may run; "
            f"this statement starts with {first.text!r}"
        )
    for token, following in zip(statement, statement[1:], strict=False):
        if following.token_type == TokenType.L_PAREN and _is_denied_function(token.text):
            raise SQLRefused(
                f"refused: function {token.text}() reaches outside the query (files, network, settings or sequences) "
                f"(line {token.line})"
            )


def _check_tree(tree: exp.Expression) -> None:
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
            denied = sorted(n for n in _function_names(node) if _is_denied_function(n))
            if denied:
                raise SQLRefused(
                    f"refused: function {denied[0]}() reaches outside the query (files, network, settings or sequences)"
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
    _check_tree(tree)
    return tree


def format_sql(sql: str, dialect: str = "postgres") -> str:
    """Pretty-print one statement for display (comments kept)."""
    return parse_sql(sql, dialect).sql(dialect=dialect, pretty=True)


def to_duckdb(
    sql: str, dialect: str = "postgres", schema: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """Transpile one statement to DuckDB, regenerated from its tree (comments dropped).

    Args:
        schema: ``{table: {column: type}}`` of the target database. With it, PostgreSQL's integer
            division (``7 / 2`` is 3) is kept where both operands are known integers; DuckDB's
            ``/`` would give 3.5. Columns the annotator cannot resolve keep DuckDB's ``/``.
    """
    return tree_to_duckdb(parse_sql(sql, dialect), schema)


def _postgres_types() -> dict:
    # PostgreSQL's EXTRACT and date_part return numeric (double before 14), never an integer:
    # EXTRACT(EPOCH FROM d) / 3600 is not an integer division there.
    postgres = sqlglot.Dialect.get_or_raise("postgres")
    return {**postgres.EXPRESSION_METADATA, exp.Extract: {"returns": exp.DType.DECIMAL}}


def tree_to_duckdb(
    tree: exp.Expression, schema: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """DuckDB SQL for a parsed tree (see ``to_duckdb``); the tree is not modified."""
    typed = tree.copy()
    try:
        typed = annotate_types(
            typed,
            schema=dict(schema) if schema else None,
            expression_metadata=_postgres_types(),
        )
    except Exception:  # types are a refinement; an unknown type must not block the query
        typed = tree.copy()
    return typed.sql(dialect="duckdb", comments=False)
