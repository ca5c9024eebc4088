"""A small lab-results DuckDB file for the SQL layer's tests (the demo database's tables, fewer rows).

Rows come from arithmetic on ``range()`` so the file is the same on every run; a few values are
NULL and one physician has ties, as real data has.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_AND_DATA = """
CREATE TABLE departments AS
SELECT * FROM (VALUES (1, 'Internal Medicine'), (2, 'Cardiology'), (3, 'Endocrinology'))
    t(id, department_name);

CREATE TABLE physicians AS
SELECT * FROM (VALUES
    (1, 'Dr. Sarah Chen', 1, 'internist'),
    (2, 'Dr. Marcus Webb', 2, 'cardiologist'),
    (3, 'Dr. Priya Patel', 3, 'endocrinologist'),
    (4, 'Dr. James Okafor', 1, 'internist'),
    (5, 'Dr. Lisa Fontaine', 2, NULL),
    (6, 'Dr. Omar Haddad', 3, 'endocrinologist')
) t(id, physician_name, department_id, specialty);

CREATE TABLE labs AS
SELECT * FROM (VALUES
    (1, 'Midwest Diagnostics', 'Chicago', 'Midwest'),
    (2, 'Valley Lab', 'Fresno', 'West'),
    (3, 'Riverside Labs', 'Riverside', 'West'),
    (4, 'Summit Diagnostics', 'Denver', 'Mountain')
) t(id, lab_name, city, region);

CREATE TABLE tests AS
SELECT * FROM (VALUES
    (1, 'CBC', 'blood work'),
    (2, 'Lipid Panel', 'blood work'),
    (3, 'TSH', 'thyroid'),
    (4, 'COVID-19 PCR', 'infectious disease')
) t(id, test_name, test_category);

CREATE TABLE patients AS
SELECT i AS id,
       'Patient ' || i AS patient_name,
       DATE '1950-01-01' + (i * 97 % 20000)::INTEGER AS date_of_birth,
       CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END AS sex
FROM range(1, 41) r(i);

CREATE TABLE orders AS
SELECT i AS id,
       1 + i % 40 AS patient_id,
       1 + (i * 7 + i // 6) % 6 AS physician_id,
       1 + (i * 3) % 4 AS test_id,
       1 + (i // 5) % 4 AS lab_id,
       DATE '2025-10-01' + (i * 11 % 180)::INTEGER AS order_date,
       CASE WHEN i % 9 = 0 THEN 'STAT' ELSE 'ROUTINE' END AS priority,
       'COMPLETED' AS status
FROM range(1, 301) r(i);

CREATE TABLE results AS
SELECT i AS id,
       i AS order_id,
       (SELECT order_date FROM orders o WHERE o.id = i)::TIMESTAMP
           + INTERVAL (6 + i * 13 % 90) HOUR AS resulted_at,
       CASE WHEN i % 7 = 0 THEN 'CRITICAL' WHEN i % 3 = 0 THEN 'ABNORMAL' ELSE 'NORMAL' END
           AS status,
       CASE WHEN i % 50 = 0 THEN NULL ELSE round(3.5 + (i * 37 % 1000) / 97.0, 4) END AS value,
       'mg/dL' AS unit,
       '3.5-12.0' AS reference_range,
       CASE WHEN i % 10 = 0 THEN 'post-COVID follow-up'
            WHEN i % 10 = 5 THEN 'covid positive'
            WHEN i % 11 = 0 THEN NULL
            ELSE 'routine' END AS notes
FROM range(1, 301) r(i);
"""


def build_lab_database(path: Path) -> Path:
    """Write the test database to ``path`` and return it."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(SCHEMA_AND_DATA)
    finally:
        connection.close()
    return path
