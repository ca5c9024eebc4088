"""Proving the smoke suite against the database: ``smoke check``.

A case that fails a check is recorded and the check goes on, so one run lists every
problem at once. Why the checks: a gold query that returns nothing cannot tell a right
pipeline from a wrong one, and a ``wrong_sql`` the comparator calls equivalent shows
the data cannot tell the two readings apart. Both would make a green smoke run
meaningless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from workbench.errors import SQLParseError, SQLRefused, WorkbenchError
from workbench.smoke.cases import (
    CATEGORIES,
    CATEGORY_MINIMUMS,
    EMPTY_EXPECTED,
    MIN_WRONG_SQL,
    STAGE_IDS,
    TAGS_FILE,
    SmokeCase,
    count_by_category,
    count_by_tag,
)
from workbench.sql import Database, QueryResult, compare_results, gold_is_ordered


@dataclass(frozen=True)
class CaseFailure:
    """One failed check; ``case_id`` is None for checks on the suite as a whole."""

    case_id: str | None
    check: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "check": self.check, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    """What ``check_cases`` found: counts, and every failure."""

    cases: int
    by_category: Mapping[str, int]
    by_tag: Mapping[str, int]
    wrong_sql_cases: int
    failures: tuple[CaseFailure, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "by_category": dict(self.by_category),
            "by_tag": dict(self.by_tag),
            "wrong_sql_cases": self.wrong_sql_cases,
            "failures": [f.to_dict() for f in self.failures],
        }


def check_cases(
    cases: Iterable[SmokeCase],
    database: Database,
    *,
    known_tags: Iterable[str],
    minimums: Mapping[str, int] = CATEGORY_MINIMUMS,
    min_wrong_sql: int = MIN_WRONG_SQL,
) -> CheckReport:
    """Prove the suite against ``database``; every failure is recorded, none stops the check.

    Args:
        cases: the suite (usually ``load_cases(settings.smoke_cases_dir)``).
        database: the database the gold queries run against.
        known_tags: the documented tag list (``load_tags(...)``).
        minimums: cases needed per category; suite-level failures when short.
        min_wrong_sql: cases needed that carry a ``wrong_sql``.
    """
    cases = tuple(cases)
    known = set(known_tags)
    failures: list[CaseFailure] = []
    if not cases:
        failures.append(CaseFailure(None, "no-cases", "the suite has no cases: write some"))
    failures += _check_uniqueness(cases)
    for case in cases:
        failures += _check_case_fields(case, known)
        gold, gold_failures = _check_gold(case, database)
        failures += gold_failures
        if gold is not None:
            failures += _check_wrong(case, gold, database)
            failures += _check_limit_ties(case, gold, database)
    by_category = count_by_category(cases)
    for category, minimum in minimums.items():
        if by_category.get(category, 0) < minimum:
            failures.append(
                CaseFailure(
                    None,
                    "category-minimum",
                    f"{category} has {by_category.get(category, 0)} cases; needs {minimum}",
                )
            )
    wrong_count = sum(1 for c in cases if c.wrong_sql)
    if wrong_count < min_wrong_sql:
        failures.append(
            CaseFailure(
                None,
                "wrong-sql-minimum",
                f"{wrong_count} cases carry a wrong_sql; needs {min_wrong_sql}",
            )
        )
    return CheckReport(
        cases=len(cases),
        by_category=by_category,
        by_tag=count_by_tag(cases),
        wrong_sql_cases=wrong_count,
        failures=tuple(failures),
    )


def _normalized_question(question: str) -> str:
    return " ".join(question.casefold().split())


def _check_uniqueness(cases: tuple[SmokeCase, ...]) -> list[CaseFailure]:
    failures = []
    seen_ids: dict[str, SmokeCase] = {}
    seen_questions: dict[str, SmokeCase] = {}
    for case in cases:
        if case.id in seen_ids:
            failures.append(
                CaseFailure(
                    case.id,
                    "duplicate-id",
                    f"id also used at {seen_ids[case.id].source or 'another case'}",
                )
            )
        else:
            seen_ids[case.id] = case
        key = _normalized_question(case.question)
        if key in seen_questions:
            failures.append(
                CaseFailure(
                    case.id,
                    "duplicate-question",
                    f"same question as {seen_questions[key].id}",
                )
            )
        else:
            seen_questions[key] = case
    return failures


def _check_case_fields(case: SmokeCase, known: set[str]) -> list[CaseFailure]:
    failures = []
    unknown = [t for t in case.tags if t not in known]
    if unknown:
        failures.append(
            CaseFailure(
                case.id,
                "unknown-tag",
                f"tags {', '.join(unknown)} are not in {TAGS_FILE}; add them there or fix the case",
            )
        )
    if case.category not in CATEGORIES or case.category not in case.tags:
        failures.append(
            CaseFailure(case.id, "category", f"category {case.category!r} is not one of its tags")
        )
    bad_stages = [e.stage for e in case.expect if e.stage not in STAGE_IDS]
    if bad_stages:
        failures.append(
            CaseFailure(
                case.id,
                "expect-stage",
                f"expect names unknown stages {', '.join(bad_stages)}; "
                f"stage ids are {', '.join(STAGE_IDS)}",
            )
        )
    if "ambiguous" in case.tags and not case.note:
        failures.append(
            CaseFailure(case.id, "note", "ambiguous cases document their reading in 'note'")
        )
    return failures


def _check_gold(
    case: SmokeCase, database: Database
) -> tuple[QueryResult | None, list[CaseFailure]]:
    """Run the gold query; its result (None when it failed) and what is wrong with it."""

    def failed(check: str, message: str) -> tuple[None, list[CaseFailure]]:
        return None, [CaseFailure(case.id, check, message)]

    # run_query parses and applies the safety rules before anything executes.
    try:
        result = database.run(case.gold_sql)
    except SQLParseError as exc:
        return failed("gold-parses", str(exc))
    except SQLRefused as exc:
        return failed("gold-readonly", str(exc))
    except WorkbenchError as exc:
        return failed("gold-executes", str(exc))
    rows = result.row_count
    if result.truncated:
        return failed(
            "gold-rows",
            f"the gold returns more than {database.row_cap} rows, so results cannot be compared; narrow it",
        )
    if case.empty_expected and rows:
        return failed("gold-rows", f"tagged {EMPTY_EXPECTED} but the gold returns {rows} rows")
    if not case.empty_expected and not rows:
        return failed(
            "gold-rows",
            f"the gold returns no rows; tag it {EMPTY_EXPECTED} or choose filters that match",
        )
    return result, []


def _check_wrong(case: SmokeCase, gold: QueryResult, database: Database) -> list[CaseFailure]:
    """The wrong reading must run and the comparator must tell it from the gold."""
    if not case.wrong_sql:
        return []

    try:
        wrong = database.run(case.wrong_sql)
    except WorkbenchError as exc:
        return [CaseFailure(case.id, "wrong-executes", str(exc))]
    verdict = compare_results(gold, wrong, ordered=gold_is_ordered(case.gold_sql))
    if verdict.equivalent:
        return [
            CaseFailure(
                case.id,
                "wrong-discriminates",
                "the comparator finds wrong_sql equivalent to the gold: the data cannot "
                "tell the two readings apart; choose another wrong reading or other filters",
            )
        ]
    return []


def tie_broken_variants(sql: str, columns: int) -> tuple[str, str] | None:
    """``sql`` twice, its outermost ORDER BY extended by every output column ascending,
    then descending; None when its outermost query has no LIMIT.

    The two return the same rows exactly when the LIMIT does not cut through rows that
    tie on the ORDER BY keys (with no ORDER BY, every row ties).
    """

    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None
    if tree.args.get("limit") is None:
        return None
    order = tree.args.get("order")
    given = list(order.expressions) if order is not None else []
    variants = []
    for desc in (False, True):
        copy = tree.copy()
        keys = [exp.Ordered(this=exp.Literal.number(i), desc=desc) for i in range(1, columns + 1)]
        copy.set("order", exp.Order(expressions=[*given, *keys]))
        variants.append(copy.sql(dialect="postgres"))
    return variants[0], variants[1]


def _check_limit_ties(case: SmokeCase, gold: QueryResult, database: Database) -> list[CaseFailure]:
    """A LIMIT that cuts through a tie makes the gold's rows arbitrary: a right answer
    could then fail (or a wrong one pass) depending on the engine's whim."""
    variants = tie_broken_variants(case.gold_sql, len(gold.columns))
    if variants is None:
        return []

    try:
        first, second = (database.run(sql) for sql in variants)
    except WorkbenchError:
        return []  # the gold itself ran; a rewrite the database refuses proves nothing either way
    if sorted(map(repr, first.rows)) == sorted(map(repr, second.rows)):
        return []
    return [
        CaseFailure(
            case.id,
            "gold-limit-tie",
            "the gold's LIMIT cuts through rows that tie on its ORDER BY keys, so the rows it "
            "returns are arbitrary; add an ORDER BY key that breaks the tie or move the LIMIT",
        )
    ]
