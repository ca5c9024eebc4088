"""The date resolver against a calendar.

Every expected date below was worked out by hand on a calendar. Anchors used
throughout: 2026-03-31 is a Tuesday (its week runs Monday 2026-03-30 to Sunday
2026-04-05), 2026-01-01 a Thursday, 2025-12-31 a Wednesday, 2024 a leap year.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.dates.resolve import (
    DateSpan,
    find_unresolved_hints,
    resolve_expression,
    resolve_relative_dates,
)

AS_OF = date(2026, 3, 31)
MONDAY = date(2026, 3, 30)
SUNDAY = date(2026, 3, 29)


def only_span(text: str, as_of: date = AS_OF) -> tuple[str, str]:
    """The one span found in ``text``, as (start, end) ISO strings."""
    rewrite = resolve_relative_dates(text, as_of)
    assert len(rewrite.spans) == 1, rewrite.spans
    span = rewrite.spans[0]
    return span.start.isoformat(), span.end.isoformat()


# --- the paper's example and the rewrite shape ------------------------------------

PAPER = (
    "Hi chatbot, good morning! Give me a bulleted breakdown by physician of how many abnormal "
    "CBC results came back this quarter across all departments, sorted highest to lowest, and "
    "only show physicians involved with 3 or more COVID 19 related abnormal results, and ignore "
    "the normal results. Thank you."
)


def test_paper_example_rewrites_only_this_quarter() -> None:
    rewrite = resolve_relative_dates(PAPER, AS_OF)
    assert rewrite.text == PAPER.replace(
        "came back this quarter", "came back from 2026-01-01 through 2026-03-31"
    )
    assert rewrite.spans == (
        DateSpan("this quarter", date(2026, 1, 1), date(2026, 3, 31), PAPER.index("this q"), 12),
    )
    assert find_unresolved_hints(PAPER) == []


def test_rendered_forms() -> None:
    single = DateSpan("yesterday", date(2026, 3, 30), date(2026, 3, 30), 0, 9)
    both = DateSpan("Q1", date(2026, 1, 1), date(2026, 3, 31), 0, 2)
    assert single.rendered == "2026-03-30"
    assert both.rendered == "from 2026-01-01 through 2026-03-31"
    with pytest.raises(ValueError, match="starts after it ends"):
        DateSpan("x", date(2026, 2, 1), date(2026, 1, 1), 0, 1)


def test_long_text_with_several_expressions() -> None:
    text = (
        "Compare abnormal results from last month with the same month last year, "
        "list orders placed 3 days ago, and show totals YTD; also anything since Jan 15 "
        "and the top 5 labs in Q4 2025."
    )
    rewrite = resolve_relative_dates(text, AS_OF)
    assert rewrite.text == (
        "Compare abnormal results from 2026-02-01 through 2026-02-28 with the same month "
        "from 2025-01-01 through 2025-12-31, list orders placed 2026-03-28, and show totals "
        "from 2026-01-01 through 2026-03-31; also anything from 2026-01-15 through 2026-03-31 "
        "and the top 5 labs from 2025-10-01 through 2025-12-31."
    )
    assert [s.source for s in rewrite.spans] == [
        "from last month",
        "last year",
        "3 days ago",
        "YTD",
        "since Jan 15",
        "in Q4 2025",
    ]
    for span in rewrite.spans:
        assert text[span.offset : span.offset + span.length] == span.source


# --- conventions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("this week", "2026-03-30", "2026-04-05"),
        ("last week", "2026-03-23", "2026-03-29"),
        ("previous week", "2026-03-23", "2026-03-29"),
        ("next week", "2026-04-06", "2026-04-12"),
        ("this month", "2026-03-01", "2026-03-31"),
        ("last month", "2026-02-01", "2026-02-28"),
        ("the current quarter", "2026-01-01", "2026-03-31"),
        ("last quarter", "2025-10-01", "2025-12-31"),
        ("the previous quarter", "2025-10-01", "2025-12-31"),
        ("this half", "2026-01-01", "2026-06-30"),
        ("last half", "2025-07-01", "2025-12-31"),
        ("this year", "2026-01-01", "2026-12-31"),
        ("last year", "2025-01-01", "2025-12-31"),
        ("this weekend", "2026-04-04", "2026-04-05"),
        ("last weekend", "2026-03-28", "2026-03-29"),
        ("today", "2026-03-31", "2026-03-31"),
        ("yesterday", "2026-03-30", "2026-03-30"),
        ("tomorrow", "2026-04-01", "2026-04-01"),
        ("the day before yesterday", "2026-03-29", "2026-03-29"),
        ("last Monday", "2026-03-23", "2026-03-23"),
        ("this Friday", "2026-04-03", "2026-04-03"),
    ],
)
def test_this_last_next(text: str, start: str, end: str) -> None:
    assert only_span(f"orders {text}") == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("past 7 days", "2026-03-25", "2026-03-31"),
        ("the last 30 days", "2026-03-02", "2026-03-31"),
        ("past 2 weeks", "2026-03-18", "2026-03-31"),
        ("past two weeks", "2026-03-18", "2026-03-31"),
        ("the past week", "2026-03-25", "2026-03-31"),
        ("the past 3 months", "2026-01-01", "2026-03-31"),
        ("past month", "2026-03-01", "2026-03-31"),
        ("the last twelve months", "2025-04-01", "2026-03-31"),
        ("the past year", "2025-04-01", "2026-03-31"),
        ("the previous 2 quarters", "2025-10-01", "2026-03-31"),
        ("past 1 day", "2026-03-31", "2026-03-31"),
    ],
)
def test_rolling_windows_end_on_as_of(text: str, start: str, end: str) -> None:
    assert only_span(f"results from {text}") == (start, end)


def test_rolling_month_window_mid_month() -> None:
    # 2026-03-15 minus 3 months is 2025-12-15; the window starts the day after.
    assert only_span("past 3 months", date(2026, 3, 15)) == ("2025-12-16", "2026-03-15")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("3 days ago", "2026-03-28"),
        ("2 weeks ago", "2026-03-17"),
        ("three weeks ago", "2026-03-10"),
        ("fourteen days prior", "2026-03-17"),
        ("300 days prior", "2025-06-04"),
        ("twenty-one days ago", "2026-03-10"),
        ("a month ago", "2026-02-28"),  # clamps: there is no 2026-02-31
        ("1 month before", "2026-02-28"),
        ("3 months ago", "2025-12-31"),
        ("one quarter ago", "2025-12-31"),
        ("a year ago", "2025-03-31"),
        ("2 years back", "2024-03-31"),
        ("five days before 2026-01-03", "2025-12-29"),
        ("10 days after Jan 25, 2026", "2026-02-04"),
    ],
)
def test_single_dates_counted_back(text: str, day: str) -> None:
    assert only_span(f"tests ordered {text}.") == (day, day)


@pytest.mark.parametrize(
    ("text", "start", "end", "as_of"),
    [
        ("1 month ago", "2024-02-29", "2024-02-29", date(2024, 3, 31)),
        ("a year ago", "2023-02-28", "2023-02-28", date(2024, 2, 29)),
        ("4 years ago", "2020-02-29", "2020-02-29", date(2024, 2, 29)),
        ("the past year", "2023-03-01", "2024-02-29", date(2024, 2, 29)),
        ("past month", "2024-03-01", "2024-03-31", date(2024, 3, 31)),
        ("last month", "2024-02-01", "2024-02-29", date(2024, 3, 15)),
        ("February 2024", "2024-02-01", "2024-02-29", AS_OF),
        ("in Feb 2026", "2026-02-01", "2026-02-28", AS_OF),
        ("on Feb 29", "2024-02-29", "2024-02-29", AS_OF),  # the most recent Feb 29
        ("the past 7 days", "2024-02-24", "2024-03-01", date(2024, 3, 1)),
    ],
)
def test_month_ends_and_leap_years(text: str, start: str, end: str, as_of: date) -> None:
    assert only_span(text, as_of) == (start, end)


def test_invalid_calendar_dates_are_not_dates() -> None:
    for text in ("Feb 29, 2025", "02/30/2026", "2026-13-01"):
        assert resolve_relative_dates(f"on {text}", AS_OF).spans == ()


@pytest.mark.parametrize(
    ("text", "as_of", "start", "end"),
    [
        ("this week", MONDAY, "2026-03-30", "2026-04-05"),
        ("last week", MONDAY, "2026-03-23", "2026-03-29"),
        ("week to date", MONDAY, "2026-03-30", "2026-03-30"),
        ("past 7 days", MONDAY, "2026-03-24", "2026-03-30"),
        ("this week", SUNDAY, "2026-03-23", "2026-03-29"),
        ("last week", SUNDAY, "2026-03-16", "2026-03-22"),
        ("week to date", SUNDAY, "2026-03-23", "2026-03-29"),
        ("this weekend", SUNDAY, "2026-03-28", "2026-03-29"),
        ("last Monday", SUNDAY, "2026-03-16", "2026-03-16"),
    ],
)
def test_weeks_run_monday_to_sunday(text: str, as_of: date, start: str, end: str) -> None:
    assert only_span(text, as_of) == (start, end)


NEW_YEAR = date(2026, 1, 1)
NEW_YEARS_EVE = date(2025, 12, 31)


@pytest.mark.parametrize(
    ("text", "as_of", "start", "end"),
    [
        ("this quarter", NEW_YEAR, "2026-01-01", "2026-03-31"),
        ("last quarter", NEW_YEAR, "2025-10-01", "2025-12-31"),
        ("last month", NEW_YEAR, "2025-12-01", "2025-12-31"),
        ("last year", NEW_YEAR, "2025-01-01", "2025-12-31"),
        ("year to date", NEW_YEAR, "2026-01-01", "2026-01-01"),
        ("this week", NEW_YEAR, "2025-12-29", "2026-01-04"),
        ("yesterday", NEW_YEAR, "2025-12-31", "2025-12-31"),
        ("in January", NEW_YEAR, "2026-01-01", "2026-01-31"),
        ("in March", NEW_YEAR, "2025-03-01", "2025-03-31"),
        ("on Dec 25", NEW_YEAR, "2025-12-25", "2025-12-25"),
        ("this quarter", NEW_YEARS_EVE, "2025-10-01", "2025-12-31"),
        ("last quarter", NEW_YEARS_EVE, "2025-07-01", "2025-09-30"),
        ("next quarter", NEW_YEARS_EVE, "2026-01-01", "2026-03-31"),
        ("this half", NEW_YEARS_EVE, "2025-07-01", "2025-12-31"),
        ("tomorrow", NEW_YEARS_EVE, "2026-01-01", "2026-01-01"),
        ("this quarter", AS_OF, "2026-01-01", "2026-03-31"),
        ("next quarter", AS_OF, "2026-04-01", "2026-06-30"),
        ("QTD", AS_OF, "2026-01-01", "2026-03-31"),
    ],
)
def test_quarter_and_year_boundaries(text: str, as_of: date, start: str, end: str) -> None:
    assert only_span(text, as_of) == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("year to date", "2026-01-01", "2026-03-15"),
        ("year-to-date", "2026-01-01", "2026-03-15"),
        ("YTD", "2026-01-01", "2026-03-15"),
        ("month to date", "2026-03-01", "2026-03-15"),
        ("MTD", "2026-03-01", "2026-03-15"),
        ("quarter to date", "2026-01-01", "2026-03-15"),
        ("qtd", "2026-01-01", "2026-03-15"),
        ("week to date", "2026-03-09", "2026-03-15"),  # 2026-03-15 is a Sunday
        ("so far this year", "2026-01-01", "2026-03-15"),
        ("this month so far", "2026-03-01", "2026-03-15"),
    ],
)
def test_period_to_date(text: str, start: str, end: str) -> None:
    assert only_span(f"totals {text}", date(2026, 3, 15)) == (start, end)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("since Jan 15", "2026-01-15"),
        ("since January 15th", "2026-01-15"),
        ("since 2025", "2025-01-01"),
        ("since March 2025", "2025-03-01"),
        ("since last week", "2026-03-23"),
        ("since yesterday", "2026-03-30"),
        ("since Q3 2025", "2025-07-01"),
        ("since 12/01/2025", "2025-12-01"),
        ("since the start of last quarter", "2025-10-01"),
        ("since three weeks ago", "2026-03-10"),
    ],
)
def test_since_runs_to_as_of(text: str, start: str) -> None:
    assert only_span(f"orders {text}") == (start, "2026-03-31")


def test_since_a_future_date_becomes_a_boundary() -> None:
    rewrite = resolve_relative_dates("orders since next month", AS_OF)
    assert rewrite.text == "orders since 2026-04-01"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-15",
        "01/15/2026",
        "1/15/26",
        "15 Jan 2026",
        "Jan 15, 2026",
        "Jan. 15 2026",
        "January 15th 2026",
        "the 15th of January, 2026",
        "2026/01/15",
        "15/01/2026",  # 15 cannot be a month: read day first
    ],
)
def test_explicit_date_formats(text: str) -> None:
    rewrite = resolve_relative_dates(f"orders on {text}, please", AS_OF)
    assert rewrite.text == "orders on 2026-01-15, please"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("between Jan 1 and Mar 31 2026", "2026-01-01", "2026-03-31"),
        ("from 2025-01-01 to 2025-06-30", "2025-01-01", "2025-06-30"),
        ("from Nov 1 to Feb 28, 2026", "2025-11-01", "2026-02-28"),  # the year rolls back
        ("from March to June 2025", "2025-03-01", "2025-06-30"),
        ("between Q1 and Q3 2025", "2025-01-01", "2025-09-30"),
        ("Jan 1 - Mar 31, 2026", "2026-01-01", "2026-03-31"),
        ("01/01/2025 through 06/30/2025", "2025-01-01", "2025-06-30"),
        ("from 2025-12-01 until Jan 15", "2025-12-01", "2026-01-15"),
        ("between 2023 and 2024", "2023-01-01", "2024-12-31"),
        ("from last Monday to yesterday", "2026-03-23", "2026-03-30"),
        ("between 2025 and now", "2025-01-01", "2026-03-31"),
        ("from January to date", "2026-01-01", "2026-03-31"),
        ("from last March to the present", "2025-03-01", "2026-03-31"),
        ("in the week of March 2", "2026-03-02", "2026-03-08"),  # Monday to Sunday
    ],
)
def test_explicit_ranges(text: str, start: str, end: str) -> None:
    assert only_span(f"orders {text}") == (start, end)


def test_backwards_range_is_not_resolved() -> None:
    text = "from 2026-03-01 to 2026-01-01"
    rewrite = resolve_relative_dates(text, AS_OF)
    assert rewrite.text == text  # each date is a day of its own, the two are no range
    assert [(s.source, s.start, s.end) for s in rewrite.spans] == [
        ("2026-03-01", date(2026, 3, 1), date(2026, 3, 1)),
        ("2026-01-01", date(2026, 1, 1), date(2026, 1, 1)),
    ]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("Q3 2025", "2025-07-01", "2025-09-30"),
        ("Q3-2025", "2025-07-01", "2025-09-30"),
        ("Q2 of 2024", "2024-04-01", "2024-06-30"),
        ("the fourth quarter of 2025", "2025-10-01", "2025-12-31"),
        ("the 4th quarter 2025", "2025-10-01", "2025-12-31"),
        ("the first quarter of last year", "2025-01-01", "2025-03-31"),
        ("Q1", "2026-01-01", "2026-03-31"),
        ("Q4", "2026-10-01", "2026-12-31"),  # alone: the one in the as-of year
        ("H1", "2026-01-01", "2026-06-30"),
        ("H2 2025", "2025-07-01", "2025-12-31"),
        ("the first half of 2025", "2025-01-01", "2025-06-30"),
        ("second half of last year", "2025-07-01", "2025-12-31"),
        ("2025 Q3", "2025-07-01", "2025-09-30"),
        ("2025-H2", "2025-07-01", "2025-12-31"),
    ],
)
def test_quarters_and_halves(text: str, start: str, end: str) -> None:
    assert only_span(f"revenue {text}") == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("in March 2025", "2025-03-01", "2025-03-31"),
        ("in Feb 2026", "2026-02-01", "2026-02-28"),
        ("during Sept 2025", "2025-09-01", "2025-09-30"),
        ("March of last year", "2025-03-01", "2025-03-31"),
        ("in January", "2026-01-01", "2026-01-31"),
        ("in March", "2026-03-01", "2026-03-31"),  # the as-of month itself
        ("in April", "2025-04-01", "2025-04-30"),  # April 2026 has not begun
        ("in may", "2025-05-01", "2025-05-31"),
        ("on Jan 15", "2026-01-15", "2026-01-15"),
        ("on Mar 31", "2026-03-31", "2026-03-31"),
        ("on Apr 1", "2025-04-01", "2025-04-01"),  # 2026-04-01 would be in the future
        ("in 2025", "2025-01-01", "2025-12-31"),
        ("during 2024", "2024-01-01", "2024-12-31"),
        ("for the year 2023", "2023-01-01", "2023-12-31"),
        ("last March", "2025-03-01", "2025-03-31"),  # March 2026 is the current month
        ("last February", "2026-02-01", "2026-02-28"),
        ("this December", "2026-12-01", "2026-12-31"),
        ("next January", "2027-01-01", "2027-01-31"),
    ],
)
def test_months_and_years(text: str, start: str, end: str) -> None:
    assert only_span(f"orders {text}") == (start, end)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders in Q1 2026", "orders from 2026-01-01 through 2026-03-31"),
        ("orders during the past 7 days", "orders from 2026-03-25 through 2026-03-31"),
        ("counts over the last 3 months", "counts from 2026-01-01 through 2026-03-31"),
        ("counts for last month", "counts from 2026-02-01 through 2026-02-28"),
        ("results came back this quarter", "results came back from 2026-01-01 through 2026-03-31"),
        ("tests ordered on 01/15/2026", "tests ordered on 2026-01-15"),
        ("tests ordered in 3 days ago", "tests ordered in 2026-03-28"),
        (
            "labs in 2024 and 2025",
            "labs from 2024-01-01 through 2024-12-31 and from 2025-01-01 through 2025-12-31",
        ),
        ("orders before March 2025", "orders before 2025-03-01"),
        ("orders after Q3 2025", "orders after 2025-09-30"),
        ("orders until last month", "orders until 2026-02-28"),
        ("orders placed prior to 2025", "orders placed prior to 2025-01-01"),
        ("Orders In January", "Orders from 2026-01-01 through 2026-01-31"),
        ("ORDERS LAST WEEK", "ORDERS from 2026-03-23 through 2026-03-29"),
        ("last week's results", "from 2026-03-23 through 2026-03-29 results"),
        ("yesterday\u2019s orders", "2026-03-30 orders"),
    ],
)
def test_prepositions_and_boundaries(text: str, expected: str) -> None:
    assert resolve_relative_dates(text, AS_OF).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "physicians with 3 or more abnormal results",
        "patients low in vitamin D 25 hydroxy",
        "COVID 19 related results",
        "COVID-19 related results",
        "the top 5 labs",
        "results may be high",
        "the last may be high",
        "May I see the orders?",
        "orders 3 days before discharge",
        "results 2 weeks prior to admission",
        "in 300 cases",
        "the first half of the list",
        "grouped by month and sorted by year",
        "a 2025 result count",
        "good morning",
        "version 2.5.1",
        "spend in fiscal year 2025",
        "fiscal Q1 targets",
    ],
)
def test_plain_numbers_and_words_are_not_dates(text: str) -> None:
    rewrite = resolve_relative_dates(text, AS_OF)
    assert rewrite.text == text
    assert rewrite.spans == ()


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("came back 2026-01-01 through 2026-03-31 across", [("2026-01-01", "2026-03-31")]),
        ("orders from 2026-01-01 through 2026-03-31", [("2026-01-01", "2026-03-31")]),
        ("orders from 2025-11-03 through 2025-11-09", [("2025-11-03", "2025-11-09")]),
        ("orders on 2026-01-20", [("2026-01-20", "2026-01-20")]),
        (
            "before 2025-03-01 or after 2025-09-30",
            [("2025-03-01", "2025-03-01"), ("2025-09-30", "2025-09-30")],
        ),
        ("in 2026-01-01 through 2026-03-31", [("2026-01-01", "2026-03-31")]),
    ],
)
def test_explicit_dates_and_ranges_are_spans_and_keep_their_text(
    text: str, ranges: list[tuple[str, str]]
) -> None:
    rewrite = resolve_relative_dates(text, AS_OF)
    assert rewrite.text == text
    assert [(s.start.isoformat(), s.end.isoformat()) for s in rewrite.spans] == ranges
    for span in rewrite.spans:
        assert text[span.offset : span.offset + span.length] == span.source
        assert span.rendered.endswith(span.source.removeprefix("from "))


def test_an_explicit_date_is_reported_where_it_stands() -> None:
    text = "orders on 2026-01-20 and from 2025-11-03 through 2025-11-09"
    spans = resolve_relative_dates(text, AS_OF).spans
    assert spans == (
        DateSpan("2026-01-20", date(2026, 1, 20), date(2026, 1, 20), 10, 10),
        DateSpan(
            "from 2025-11-03 through 2025-11-09",
            date(2025, 11, 3),
            date(2025, 11, 9),
            text.index("from"),
            34,
        ),
    )


def ranges_of(text: str, as_of: date) -> list[tuple[date, date]]:
    return [(s.start, s.end) for s in resolve_relative_dates(text, as_of).spans]


@pytest.mark.parametrize(
    "text",
    [
        # Odd texts where an early version rewrote its own output a second time.
        "YTD to date",
        "this quarter to date to date",
        "this quarter until between Jan 1 and Mar 31 2026",
        "since from 2025-01-01 to 2025-06-30",
        "this quarter - in Q1 2026",
        "since in this quarter",
        "before over over this quarter",
        "Feb 29 2025 Q3",
        "top 5 week before between Jan 1 and Mar 31 2026",
        "labs in 2024 and in 2025",
    ],
)
@pytest.mark.parametrize("as_of", [AS_OF, date(2000, 1, 1)])
def test_a_second_pass_changes_nothing_and_finds_the_same_ranges(text: str, as_of: date) -> None:
    once = resolve_relative_dates(text, as_of)
    twice = resolve_relative_dates(once.text, as_of)
    assert twice.text == once.text
    assert ranges_of(once.text, as_of) == ranges_of(text, as_of)


def test_resolving_twice_changes_nothing() -> None:
    text = PAPER + " Also orders since Jan 15 and in Q4 2025."
    once = resolve_relative_dates(text, AS_OF)
    twice = resolve_relative_dates(once.text, AS_OF)
    assert twice.text == once.text
    assert ranges_of(once.text, AS_OF) == ranges_of(text, AS_OF)


@pytest.mark.parametrize(
    ("text", "start", "end", "as_of"),
    [
        ("the last quarter of 2024", "2024-10-01", "2024-12-31", AS_OF),
        ("the final quarter of 2024", "2024-10-01", "2024-12-31", AS_OF),
        ("the first half of 2025", "2025-01-01", "2025-06-30", AS_OF),
        ("the last half of 2025", "2025-07-01", "2025-12-31", AS_OF),
        ("the last month of 2025", "2025-12-01", "2025-12-31", AS_OF),
        ("the first month of Q2 2025", "2025-04-01", "2025-04-30", AS_OF),
        ("the first week of March", "2026-03-01", "2026-03-07", AS_OF),
        ("first week of March", "2026-03-01", "2026-03-07", AS_OF),
        ("the first week of March", "2025-03-01", "2025-03-07", date(2026, 2, 10)),
        ("the second week of January 2026", "2026-01-08", "2026-01-14", AS_OF),
        ("the fourth week of February 2026", "2026-02-22", "2026-02-28", AS_OF),
        ("the last week of March", "2026-03-25", "2026-03-31", AS_OF),
        ("the last week of 2025", "2025-12-25", "2025-12-31", AS_OF),
        ("the last week of February 2024", "2024-02-23", "2024-02-29", AS_OF),
        ("the first day of February", "2026-02-01", "2026-02-01", AS_OF),
        ("the last day of February 2024", "2024-02-29", "2024-02-29", AS_OF),
        ("the first 10 days of March", "2026-03-01", "2026-03-10", AS_OF),
        ("the last two weeks of 2025", "2025-12-18", "2025-12-31", AS_OF),
        ("the last 3 months of 2025", "2025-10-01", "2025-12-31", AS_OF),
        ("the first quarter of last year", "2025-01-01", "2025-03-31", AS_OF),
        ("the last week of last month", "2026-02-22", "2026-02-28", AS_OF),
        ("the first week of the month", "2026-03-01", "2026-03-07", AS_OF),
        ("the last quarter", "2025-10-01", "2025-12-31", AS_OF),  # alone: the one before
        ("the last month", "2026-02-01", "2026-02-28", AS_OF),
    ],
)
def test_a_part_of_a_period_is_that_part(text: str, start: str, end: str, as_of: date) -> None:
    assert only_span(f"orders in {text}", as_of) == (start, end)


@pytest.mark.parametrize(
    "text",
    [
        "the first half of the list",
        "the last week of treatment",
        "the fifth week of February 2026",
        "the first quarter of March",
        "the last 40 days of February 2026",
    ],
)
def test_a_part_that_is_not_a_part_of_a_period_is_not_read_as_one(text: str) -> None:
    rewrite = resolve_relative_dates(f"orders in {text}", AS_OF)
    assert all(span.source not in text or "of" not in span.source for span in rewrite.spans)


def test_a_part_of_a_period_absorbs_its_preposition() -> None:
    rewrite = resolve_relative_dates("orders during the first week of March", AS_OF)
    assert rewrite.text == "orders from 2026-03-01 through 2026-03-07"


# --- one expression at a time (what the model points at) ----------------------------


@pytest.mark.parametrize(
    ("expression", "start", "end"),
    [
        ("300 days prior", "2025-06-04", "2025-06-04"),
        ("in January", "2026-01-01", "2026-01-31"),
        ("2025", "2025-01-01", "2025-12-31"),
        ("March", "2026-03-01", "2026-03-31"),
        ("2026-01-15", "2026-01-15", "2026-01-15"),
        ("from 2026-01-01 through 2026-03-31", "2026-01-01", "2026-03-31"),
        ("  last quarter. ", "2025-10-01", "2025-12-31"),
        ("on Friday last week", "", ""),
    ],
)
def test_resolve_expression(expression: str, start: str, end: str) -> None:
    span = resolve_expression(expression, AS_OF)
    if not start:
        assert span is None
        return
    assert span is not None
    assert (span.start.isoformat(), span.end.isoformat()) == (start, end)
    assert expression[span.offset : span.offset + span.length] == span.source


def test_resolve_expression_rejects_partial_matches() -> None:
    assert resolve_expression("the holidays", AS_OF) is None
    assert resolve_expression("last week of patients", AS_OF) is None
    assert resolve_expression("", AS_OF) is None


# --- hints for the model -----------------------------------------------------------


def test_hints_name_what_was_not_resolved() -> None:
    text = "orders recently, lately, during the holidays and since spring, last week too"
    assert find_unresolved_hints(text) == ["recently", "lately", "the holidays", "since spring"]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("results from a couple of weeks ago", "a couple of weeks ago"),
        ("orders in the next 7 days", "next 7 days"),
        ("orders 3 days before discharge", "3 days before discharge"),
        ("orders in the past 24 hours", "past 24 hours"),
        ("spend in fiscal year 2025", "fiscal year 2025"),
        ("orders on Monday", "on Monday"),
        ("visits in early March", "early March"),
        ("orders placed 6 months earlier", "6 months earlier"),
        ("in the first few weeks of March", "first few weeks of March"),
    ],
)
def test_hints_catch_common_leftovers(text: str, hint: str) -> None:
    assert hint in find_unresolved_hints(text)


def test_no_hints_for_resolved_or_plain_text() -> None:
    assert find_unresolved_hints("orders last week and in Q1 2026") == []
    assert find_unresolved_hints("top 5 labs by CBC count") == []


# --- properties --------------------------------------------------------------------

FRAGMENTS = [
    "the first week of",
    "the last quarter of",
    "first 10 days of",
    "the second",
    "week",
    "2026-01-20",
    "this quarter",
    "last week",
    "past 7 days",
    "3 days ago",
    "in Q1 2026",
    "since Jan 15",
    "between Jan 1 and Mar 31 2026",
    "YTD",
    "H2 2025",
    "in 2024",
    "yesterday",
    "March 2025",
    "the last twelve months",
    "from 2025-01-01 to 2025-06-30",
    "01/15/2026",
    "before May 2025",
    "orders",
    "results",
    "and",
    "in",
    "for",
    "top 5",
    "3 or more",
    "COVID 19",
    "may",
    "the",
    "2025",
    "through",
    "to",
    "from",
    "Q2",
    ",",
    "since",
    "last",
    "year",
    "of",
    "ago",
    "-",
    "'s",
    "now",
    "date",
    "until",
    "before",
    "over",
    "2025 Q3",
    "Feb 29",
    "the start of",
]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(FRAGMENTS), max_size=12),
    as_of=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
)
def test_spans_are_sound_and_rewriting_is_idempotent(words: list[str], as_of: date) -> None:
    text = " ".join(words)
    rewrite = resolve_relative_dates(text, as_of)
    cursor = 0
    kept = []
    for span in rewrite.spans:
        assert span.start <= span.end
        assert span.offset >= cursor
        assert text[span.offset : span.offset + span.length] == span.source
        kept.append(text[cursor : span.offset])
        cursor = span.offset + span.length
    kept.append(text[cursor:])
    # Everything outside the spans survives unchanged and in order.
    remainder = rewrite.text
    for piece in kept:
        index = remainder.find(piece)
        assert index >= 0
        remainder = remainder[index + len(piece) :]
    again = resolve_relative_dates(rewrite.text, as_of)
    assert again.text == rewrite.text
    assert [(s.start, s.end) for s in again.spans] == [(s.start, s.end) for s in rewrite.spans]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), as_of=st.dates())
def test_arbitrary_text_never_breaks_the_resolver(text: str, as_of: date) -> None:
    rewrite = resolve_relative_dates(text, as_of)
    if not rewrite.spans:
        assert rewrite.text == text
    find_unresolved_hints(text, as_of)


# --- the command -------------------------------------------------------------------


def test_dates_command_prints_json(capsys: pytest.CaptureFixture[str], data_dir: object) -> None:
    code = main(["dates", "results came back this quarter", "--as-of", "2026-03-31", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {
        "text": "results came back from 2026-01-01 through 2026-03-31",
        "spans": [{"source": "this quarter", "start": "2026-01-01", "end": "2026-03-31"}],
    }


def test_dates_command_defaults_to_the_settings_as_of(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: object
) -> None:
    monkeypatch.setenv("WORKBENCH_AS_OF", "2025-12-31")
    assert main(["dates", "orders since spring and last quarter"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("orders since spring and from 2025-07-01 through 2025-09-30\n")
    assert "'since spring'" in out


def test_dates_command_names_a_bad_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dates", "today", "--as-of", "31/03/2026"]) == 1
    assert "--as-of '31/03/2026'" in capsys.readouterr().err
