"""The byte and row caps of a PostgreSQL result, enforced where the bytes arrive.

DuckDB's rows are cut in its worker process (``workbench.sql.execute._fetch_capped``); a
PostgreSQL result lands in the calling process itself (the app's server), and libpq receives a
whole row at once: a 900 MB cell cannot be cut after it arrived. So the server cuts it:

1. The query is described first (nothing runs): its column names, types and type sizes.
2. Unless every column has a fixed size (numbers, dates: nothing to cut), it runs wrapped::

       SELECT <per column: the value, or its cut form when it is over the cap>,
              <the positions of the cut cells>, <the row's bytes>
       FROM (
       <the query>
       ) AS q(c1, c2, ...)

   Columns are renamed by position, so duplicate or odd names do not matter. A kept value keeps
   its type (a result still compares equal to a gold result). Text over the cap is cut to at
   most ``cap`` bytes without splitting a character, bytes to ``cap`` bytes, like DuckDB's cut
   cell (DuckDB counts text in characters: the same cut for ASCII, a shorter one here for
   text of multi-byte characters); any other value (an array, a JSON document, a record) is replaced by the same note
   DuckDB gives (``cut_note``). Text and bytes are measured with ``octet_length`` (cheap, even
   for a value stored out of line), anything else by the length of its text form.
3. Rows are streamed one at a time; the client sums the sizes the server reported and stops at
   ``MAX_RESULT_BYTES`` and at the row cap, and says which limit cut (``CutBy``).

The cap of a cell is ``min(MAX_CELL_BYTES, MAX_RESULT_BYTES // columns)``, so one row holds at
most ``MAX_RESULT_BYTES`` too: the process holds the kept rows (at most ``MAX_RESULT_BYTES``)
and, for the row in flight, libpq's buffer, its result and the Python values, about three times
one row: some 4 x ``MAX_RESULT_BYTES`` at worst (bytes travel as hex text, twice their size, in
the first two). ``python -m bench bench_pgcaps`` measures it.

Order: the query's ORDER BY sits in a subquery in FROM. SQL does not promise that a projection
over a subquery keeps its order; PostgreSQL does keep it (a subquery with ORDER BY is never
flattened into its parent, and a projection emits its input rows in turn). The gold queries'
ordered comparisons on PostgreSQL check it (tests/sql/test_postgres.py).

The wrapper adds nothing the query could use: the query is the checked text up to its last
token (``bare_query``: the semicolons and comments that may end it are dropped, a subquery
cannot hold a semicolon), on lines of its own (a ``--`` comment cannot run into the wrapper),
and the whole still goes through the extended protocol as one statement, in the same read-only
transaction under the same ``statement_timeout``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sqlglot
from sqlglot.tokens import TokenType

from workbench.errors import SQLExecutionError
from workbench.sql.execute import CutBy, cut_note
from workbench.sql.limits import MAX_CELL_BYTES, MAX_RESULT_BYTES

if TYPE_CHECKING:
    import psycopg

Kind = Literal["fixed", "text", "bytes", "other"]

TEXT_TYPES = frozenset({25, 1042, 1043})
"""text, bpchar, varchar: cut to a prefix of at most the cap in bytes."""
BYTEA = 17
BOUNDED_TEXT_BYTES = {1700: 147_460, 869: 64, 650: 64}
"""Variable-size types whose text form is never longer than this (numeric: 131,072 digits before
the point and 16,383 after; inet, cidr): not measured while the cap is larger."""
FIXED_CELL_BYTES = 8
"""What a cell that is not measured counts for in the result's bytes (as DuckDB counts one)."""
MAX_COLUMNS = 1664
"""PostgreSQL's limit on a SELECT list; the wrapper adds two columns to the query's."""


@dataclass(frozen=True)
class Column:
    """One column of a described query: its name, type and how it is measured and cut."""

    name: str
    type_name: str
    kind: Kind


def describe(connection: psycopg.Connection, sql: str) -> tuple[Column, ...]:
    """The columns of ``sql`` from the server's description of it (nothing runs).

    Raises:
        psycopg.Error: the server rejected the query (a syntax error, a missing table).
    """
    encoding = connection.info.encoding
    pgconn = connection.pgconn
    pgconn.send_prepare(b"", sql.encode(encoding))
    _answer(connection)
    pgconn.send_describe_prepared(b"")
    described = _answer(connection)
    cap = cell_cap(described.nfields)
    return tuple(
        Column(
            described.fname(i).decode(encoding),
            _type_name(connection, described.ftype(i)),
            _kind(described.ftype(i), described.fsize(i), cap),
        )
        for i in range(described.nfields)
    )


def _answer(connection: psycopg.Connection) -> Any:
    """The server's answer to what was sent, waited for as psycopg waits for a query's: the
    blocking libpq calls (``PGconn.prepare``) would hold the GIL, freezing every other thread
    of the app's server until the answer came."""
    from psycopg.errors import error_from_result
    from psycopg.generators import execute
    from psycopg.pq import ExecStatus

    (answer,) = connection.wait(execute(connection.pgconn))
    if answer.status != ExecStatus.COMMAND_OK:
        raise error_from_result(answer, encoding=connection.info.encoding)
    return answer


def _kind(oid: int, size: int, cap: int) -> Kind:
    if size > 0 or BOUNDED_TEXT_BYTES.get(oid, cap + 1) <= cap:
        return "fixed"
    if oid in TEXT_TYPES:
        return "text"
    return "bytes" if oid == BYTEA else "other"


def _type_name(connection: psycopg.Connection, oid: int) -> str:
    info = connection.adapters.types.get(oid)
    if info is None:
        return "value"
    return f"{info.name}[]" if oid == info.array_oid else info.name


def cell_cap(columns: int) -> int:
    """The cap of one cell: ``MAX_CELL_BYTES``, less when the columns of one row at that cap
    would hold more than ``MAX_RESULT_BYTES``."""
    return min(MAX_CELL_BYTES, MAX_RESULT_BYTES // max(columns, 1))


def bare_query(sql: str) -> str:
    """``sql`` without the semicolons (and the comments after them) that may end it: a
    subquery cannot hold one. What is kept is a prefix of the checked text."""
    tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(sql)
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    return sql[: tokens[-1].end + 1] if tokens else sql


def needs_wrapping(columns: Sequence[Column]) -> bool:
    """Whether any cell could be over its cap (a result of numbers and dates runs as is)."""
    return any(column.kind != "fixed" for column in columns)


def capped_query(sql: str, columns: Sequence[Column]) -> str:
    """The wrapping query that cuts every cell over its cap on the server (module docstring).

    Its columns are the query's (each cut when over its cap), then the 1-based positions among
    the measured columns of the cells that were cut (``int[]``), then the row's bytes.
    """
    if len(columns) + 2 > MAX_COLUMNS:
        raise SQLExecutionError(
            f"the query returns {len(columns)} columns; at most {MAX_COLUMNS - 2} can be run "
            "under the byte caps of a result: select fewer columns"
        )
    cap = cell_cap(len(columns))
    names = [f"c{i}" for i in range(1, len(columns) + 1)]
    values: list[str] = []
    over: list[str] = []
    sizes: list[str] = []
    texts: list[str] = []
    for name, column in zip(names, columns, strict=True):
        value = f"m.{name}"
        if column.kind == "fixed":
            values.append(value)
            continue
        if column.kind == "other":  # its text form, measured once in the fenced subquery
            texts.append(f"octet_length(q.{name}::text) AS s_{name}")
            size = f"m.s_{name}"
        else:
            size = f"octet_length({value})"
        values.append(f"CASE WHEN {size} > {cap} THEN {_cut(value, column.kind, cap)} "
                      f"ELSE {value} END")  # fmt: skip
        over.append(f"{size} > {cap}")
        sizes.append(f"least(coalesce({size}, 0), {cap})")  # least() skips a NULL
    cut = f"array_positions(ARRAY[{', '.join(over)}]::boolean[], true)"
    # OFFSET 0 keeps PostgreSQL from folding the query into the expressions above: each of them
    # would compute the cell anew (a 900 MB repeat() nine times over).
    return (
        f"SELECT {', '.join(values)}, {cut}, ({' + '.join(sizes)})::int8\n"
        f"FROM (SELECT {', '.join(['q.*', *texts])} FROM (\n{bare_query(sql)}\n"
        f") AS q({', '.join(names)}) OFFSET 0) AS m"
    )


def _cut(value: str, kind: Kind, cap: int) -> str:
    """The cut form of an over-cap cell: a prefix of text or bytes, NULL for anything else
    (the client writes the note in its place)."""
    if kind == "bytes":
        return f"substring({value} FROM 1 FOR {cap})"
    if kind == "other":
        return "NULL"
    # At most ``cap`` bytes of UTF-8 that end on a whole character: cut the first ``cap``
    # characters' bytes at ``cap``, then step back over a character the cut split (a byte
    # 10xxxxxx continues a character; one of at most 4 bytes starts within 3 bytes before).
    utf8 = f"convert_to(left({value}, {cap}), 'UTF8')"
    back = (
        f"CASE WHEN octet_length({utf8}) <= {cap} THEN 0 "
        f"WHEN get_byte({utf8}, {cap}) & 192 <> 128 THEN 0 "
        f"WHEN get_byte({utf8}, {cap - 1}) & 192 <> 128 THEN 1 "
        f"WHEN get_byte({utf8}, {cap - 2}) & 192 <> 128 THEN 2 ELSE 3 END"
    )
    return f"convert_from(substring({utf8} FROM 1 FOR {cap} - {back}), 'UTF8')"


def read_capped(
    connection: psycopg.Connection, sql: str, columns: Sequence[Column], row_cap: int
) -> tuple[list[tuple[Any, ...]], CutBy | None]:
    """Stream the rows of ``sql`` (described as ``columns``) up to the row cap and
    ``MAX_RESULT_BYTES``, every cell within its cap; and what cut the result, if anything.

    Raises:
        psycopg.Error: the server rejected the query or cancelled it (its timeout).
    """
    wrapped = needs_wrapping(columns)
    measured = [i for i, column in enumerate(columns) if column.kind != "fixed"]
    unmeasured = (len(columns) - len(measured)) * FIXED_CELL_BYTES
    cap = cell_cap(len(columns))
    rows: list[tuple[Any, ...]] = []
    total = 0
    cut_by: CutBy | None = None
    stream = connection.cursor().stream(capped_query(sql, columns) if wrapped else sql)
    # Closing the stream early cancels the query and drops what is still in flight.
    with contextlib.closing(stream):
        for raw in stream:
            if len(rows) == row_cap:
                return rows, "rows"
            cells, size, cut = _unwrap(raw, columns, measured, cap) if wrapped else (raw, 0, 0)
            if cut:
                cut_by = "cell bytes"
            total += size + unmeasured
            if total > MAX_RESULT_BYTES:
                return rows, "result bytes"
            rows.append(tuple(cells))
    return rows, cut_by


def _unwrap(
    raw: Sequence[Any], columns: Sequence[Column], measured: list[int], cap: int
) -> tuple[Sequence[Any], int, int]:
    """A wrapped row's cells (a note in each cut cell that has no prefix), its bytes and how
    many of its cells were cut."""
    cells = list(raw[: len(columns)])
    positions = raw[len(columns)] or ()
    for position in positions:
        index = measured[position - 1]
        if columns[index].kind == "other":
            cells[index] = cut_note(columns[index].type_name, cap)
    return cells, int(raw[len(columns) + 1] or 0), len(positions)
