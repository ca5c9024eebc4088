"""PostgreSQL's integer division, kept when a query written for PostgreSQL runs on DuckDB.

In PostgreSQL ``/`` between two integer-typed operands divides and truncates toward zero:
``SUM(id) / COUNT(id)`` is 6 where DuckDB's ``/`` says 6.5. Which operands are integers follows
PostgreSQL's own typing, not sqlglot's or DuckDB's, because they differ exactly where a verdict
would flip (checked against PostgreSQL 15):

- ``SUM`` of a smallint or integer is a bigint, but ``SUM`` of a bigint is numeric, so
  ``SUM(bigint_column) / COUNT(*)`` keeps its fraction;
- ``EXTRACT`` is numeric and ``DATE_PART`` double precision: ``EXTRACT(YEAR FROM d) / 2`` is
  1012.5;
- a date minus a date is an integer number of days;
- ``COUNT``, ``ROW_NUMBER``, ``RANK``, ``LENGTH`` are integers; ``AVG``, ``ROUND``, ``FLOOR``
  are not; ``+ - * %``, ``ABS``, ``COALESCE``, ``CASE``, ``GREATEST`` of integers are integers.

Columns are resolved through the query's scopes: to the database's schema for tables, and to
the defining expression for columns of CTEs, subqueries and VALUES lists, so ``n / 7`` over
``WITH c AS (SELECT COUNT(*) AS n ...)`` divides integers too. A division whose operand types
cannot be told stays DuckDB's ``/``. Integer divisions become DuckDB's ``//``, which truncates
toward zero and refuses a zero divisor as PostgreSQL does.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

Width = int
"""Bytes of an integer type (2, 4 or 8); ``None`` stands for a type that is not an integer."""

DUCKDB_INTEGER_WIDTHS: Mapping[str, Width] = {
    "TINYINT": 2,
    "UTINYINT": 2,
    "SMALLINT": 2,
    "USMALLINT": 4,
    "INTEGER": 4,
    "UINTEGER": 8,
    "BIGINT": 8,
}
"""Database column types (DuckDB's names) and the PostgreSQL integer each stands for."""

_CAST_WIDTHS: Mapping[exp.DataType.Type, Width] = {
    exp.DataType.Type.TINYINT: 2,
    exp.DataType.Type.SMALLINT: 2,
    exp.DataType.Type.INT: 4,
    exp.DataType.Type.BIGINT: 8,
}
_EIGHT_BYTES = (exp.Count, exp.RowNumber, exp.Rank, exp.DenseRank)
_FOUR_BYTES = (exp.Ntile, exp.Length, exp.StrPosition, exp.ArraySize)
_SAME_AS_ARGUMENT = (
    exp.Max,
    exp.Min,
    exp.Abs,
    exp.Neg,
    exp.Paren,
    exp.Alias,
    exp.Filter,
    exp.Window,
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
    exp.Nullif,
)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.Div, exp.IntDiv)


def keep_integer_division(
    tree: exp.Expression, schema: Mapping[str, Mapping[str, str]] | None
) -> exp.Expression:
    """``tree`` with every division of two PostgreSQL integers made an integer division
    (``exp.IntDiv``); ``tree`` is modified in place and returned."""
    typing = _PostgresIntegers(tree, schema or {})
    for division in [d for d in tree.find_all(exp.Div) if typing.is_integer_division(d)]:
        division.replace(exp.IntDiv(this=division.this, expression=division.expression))
    return tree


class _PostgresIntegers:
    """Which expressions of one query PostgreSQL types as integers, and how wide."""

    def __init__(self, tree: exp.Expression, schema: Mapping[str, Mapping[str, str]]) -> None:
        self.schema = {
            table.lower(): {column.lower(): kind.upper() for column, kind in columns.items()}
            for table, columns in schema.items()
        }
        self.scope_of: dict[int, Scope] = {}
        try:
            scopes = traverse_scope(tree)
        except Exception:  # a query sqlglot cannot scope: only literals and casts are typed
            scopes = []
        for scope in scopes:  # innermost first: a column belongs to the first scope listing it
            for column in scope.columns:
                self.scope_of.setdefault(id(column), scope)
        self.resolving: set[int] = set()

    def is_integer_division(self, division: exp.Div) -> bool:
        return self.width(division.this) is not None and self.width(division.expression) is not None

    def width(self, node: exp.Expression | None) -> Width | None:
        if node is None:
            return None
        if isinstance(node, exp.Literal):
            return _literal_width(node)
        if isinstance(node, exp.Cast | exp.TryCast):
            return _CAST_WIDTHS.get(node.to.this)
        if isinstance(node, exp.Column):
            return self._column_width(node)
        if isinstance(node, _EIGHT_BYTES):
            return 8
        if isinstance(node, _FOUR_BYTES):
            return 4
        if isinstance(node, exp.Sum):
            return 8 if self.width(node.this) in (2, 4) else None  # SUM(bigint) is numeric
        if (
            isinstance(node, exp.Sub)
            and self._is_date(node.this)
            and self._is_date(node.expression)
        ):
            return 4
        if isinstance(node, _ARITHMETIC):
            return self._widest([node.this, node.expression])
        if isinstance(node, _SAME_AS_ARGUMENT):
            return self.width(node.this)
        if isinstance(node, exp.Coalesce | exp.Greatest | exp.Least):
            return self._widest([node.this, *node.expressions])
        if isinstance(node, exp.Case):
            return self._widest(
                [i.args.get("true") for i in node.args["ifs"]] + [node.args.get("default")]
            )
        if isinstance(node, exp.If):
            return self._widest([node.args.get("true"), node.args.get("false")])
        if isinstance(node, exp.Subquery):
            return self._output_width(node.this, None)
        return None

    def _widest(self, nodes: list[exp.Expression | None]) -> Width | None:
        widths = [self.width(n) for n in nodes if n is not None and not isinstance(n, exp.Null)]
        if not widths or any(w is None for w in widths):
            return None
        return max(w for w in widths if w is not None)

    def _is_date(self, node: exp.Expression) -> bool:
        if isinstance(node, exp.Paren | exp.Max | exp.Min | exp.Coalesce | exp.Nullif):
            return self._is_date(node.this)
        if isinstance(node, exp.Cast):
            return node.to.this == exp.DataType.Type.DATE
        if isinstance(node, exp.CurrentDate):
            return True
        if isinstance(node, exp.Column):
            table, _ = self._table_of(node)
            return table is not None and table.get(node.name.lower()) == "DATE"
        return False

    # --- columns -----------------------------------------------------------------------------

    def _column_width(self, column: exp.Column) -> Width | None:
        if id(column) in self.resolving:  # a recursive CTE refers to itself
            return None
        self.resolving.add(id(column))
        try:
            table, source = self._table_of(column)
            if table is not None:
                return DUCKDB_INTEGER_WIDTHS.get(table.get(column.name.lower(), ""))
            if source is not None:
                return self._output_width(source.expression, column.name)
            return None
        finally:
            self.resolving.discard(id(column))

    def _table_of(self, column: exp.Column) -> tuple[Mapping[str, str] | None, Scope | None]:
        """The schema of the table ``column`` reads, or the scope (CTE, subquery) it reads."""
        scope = self.scope_of.get(id(column))
        while scope is not None:
            if column.table:
                candidates = [scope.sources[column.table]] if column.table in scope.sources else []
            else:
                candidates = [s for s in scope.sources.values() if self._has(s, column.name)]
            if len(candidates) == 1:
                source = candidates[0]
                if isinstance(source, exp.Table):
                    return self.schema.get(source.name.lower()), None
                return None, source
            if candidates:
                return None, None  # ambiguous: leave it to the database
            scope = scope.parent  # a correlated column of an outer query
        return None, None

    def _has(self, source: exp.Table | Scope, name: str) -> bool:
        if isinstance(source, exp.Table):
            return name.lower() in self.schema.get(source.name.lower(), {})
        return name in _output_names(source.expression)

    def _output_width(self, query: exp.Expression, name: str | None) -> Width | None:
        """The width of output column ``name`` of ``query`` (its only column when None)."""
        if isinstance(query, exp.Values):
            names = query.alias_column_names
            rows = query.expressions
            if not rows or (name is not None and name not in names):
                return None
            index = names.index(name) if name is not None else 0
            first = rows[0].expressions if isinstance(rows[0], exp.Tuple) else [rows[0]]
            return self.width(first[index]) if index < len(first) else None
        selects = query.selects if isinstance(query, exp.Query) else []
        if name is None:
            return self.width(selects[0].unalias()) if len(selects) == 1 else None
        matches = [s for s in selects if s.alias_or_name == name]
        return self.width(matches[0].unalias()) if len(matches) == 1 else None


def _output_names(query: exp.Expression) -> list[str]:
    if isinstance(query, exp.Values):
        return list(query.alias_column_names)
    return list(query.named_selects) if isinstance(query, exp.Query) else []


def _literal_width(literal: exp.Literal) -> Width | None:
    if literal.is_string or not literal.is_int:
        return None
    value = int(literal.name)
    if -(2**31) <= value < 2**31:
        return 4
    return 8 if -(2**63) <= value < 2**63 else None
