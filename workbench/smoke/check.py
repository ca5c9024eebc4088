"""Proving the smoke suite against the database: ``smoke check``.

A case that fails a check is recorded and the check goes on, so one run lists every
problem at once. Why the checks: a gold query that returns nothing cannot tell a right
pipeline from a wrong one, and a ``wrong_sql`` the comparator calls equivalent shows
the data cannot tell the two readings apart. Both would make a green smoke run
meaningless. Smoke runs judge on the variant databases too, so the gold must work on
each of them, and each wrong reading must be told apart on each of them: a case whose
discrimination hangs on one draw of the data is fragile.

A failure of the database itself is not a failure of a case: a database that cannot be
reached, refuses the login, does not exist or does not let the role use a schema would fail
every case with the same words. The check stops at the first one and raises it, once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.cases.suite import (
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
from workbench.diagnosis.gold import RULES, GoldFinding, GoldRun, lint_gold
from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    SchemaPermissionDenied,
    SQLParseError,
    SQLRefused,
    WorkbenchError,
)
from workbench.sql import (
    Database,
    GoldCache,
    GoldResult,
    QueryResult,
    Variant,
    held_open,
    judge_result,
    limit_tie_breaks,
)

DATABASE_FAILURES = (ConfigError, DatabaseUnavailable, SchemaPermissionDenied)
"""Errors of the database (or its settings) rather than of one query: they stop the check."""


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
    databases: tuple[str, ...] = ()
    """The databases the suite was proved on: the main one, then its variants."""
    lint: tuple[GoldFinding, ...] = ()
    """What the gold linter found in the golds that run (``workbench.diagnosis.gold``)."""

    @property
    def unjustified(self) -> tuple[GoldFinding, ...]:
        """The lint findings no case file justifies: what ``--strict`` fails on."""
        return tuple(f for f in self.lint if f.justified is None)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "by_category": dict(self.by_category),
            "by_tag": dict(self.by_tag),
            "wrong_sql_cases": self.wrong_sql_cases,
            "databases": list(self.databases),
            "failures": [f.to_dict() for f in self.failures],
            "lint": [f.to_dict() for f in self.lint],
        }


def check_cases(
    cases: Iterable[SmokeCase],
    database: Database,
    *,
    known_tags: Iterable[str],
    variants: Sequence[Variant] = (),
    minimums: Mapping[str, int] = CATEGORY_MINIMUMS,
    min_wrong_sql: int = MIN_WRONG_SQL,
    categories: Sequence[str] = CATEGORIES,
    stage_ids: Collection[str] | None = STAGE_IDS,
) -> CheckReport:
    """Prove the suite against ``database`` and its variants; every failure of a case is
    recorded and the check goes on.

    Args:
        cases: the suite (usually ``load_cases(settings.smoke_cases_dir, settings.as_of)``).
        database: the database the gold queries run against.
        known_tags: the documented tag list (``load_tags(...)``).
        variants: databases verdicts are also checked on (``workbench.sql.variants``): the
            gold must run on each without a LIMIT cutting a tie, and every wrong reading must
            be told apart from the gold on each.
        minimums: cases needed per category; suite-level failures when short.
        min_wrong_sql: cases needed that carry a ``wrong_sql``.
        categories: the suite's categories (``suite_categories``), each case in one.
        stage_ids: the pipeline's stage ids, which ``expect`` may name (None: not checked,
            the prompts could not be read).

    Raises:
        ConfigError, DatabaseUnavailable, SchemaPermissionDenied: a failure of the database
            itself (``DATABASE_FAILURES``), at the first case it meets: it would fail them all.
    """
    cases = tuple(cases)
    known = _Known(set(known_tags), tuple(categories), stage_ids)
    golds = GoldCache()
    databases = [("the main database", database)]
    databases += [(f"variant database {v.name}", v.database) for v in variants]
    failures: list[CaseFailure] = []
    lint: list[GoldFinding] = []
    if not cases:
        failures.append(CaseFailure(None, "no-cases", "the suite has no cases: write some"))
    failures += _check_uniqueness(cases)
    with held_open(d for _, d in databases):
        for case in cases:
            failures += _check_case(case, known, databases, golds)
            lint += _lint(case, databases, golds)
    by_category = count_by_category(cases, categories)
    for category, minimum in minimums.items():
        if by_category.get(category, 0) < minimum:
            failures.append(
                CaseFailure(
                    None,
                    "category-minimum",
                    f"{category} has {by_category.get(category, 0)} cases; needs {minimum}",
                )
            )
    wrong_count = sum(1 for c in cases if c.wrong_readings)
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
        databases=tuple(name for name, _ in databases),
        lint=tuple(lint),
    )


def _check_case(
    case: SmokeCase,
    known: _Known,
    databases: Sequence[tuple[str, Database]],
    golds: GoldCache,
) -> list[CaseFailure]:
    failures = _check_case_fields(case, known)
    (_, database), *variants = databases
    gold, gold_failures = _check_gold(case, database, golds)
    failures += gold_failures
    if gold is None:
        return failures
    failures += _check_limit_ties(case, gold.result, database)
    variant_failures = _check_on_variants(case, variants, golds)
    failures += variant_failures
    if not variant_failures:
        failures += _check_wrong(case, databases, golds)
    return failures


def _lint(
    case: SmokeCase, databases: Sequence[tuple[str, Database]], golds: GoldCache
) -> list[GoldFinding]:
    """The gold linter's findings on the databases where the gold runs (a gold that fails
    somewhere already has its failure)."""
    runs = []
    for name, database in databases:
        try:
            runs.append(GoldRun(name, golds.get(case.gold_sql, database)))
        except DATABASE_FAILURES:
            raise
        except WorkbenchError:
            continue
    found = lint_gold(
        case.question,
        case.gold_sql,
        runs,
        as_of=case.as_of,
        empty_expected=case.empty_expected,
        has_wrong_sql=bool(case.wrong_readings),
    )
    return [
        GoldFinding(case.id, rule, message, case.source, case.justification(rule))
        for rule, message in found
    ]


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


@dataclass(frozen=True)
class _Known:
    """What a case's fields are checked against: the tag list, categories and stage ids."""

    tags: set[str]
    categories: tuple[str, ...]
    stage_ids: Collection[str] | None


def _check_case_fields(case: SmokeCase, known: _Known) -> list[CaseFailure]:
    failures = []
    unknown = [t for t in case.tags if t not in known.tags]
    if unknown:
        failures.append(
            CaseFailure(
                case.id,
                "unknown-tag",
                f"tags {', '.join(unknown)} are not in {TAGS_FILE}; add them there or fix the case",
            )
        )
    if case.category not in known.categories or case.category not in case.tags:
        failures.append(
            CaseFailure(case.id, "category", f"category {case.category!r} is not one of its tags")
        )
    stage_ids = known.stage_ids
    bad_stages = [
        e.stage for e in case.expect if stage_ids is not None and e.stage not in stage_ids
    ]
    if bad_stages:
        failures.append(
            CaseFailure(
                case.id,
                "expect-stage",
                f"expect names unknown stages {', '.join(bad_stages)}; "
                f"the pipeline's stage ids are {', '.join(stage_ids or ())}",
            )
        )
    unknown_rules = [rule for rule, _ in case.justified if rule not in RULES]
    if unknown_rules:
        failures.append(
            CaseFailure(
                case.id,
                "lint-rule",
                f"lint names unknown rules {', '.join(unknown_rules)}; "
                f"the gold linter's rules are {', '.join(RULES)}",
            )
        )
    if "ambiguous" in case.tags and not case.note:
        failures.append(
            CaseFailure(case.id, "note", "ambiguous cases document their reading in 'note'")
        )
    return failures


def _check_gold(
    case: SmokeCase, database: Database, golds: GoldCache
) -> tuple[GoldResult | None, list[CaseFailure]]:
    """Run the gold on the main database; its result (None when it failed) and what is wrong."""

    def failed(check: str, message: str) -> tuple[None, list[CaseFailure]]:
        return None, [CaseFailure(case.id, check, message)]

    # run_query parses and applies the safety rules before anything executes.
    try:
        gold = golds.get(case.gold_sql, database)
    except SQLParseError as exc:
        return failed("gold-parses", str(exc))
    except SQLRefused as exc:
        return failed("gold-readonly", str(exc))
    except DATABASE_FAILURES:
        raise
    except WorkbenchError as exc:
        return failed("gold-executes", str(exc))
    rows = gold.result.row_count
    if case.empty_expected and rows:
        return failed("gold-rows", f"tagged {EMPTY_EXPECTED} but the gold returns {rows} rows")
    if not case.empty_expected and not rows:
        return failed(
            "gold-rows",
            f"the gold returns no rows; tag it {EMPTY_EXPECTED} or choose filters that match",
        )
    return gold, []


def _check_on_variants(
    case: SmokeCase, variants: Sequence[tuple[str, Database]], golds: GoldCache
) -> list[CaseFailure]:
    """The gold must run on every variant too, and its LIMIT must not cut a tie there."""
    failures = []
    for name, database in variants:
        try:
            gold = golds.get(case.gold_sql, database)
        except DATABASE_FAILURES:
            raise
        except WorkbenchError as exc:
            failures.append(CaseFailure(case.id, "gold-executes", f"on {name}: {exc}"))
            continue
        failures += _check_limit_ties(case, gold.result, database, name)
    return failures


def _check_wrong(
    case: SmokeCase, databases: Sequence[tuple[str, Database]], golds: GoldCache
) -> list[CaseFailure]:
    """Each wrong reading must run, and the comparator must tell it from the gold on every
    database: a reading only some draws of the data tell apart makes a fragile case."""
    failures = []
    for number, wrong_sql in enumerate(case.wrong_readings, start=1):
        which = f"wrong_sql #{number}" if len(case.wrong_readings) > 1 else "wrong_sql"
        same_on: list[str] = []
        for name, database in databases:
            try:
                gold = golds.get(case.gold_sql, database)
                wrong = database.run(wrong_sql)
            except DATABASE_FAILURES:
                raise
            except WorkbenchError as exc:
                failures.append(CaseFailure(case.id, "wrong-executes", f"{which} on {name}: {exc}"))
                break
            if judge_result(gold, wrong, database).equivalent:
                same_on.append(name)
        if same_on:
            failures.append(
                CaseFailure(
                    case.id,
                    "wrong-discriminates",
                    f"the comparator finds {which} equivalent to the gold on "
                    f"{', '.join(same_on)}: the data there cannot tell the two readings apart; "
                    "choose another wrong reading or other filters",
                )
            )
    return failures


def _check_limit_ties(
    case: SmokeCase, gold: QueryResult, database: Database, where: str = "the main database"
) -> list[CaseFailure]:
    """A LIMIT that cuts through a tie makes the gold's rows arbitrary: a right answer
    could then fail (or a wrong one pass) depending on the engine's whim."""
    breaks = limit_tie_breaks(case.gold_sql, len(gold.columns))
    if breaks is None:
        return []
    try:
        first, second = (database.run(sql) for sql in breaks)
    except DATABASE_FAILURES:
        raise
    except WorkbenchError:
        return []  # the gold itself ran; a rewrite the database refuses proves nothing either way
    if sorted(map(repr, first.rows)) == sorted(map(repr, second.rows)):
        return []
    return [
        CaseFailure(
            case.id,
            "gold-limit-tie",
            f"on {where} the gold's LIMIT cuts through rows that tie on its ORDER BY keys, so "
            "the rows it returns are arbitrary; add an ORDER BY key that breaks the tie or "
            "move the LIMIT",
        )
    ]
