"""The SQL check: hostile input is refused with its reason, queries pass, model answers yield SQL."""

from __future__ import annotations

import pytest
from sqlglot import exp

from workbench.errors import SQLParseError, SQLRefused
from workbench.sql.check import check_readonly, format_sql, parse_sql, to_duckdb
from workbench.sql.extract import extract_sql

WORKED_EXAMPLE = (
    "SELECT ph.physician_name, COUNT(*) AS abnormal_cbc_count FROM results r "
    "JOIN orders o ON r.order_id = o.id JOIN physicians ph ON o.physician_id = ph.id "
    "JOIN tests t ON o.test_id = t.id WHERE r.status = 'ABNORMAL' AND t.test_name ILIKE '%cbc%' "
    "AND r.notes ILIKE '%covid%' AND o.order_date >= '2026-01-01' AND o.order_date < '2026-04-01' "
    "GROUP BY ph.physician_name HAVING COUNT(*) >= 3 ORDER BY abnormal_cbc_count DESC;"
)

BUSIEST_MONTH = (
    "WITH monthly_orders AS ( SELECT o.lab_id, DATE_TRUNC('month', o.order_date) AS order_month, "
    "COUNT(*) AS total_orders FROM orders o WHERE EXTRACT(YEAR FROM o.order_date) = 2025 "
    "GROUP BY o.lab_id, DATE_TRUNC('month', o.order_date) ), peak_month AS ( SELECT lab_id, "
    "order_month, total_orders, ROW_NUMBER() OVER (PARTITION BY lab_id ORDER BY total_orders DESC) "
    "AS rn FROM monthly_orders ) SELECT l.lab_name, pm.order_month, pm.total_orders FROM "
    "peak_month pm JOIN labs l ON pm.lab_id = l.id WHERE pm.rn = 1 ORDER BY pm.total_orders DESC;"
)

HOSTILE = [
    # (sql, a word the reason must contain)
    ("DROP TABLE results", "DROP"),
    ("drop table results", "DROP"),
    ("SELECT 1; DELETE FROM results", "2 statements"),
    ("SELECT 1 /* */; DROP TABLE x", "2 statements"),
    ("SELECT 1 -- harmless\n; DROP TABLE x", "2 statements"),
    ("SELECT 1;\n\n  DROP TABLE x;", "2 statements"),
    ("SELECT 1; SELECT 2", "2 statements"),
    ("-- c\nDELETE FROM results", "DELETE"),
    ("/* a comment */ DELETE FROM results WHERE id = 1", "DELETE"),
    ("INSERT INTO results VALUES (1)", "INSERT"),
    ("UPDATE results SET status = 'NORMAL'", "UPDATE"),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE"),
    ("TRUNCATE results", "TRUNCATE"),
    ("CREATE TABLE t AS SELECT * FROM results", "CREATE"),
    ("ALTER TABLE results ADD COLUMN x INT", "ALTER"),
    ("COPY results TO '/tmp/x.csv'", "COPY"),
    ("COPY results FROM '/tmp/x.csv'", "COPY"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
    ("SELECT * FROM READ_TEXT('/etc/passwd')", "READ_TEXT"),
    ("SELECT content FROM read_blob('/etc/shadow')", "read_blob"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "read_parquet"),
    ("SELECT * FROM parquet_scan('x.parquet')", "parquet_scan"),
    ("SELECT * FROM read_json_auto('x.json')", "read_json_auto"),
    ("SELECT * FROM read_ndjson('x.json')", "read_ndjson"),
    ("SELECT * FROM glob('/home/*')", "glob"),
    ("SELECT * FROM sniff_csv('x.csv')", "sniff_csv"),
    ("SELECT * FROM delta_scan('s3://x')", "delta_scan"),
    ("SELECT * FROM iceberg_scan('x')", "iceberg_scan"),
    ("SELECT * FROM sqlite_scan('x.db', 't')", "sqlite_scan"),
    ("SELECT * FROM query('DROP TABLE results')", "query"),
    ("SELECT * FROM query_table('results')", "query_table"),
    ("SELECT getenv('HOME')", "getenv"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT nextval('seq')", "nextval"),
    ("SELECT r.id FROM results r, LATERAL read_csv('x.csv') f", "read_csv"),
    ("SELECT (SELECT count(*) FROM read_text('/etc/hosts')) AS n", "read_text"),
    ("SELECT * FROM some_extension_scan('x')", "some_extension_scan"),
    ("FROM '/etc/passwd'", "file path"),
    ("SELECT * FROM '/etc/passwd'", "file path"),
    ('SELECT * FROM "/etc/passwd"', "file path"),
    ("SELECT * FROM 'data.csv'", "file path"),
    ("SELECT * FROM results r JOIN 'https://x.org/y.parquet' y ON true", "file path"),
    ("SELECT * FROM (FROM '/etc/passwd')", "file path"),
    ("ATTACH 'x.db'", "ATTACH"),
    ("ATTACH DATABASE 'x.db' AS x", "ATTACH"),
    ("DETACH x", "DETACH"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("PRAGMA database_list", "PRAGMA"),
    ("PRAGMA enable_external_access=true", "PRAGMA"),
    ("SET enable_external_access = true", "SET"),
    ("SET threads TO 64", "SET"),
    ("RESET threads", "RESET"),
    ("CALL pragma_version()", "CALL"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("IMPORT DATABASE '/tmp/dump'", "IMPORT"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("USE other", "USE"),
    ("VACUUM", "VACUUM"),
    ("BEGIN", "BEGIN"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
    ("SHOW TABLES", "SHOW"),
    ("DESCRIBE results", "DESCRIBE"),
    ("SUMMARIZE results", "SUMMARIZE"),
    ("GRANT SELECT ON results TO public", "GRANT"),
    ("WITH x AS (DELETE FROM results RETURNING *) SELECT * FROM x", "changes data"),
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", "changes data"),
    ("WITH x AS (UPDATE results SET value = 0 RETURNING id) SELECT * FROM x", "changes data"),
    ("SELECT * INTO t FROM results", "INTO"),
    ("SELECT * FROM results FOR UPDATE", "locking"),
    ("(DELETE FROM results)", "DELETE"),
    ("((DROP TABLE results))", "DROP"),
    ("SELECT * FROM main.read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM \"read_csv\"('/etc/passwd')", "read_csv"),
    ("SELECT * FROM Read_Parquet('x.parquet')", "Read_Parquet"),
    ("SELECT json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", "json_execute"),
    ("SELECT 1 UNION ALL SELECT * FROM read_csv('x')", "read_csv"),
    ("SELECT * FROM results WHERE id IN (SELECT id FROM read_csv('x'))", "read_csv"),
    ("SELECT 1\n;\n-- trailing\nINSTALL httpfs", "2 statements"),
]


@pytest.mark.parametrize(("sql", "reason"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_sql_is_refused_with_its_reason(sql: str, reason: str) -> None:
    with pytest.raises(SQLRefused) as caught:
        check_readonly(sql)
    assert reason.lower() in str(caught.value).lower()
    assert str(caught.value).startswith("refused:")


READ_ONLY = [
    "SELECT 1",
    "SELECT 1;",
    "SELECT 1;  ;",
    "select count(*) from results -- how many?",
    "SELECT 1 /* ; DROP TABLE x */",
    "SELECT ';DROP TABLE x' AS s",
    "SELECT 'read_csv(''x'')' AS not_a_call",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3",
    "(SELECT 1) UNION (SELECT 2)",
    "FROM results SELECT id",
    "TABLE results",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "SELECT * FROM (SELECT id FROM results) sub",
    "SELECT date_trunc('month', order_date) FROM orders",
    WORKED_EXAMPLE,
    BUSIEST_MONTH,
]


@pytest.mark.parametrize("sql", READ_ONLY)
def test_read_only_queries_pass(sql: str) -> None:
    tree = check_readonly(sql)
    assert isinstance(tree, exp.Query | exp.Values)


@pytest.mark.parametrize("sql", ["", "   \n\t", "-- only a comment", "/* nothing */ ;"])
def test_empty_input_is_a_parse_error(sql: str) -> None:
    with pytest.raises(SQLParseError, match="empty"):
        check_readonly(sql)
    with pytest.raises(SQLParseError, match="empty"):
        parse_sql(sql)


def test_parse_error_reports_line_and_column() -> None:
    sql = "SELECT id,\n       status\nFROM results\nWHERE (value > 3"
    with pytest.raises(SQLParseError) as caught:
        parse_sql(sql)
    assert caught.value.line == 4
    assert caught.value.column is not None and caught.value.column > 0
    assert "line 4" in str(caught.value)


def test_parse_error_names_the_offending_token_plainly() -> None:
    with pytest.raises(SQLParseError) as caught:
        parse_sql("SELECT FROM WHERE")
    assert "'WHERE'" in str(caught.value)
    assert "<Token" not in str(caught.value)


def test_unterminated_string_is_a_parse_error() -> None:
    with pytest.raises(SQLParseError, match="tokenize"):
        check_readonly("SELECT 'abc")


def test_parse_sql_rejects_several_statements() -> None:
    with pytest.raises(SQLParseError, match="one SQL statement, found 2"):
        parse_sql("SELECT 1; SELECT 2")


def test_format_sql_puts_clauses_on_their_own_lines() -> None:
    formatted = format_sql(WORKED_EXAMPLE)
    lines = formatted.splitlines()
    assert lines[0] == "SELECT"
    assert any(line.startswith("FROM results") for line in lines)
    assert any(line.startswith("HAVING") for line in lines)
    # Formatting changes layout, never meaning.
    assert parse_sql(formatted) == parse_sql(WORKED_EXAMPLE)


def test_to_duckdb_transpiles_postgres_constructs() -> None:
    assert to_duckdb("SELECT x::date FROM t") == "SELECT CAST(x AS DATE) FROM t"
    assert "INTERVAL '1' DAY" in to_duckdb("SELECT now() - interval '1 day'")


def test_extract_is_numeric_so_dividing_it_is_not_integer_division() -> None:
    """PostgreSQL's EXTRACT returns numeric: EXTRACT(EPOCH FROM d) / 3600 keeps its fraction."""
    for sql in (
        "SELECT EXTRACT(EPOCH FROM x) / 3600 FROM t",
        "SELECT date_part('year', d) / 2 FROM t",
    ):
        assert "TRUNC" not in to_duckdb(sql)
    assert to_duckdb("SELECT 7 / 2") == "SELECT 7 // 2"


def test_to_duckdb_drops_comments() -> None:
    assert to_duckdb("SELECT 1 /* */ -- x\n") == "SELECT 1"


MODEL_OUTPUTS = [
    ("SELECT 1;", "SELECT 1"),
    ("  select id from results  ", "select id from results"),
    ("```sql\nSELECT a FROM t;\n```", "SELECT a FROM t"),
    ("```SQL\nSELECT a FROM t\n```", "SELECT a FROM t"),
    ("```postgresql\nSELECT a FROM t;\n```", "SELECT a FROM t"),
    ("Here you go:\n```\nSELECT a\nFROM t\n```\nThis returns a.", "SELECT a\nFROM t"),
    (
        "<think>\nMaybe ```sql\nSELECT wrong FROM t\n``` hmm\n</think>\n\n```sql\nSELECT right FROM t;\n```",
        "SELECT right FROM t",
    ),
    ("<think>\n\n</think>\n\nSELECT a FROM t;", "SELECT a FROM t"),
    ("I should count. SELECT nope\n</think>\nSELECT yes FROM t", "SELECT yes FROM t"),
    ("SQL: SELECT a FROM t WHERE b = 'x;y';", "SELECT a FROM t WHERE b = 'x;y'"),
    ("SQL Query:\nSELECT a FROM t", "SELECT a FROM t"),
    (
        "Here is the query:\nSELECT a\nFROM t\nWHERE b > 1\n\nThis query returns all a.",
        "SELECT a\nFROM t\nWHERE b > 1",
    ),
    (
        "Here is the query:\nSELECT a\nFROM t\nThis returns every a.",
        "SELECT a\nFROM t",
    ),
    (
        "```sql\nSELECT a FROM\n```\nWait, fixed:\n```sql\nWITH x AS (SELECT 1 AS a) SELECT a FROM x\n```",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    ),
    (
        "```sql\nSELECT first FROM t\n```\nor better:\n```sql\nSELECT second FROM t;\n```\nDone.",
        "SELECT second FROM t",
    ),
    (
        "```sql\nWITH x AS (SELECT 1 AS a) SELECT a FROM x\n```\nnot this: ```sql\nSELECT broken FROM\n```",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    ),
    ("```text\nresults table\n```\n```sql\nSELECT 1\n```", "SELECT 1"),
    ("The answer is `SELECT count(*) FROM t`.", "SELECT count(*) FROM t"),
    ("```sql\nSELECT a FROM t\n", "SELECT a FROM t"),
    ("  (SELECT 1) UNION (SELECT 2);", "(SELECT 1) UNION (SELECT 2)"),
    (
        "```sql\n-- count them\nSELECT count(*) FROM t;\n```",
        "-- count them\nSELECT count(*) FROM t",
    ),
    ("Sure! SELECT id FROM results; Let me know.", "SELECT id FROM results"),
    ("```sql\nSELECT 1; DROP TABLE t;\n```", "SELECT 1; DROP TABLE t"),
    (WORKED_EXAMPLE, WORKED_EXAMPLE.rstrip(";")),
    (f"```sql\n{BUSIEST_MONTH}\n```", BUSIEST_MONTH.rstrip(";")),
]


@pytest.mark.parametrize(("output", "expected"), MODEL_OUTPUTS, ids=range(len(MODEL_OUTPUTS)))
def test_extract_sql_from_model_output(output: str, expected: str) -> None:
    assert extract_sql(output) == expected


@pytest.mark.parametrize(
    "output",
    [
        "",
        "I cannot answer that from the schema.",
        "<think>the user wants SELECT of physicians",
        "<think>long thought</think>Sorry, the data has no such column.",
        "```\nno query here\n```",
    ],
)
def test_extract_sql_without_sql_raises(output: str) -> None:
    with pytest.raises(SQLParseError, match="no SQL found"):
        extract_sql(output)


@pytest.mark.parametrize(
    "sql",
    [
        "FROM '/etc/passwd'",
        "SELECT * FROM 'x.parquet'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH 'x.db'",
        "COPY results TO 'x.csv'",
        "SUMMARIZE results",
        "PIVOT results ON status",
    ],
)
def test_duckdb_dialect_is_checked_as_strictly(sql: str) -> None:
    with pytest.raises(SQLRefused):
        check_readonly(sql, dialect="duckdb")


def test_duckdb_dialect_accepts_its_own_query_syntax() -> None:
    assert isinstance(check_readonly("FROM results SELECT id", dialect="duckdb"), exp.Select)
