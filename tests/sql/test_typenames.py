"""Type names as the schema shows them: short, and accepted by PostgreSQL and DuckDB alike."""

from __future__ import annotations

import duckdb
import pytest

from workbench.sql.typenames import compact_type


@pytest.mark.parametrize(
    ("catalog", "shown"),
    [
        ("character varying(120)", "VARCHAR"),  # PostgreSQL's format_type
        ("character varying", "VARCHAR"),
        ("text", "TEXT"),
        ("character(2)", "CHAR(2)"),  # a fixed width pads: it matters
        ("numeric(10,2)", "NUMERIC(10,2)"),  # the scale says what it holds
        ("DECIMAL(18,3)", "NUMERIC(18,3)"),  # DuckDB
        ("integer", "INTEGER"),
        ("double precision", "DOUBLE PRECISION"),
        ("DOUBLE", "DOUBLE PRECISION"),  # PostgreSQL has no DOUBLE
        ("timestamp(3) without time zone", "TIMESTAMP"),
        ("timestamp with time zone", "TIMESTAMPTZ"),
        ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
        ("time with time zone", "TIMETZ"),
        ("BLOB", "BYTEA"),
        ("integer[]", "INTEGER[]"),
        ('"Mood"', '"Mood"'),  # a user's type stays as the catalog spells it
        ("interval year to month", "interval year to month"),
    ],
)
def test_types_are_compacted(catalog: str, shown: str) -> None:
    assert compact_type(catalog) == shown


def test_every_compacted_builtin_type_is_accepted_by_duckdb() -> None:
    shown = {
        compact_type(t)
        for t in ("character varying(9)", "text", "character(2)", "numeric(10,2)", "integer",
                  "bigint", "smallint", "TINYINT", "UBIGINT", "HUGEINT", "real",
                  "double precision", "DOUBLE", "boolean", "date", "timestamp(3) without time zone",
                  "timestamp with time zone", "time without time zone", "time with time zone",
                  "interval", "uuid", "bytea", "BLOB")
    }  # fmt: skip
    columns = ", ".join(f"c{i} {t}" for i, t in enumerate(sorted(shown)))
    with duckdb.connect() as connection:
        connection.execute(f"CREATE TABLE every_type ({columns})")
