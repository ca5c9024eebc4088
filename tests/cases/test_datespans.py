"""smoke check warns of a case whose relative dates look at no data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from workbench.cases.datespans import DataRange, data_ranges, empty_relative_dates
from workbench.cases.suite import SmokeCase
from workbench.sql import DuckDBDatabase


def case(id_: str, question: str, as_of: date, *tags: str) -> SmokeCase:
    return SmokeCase(id_, question, as_of, "SELECT 1", ("simple", *tags), "simple")


def test_the_range_of_every_date_column_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoice (id INTEGER, day DATE, paid TIMESTAMP, note VARCHAR)")
    con.execute(
        "INSERT INTO invoice VALUES (1, '2009-01-05', '2009-01-06 10:00', 'a'), "
        "(2, '2011-12-28', NULL, 'b')"
    )
    con.execute("CREATE TABLE empty_log (logged DATE)")
    con.close()
    ranges = data_ranges(DuckDBDatabase(path))
    assert ranges == (
        DataRange("invoice.day", date(2009, 1, 5), date(2011, 12, 28)),
        DataRange("invoice.paid", date(2009, 1, 6), date(2009, 1, 6)),
    )


RANGES = (DataRange("invoice.day", date(2009, 1, 5), date(2011, 12, 28)),)


def test_relative_dates_past_the_data_are_named_with_the_fix() -> None:
    cases = [
        case("late", "How many invoices last quarter?", date(2026, 3, 31)),
        case("inside", "How many invoices last quarter?", date(2011, 12, 31)),
        case("explicit", "Invoices from 2026-01-01 through 2026-01-31", date(2026, 3, 31)),
        case("none", "How many invoices are there?", date(2026, 3, 31)),
        case("meant", "Invoices this year", date(2026, 3, 31), "out-of-range"),
    ]
    [warning] = empty_relative_dates(cases, RANGES)
    assert warning.startswith("late: 'last quarter' on 2026-03-31 means 2025-10-01 through")
    assert "the data's dates run from 2009-01-05 to 2011-12-28: set [run] as_of" in warning


def test_one_relative_date_inside_the_data_is_enough() -> None:
    question = "Invoices this year compared with December 2011"
    assert empty_relative_dates([case("mixed", question, date(2026, 3, 31))], RANGES) == []


def test_a_database_without_dates_warns_of_nothing() -> None:
    assert empty_relative_dates([case("x", "last month", date(2026, 3, 31))], ()) == []
