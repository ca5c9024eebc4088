"""Column types as the schema shows them: short, meaningful, and accepted by both engines.

Catalogs spell types their own way: PostgreSQL's ``format_type`` says ``character varying(120)``
and ``timestamp without time zone``, DuckDB says ``DOUBLE`` and ``DECIMAL(10,2)``. The model
reads every character of them, and the pipeline asks it for PostgreSQL, so the schema shows
one spelling that PostgreSQL and DuckDB both accept: ``VARCHAR`` (a length limit says nothing
about what to query), ``NUMERIC(10,2)`` (the scale does), ``DOUBLE PRECISION``,
``TIMESTAMP``, ``TIMESTAMPTZ``. A type neither list knows (a user-defined enum, a
PostgreSQL domain) is shown as the catalog spells it.
"""

from __future__ import annotations

import re

_SAME_ON_BOTH = {
    "TEXT": "TEXT",
    "VARCHAR": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR",
    "STRING": "VARCHAR",
    "BPCHAR": "CHAR",
    "CHAR": "CHAR",
    "CHARACTER": "CHAR",
    "INTEGER": "INTEGER",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "BIGINT": "BIGINT",
    "INT8": "BIGINT",
    "SMALLINT": "SMALLINT",
    "INT2": "SMALLINT",
    "TINYINT": "SMALLINT",
    "UTINYINT": "INTEGER",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "NUMERIC(20,0)",
    "HUGEINT": "NUMERIC(38,0)",
    "UHUGEINT": "NUMERIC(38,0)",
    "NUMERIC": "NUMERIC",
    "DECIMAL": "NUMERIC",
    "DOUBLE": "DOUBLE PRECISION",
    "DOUBLE PRECISION": "DOUBLE PRECISION",
    "FLOAT8": "DOUBLE PRECISION",
    "REAL": "REAL",
    "FLOAT": "REAL",
    "FLOAT4": "REAL",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "TIME": "TIME",
    "TIME WITHOUT TIME ZONE": "TIME",
    "TIME WITH TIME ZONE": "TIMETZ",
    "TIMETZ": "TIMETZ",
    "INTERVAL": "INTERVAL",
    "UUID": "UUID",
    "JSON": "JSON",
    "BLOB": "BYTEA",
    "BYTEA": "BYTEA",
}
_MODIFIER = re.compile(r"^(?P<base>[A-Z_ ]+?)\s*\((?P<args>[0-9 ,]+)\)(?P<rest>[A-Z ]*)$")
_KEEPS_MODIFIER = {"NUMERIC", "CHAR"}
"""A precision and scale say what a number holds, a fixed width how text is padded; the
length limit of a VARCHAR or the precision of a TIMESTAMP say nothing a query needs."""


def compact_type(data_type: str) -> str:
    """``data_type`` spelled the way the schema shows it (see the module docstring)."""
    spelled = " ".join(data_type.split())
    if spelled.endswith("[]"):
        return compact_type(spelled[:-2]) + "[]"
    upper = spelled.upper()
    if upper in _SAME_ON_BOTH:
        return _SAME_ON_BOTH[upper]
    found = _MODIFIER.match(upper)
    if found is None:
        return spelled
    base = " ".join((found["base"] + " " + found["rest"]).split())
    short = _SAME_ON_BOTH.get(base)
    if short is None:
        return spelled
    if short in _KEEPS_MODIFIER:
        return f"{short}({found['args'].replace(' ', '')})"
    return short
