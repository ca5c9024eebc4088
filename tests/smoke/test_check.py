"""Proving the smoke suite: the checks against the real demo database, and ``smoke check``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.cases.test_suite import GOOD_CASE, SMOKE_DIR
from workbench.cases.suite import (
    CATEGORIES,
    CATEGORY_MINIMUMS,
    DEFAULT_AS_OF,
    STAGE_IDS,
    SmokeCase,
    StageExpectation,
    load_cases,
    load_tags,
    select_cases,
)
from workbench.errors import (
    ConfigError,
    DatabaseUnavailable,
    SchemaPermissionDenied,
    SQLExecutionError,
)
from workbench.settings import PROJECT_ROOT, Settings
from workbench.smoke.check import CheckReport, check_cases
from workbench.sql import Database, DuckDBDatabase, Variant, limit_tie_breaks

# --- the real suite ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite() -> tuple[SmokeCase, ...]:
    return load_cases(SMOKE_DIR)


@pytest.fixture(scope="module")
def tags() -> dict[str, str]:
    return load_tags(SMOKE_DIR)


@pytest.fixture(scope="module")
def database(demo_settings: Settings, demo_database: Path) -> Database:
    return DuckDBDatabase.from_settings(demo_settings, demo_database)


@pytest.fixture(scope="module")
def report(suite, tags, database, demo_variants) -> CheckReport:
    return check_cases(suite, database, known_tags=tags, variants=demo_variants)


def test_the_whole_suite_passes_its_checks_on_the_demo_database_and_its_variants(
    report: CheckReport, demo_variants: tuple[Variant, ...]
) -> None:
    assert [f.to_dict() for f in report.failures] == []
    assert report.databases == (
        "the main database",
        *(f"variant database {v.name}" for v in demo_variants),
    )
    for category, minimum in CATEGORY_MINIMUMS.items():
        assert report.by_category[category] >= minimum
    assert report.wrong_sql_cases >= 40
    assert report.cases >= 163


def test_every_category_file_holds_only_its_category(suite) -> None:
    for case in suite:
        assert Path(case.source.split(":")[0]).stem == case.category, case.id
        assert case.id.startswith(case.category + "-"), case.id


def test_every_documented_tag_is_used(suite, tags) -> None:
    used = {t for c in suite for t in c.tags}
    assert sorted(set(tags) - used) == []


SHAPE_RULES = {
    "join": r"\bJOIN\b",
    "cte": r"^\s*WITH\b",
    "window": r"\bOVER\s*\(",
    "having": r"\bHAVING\b",
    "aggregate": r"\b(COUNT|AVG|SUM|MIN|MAX|PERCENTILE_CONT)\s*\(",
}


def test_sql_shape_tags_match_the_gold_sql(suite) -> None:
    wrong = [
        (case.id, tag)
        for case in suite
        for tag, pattern in SHAPE_RULES.items()
        if (tag in case.tags) != bool(re.search(pattern, case.gold_sql, re.IGNORECASE))
    ]
    assert wrong == []


def test_the_readme_documents_every_tag(tags) -> None:
    readme = (SMOKE_DIR / "README.md").read_text(encoding="utf-8")
    assert [t for t in tags if f"| `{t}` | {tags[t]} |" not in readme] == []


def test_messy_language_problems_each_appear_several_times(report: CheckReport) -> None:
    problems = [
        "preamble",
        "pleasantry",
        "presentation",
        "relative-date",
        "star-filter",
        "vague-relation",
        "compound-number",
        "tautology",
        "vague-reference",
        "synonym",
        "typo",
    ]
    assert {p: report.by_tag.get(p, 0) for p in problems if report.by_tag.get(p, 0) < 5} == {}


def test_some_cases_are_asked_on_other_days(suite) -> None:
    other_days = {c.as_of for c in suite if c.as_of != DEFAULT_AS_OF}
    assert len(other_days) >= 5


def test_ambiguous_cases_document_their_reading(suite) -> None:
    ambiguous = [c for c in suite if "ambiguous" in c.tags]
    assert len(ambiguous) >= 3
    assert all(c.note for c in ambiguous)


def test_the_worked_example_reproduces_the_papers_table(suite, database) -> None:
    (case,) = select_cases(suite, tags=["worked-example"])
    assert case.question.startswith("Hi chatbot, good morning!")
    result = replace(database, row_cap=100).run(case.gold_sql)
    rows = [tuple(r) for r in result.rows]
    assert rows == [
        ("Dr. Sarah Chen", 12),
        ("Dr. Marcus Webb", 8),
        ("Dr. Priya Patel", 6),
        ("Dr. James Okafor", 4),
        ("Dr. Lisa Fontaine", 3),
    ]


def test_expectations_name_known_stages(suite) -> None:
    assert {e.stage for c in suite for e in c.expect} <= set(STAGE_IDS)
    assert sum(1 for c in suite if c.expect) >= 20


# --- the checker catches planted bad cases ------------------------------------------------


def planted(suite, **changes) -> SmokeCase:
    base = next(c for c in suite if c.category == "simple" and c.wrong_sql)
    return replace(base, id="simple-999", question="a question nobody else asks", **changes)


def failures_of(case_or_cases, database, tags, **kwargs) -> list[tuple[str | None, str]]:
    cases = case_or_cases if isinstance(case_or_cases, tuple) else (case_or_cases,)
    report = check_cases(cases, database, known_tags=tags, minimums={}, min_wrong_sql=0, **kwargs)
    return [(f.case_id, f.check) for f in report.failures]


def test_a_sound_planted_case_passes(suite, database, tags) -> None:
    assert failures_of(planted(suite), database, tags) == []


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"gold_sql": "SELECT physician_name FROM physicians WHERE ("}, "gold-parses"),
        ({"gold_sql": "SELEC physician_name FROM physicians"}, "gold-readonly"),
        ({"gold_sql": "DELETE FROM orders"}, "gold-readonly"),
        ({"gold_sql": "SELECT 1; DROP TABLE labs"}, "gold-readonly"),
        ({"gold_sql": "SELECT no_such_column FROM labs"}, "gold-executes"),
        ({"gold_sql": "SELECT * FROM labs WHERE lab_name = 'Nowhere Lab'"}, "gold-rows"),
        ({"tags": ("simple", "empty-expected")}, "gold-rows"),
        ({"tags": ("simple", "no-such-tag")}, "unknown-tag"),
        ({"wrong_sql": "SELECT * FROM no_such_table"}, "wrong-executes"),
        (
            {"gold_sql": "SELECT physician_name FROM physicians ORDER BY department_id LIMIT 1"},
            "gold-limit-tie",  # department 1 has six physicians
        ),
        ({"gold_sql": "SELECT physician_name FROM physicians LIMIT 2"}, "gold-limit-tie"),
        ({"tags": ("simple", "ambiguous")}, "note"),
        ({"expect": (StageExpectation("sql_gen", ("SELECT",)),)}, "expect-stage"),
    ],
)
def test_the_checker_catches_a_planted_bad_case(suite, database, tags, changes, check) -> None:
    assert failures_of(planted(suite, **changes), database, tags) == [("simple-999", check)]


def test_a_limit_past_any_tie_is_sound(suite, database, tags) -> None:
    gold = "SELECT physician_name FROM physicians ORDER BY department_id, physician_name LIMIT 3"
    assert failures_of(planted(suite, gold_sql=gold), database, tags) == []


def test_tie_breaks_extend_only_the_outermost_order() -> None:
    sql = "SELECT a, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC LIMIT 2"
    asc, desc = limit_tie_breaks(sql, 2)
    assert asc.endswith("ORDER BY n DESC, 1 ASC, 2 ASC LIMIT 2")
    assert "ORDER BY n DESC, 1 DESC" in desc and "2 DESC" in desc and desc.endswith("LIMIT 2")
    assert limit_tie_breaks("SELECT a FROM t ORDER BY a", 1) is None  # no LIMIT: no cut
    assert "ORDER BY 1 DESC" in limit_tie_breaks("SELECT a FROM t LIMIT 1", 1)[1]
    assert limit_tie_breaks("SELECT (", 1) is None


def test_fetch_with_ties_cannot_cut_a_tie_and_fetch_only_can() -> None:
    ties = "SELECT a, b FROM t ORDER BY b DESC FETCH FIRST 4 ROWS WITH TIES"
    assert limit_tie_breaks(ties, 2) is None
    only = "SELECT a, b FROM t ORDER BY b DESC FETCH FIRST 4 ROWS ONLY"
    asc, desc = limit_tie_breaks(only, 2)
    assert asc.endswith("ORDER BY b DESC, 1 ASC, 2 ASC FETCH FIRST 4 ROWS ONLY")
    assert desc.startswith("SELECT a, b FROM t ORDER BY b DESC, 1 DESC")


# --- the variant databases ------------------------------------------------------------------


def patient_only_in(variant: Variant, database: Database) -> str:
    """A patient name the variant has and the main database has not."""
    query = "SELECT patient_name FROM patients"
    mine = {row[0] for row in variant.database.run(query).rows}
    return sorted(mine - {row[0] for row in database.run(query).rows})[0]


def test_a_wrong_sql_only_the_main_database_tells_apart_is_caught_on_a_variant(
    suite, database, tags, demo_variants
) -> None:
    """A patient of the main database whom the first variant lacks: reading the name as a
    physician's returns nothing anywhere, which only the main database tells apart."""
    first = demo_variants[0]
    name = patient_only_in(Variant("main", database), first.database)
    gold = (
        "SELECT o.id FROM orders o JOIN patients p ON o.patient_id = p.id "
        f"WHERE p.patient_name = '{name}'"
    )
    wrong = (
        "SELECT o.id FROM orders o JOIN physicians ph ON o.physician_id = ph.id "
        f"WHERE ph.physician_name = '{name}'"
    )
    case = planted(suite, gold_sql=gold, wrong_sql=wrong)
    assert failures_of(case, database, tags) == []  # the main database alone is satisfied
    report = check_cases(
        (case,), database, known_tags=tags, variants=(first,), minimums={}, min_wrong_sql=0
    )
    assert [(f.check, f.message.split(":")[0]) for f in report.failures] == [
        (
            "wrong-discriminates",
            f"the comparator finds wrong_sql equivalent to the gold on variant database {first.name}",
        )
    ]


def test_every_wrong_reading_is_checked(suite, database, tags) -> None:
    case = planted(suite)
    same = case.gold_sql.replace("\n", " \n ")
    case = replace(case, more_wrong_sql=(same,))
    found = check_cases((case,), database, known_tags=tags, minimums={}, min_wrong_sql=0)
    assert [(f.check, f.message.split(" equivalent")[0]) for f in found.failures] == [
        ("wrong-discriminates", "the comparator finds wrong_sql #2")
    ]


def test_a_gold_that_fails_or_ties_on_a_variant_is_caught(
    suite, database, tags, demo_variants
) -> None:
    only_main = patient_only_in(Variant("main", database), demo_variants[0].database)
    failing = (
        "SELECT 1000 / COUNT(*) FROM orders o JOIN patients p ON o.patient_id = p.id "
        f"WHERE p.patient_name = '{only_main}'"
    )
    case = planted(suite, gold_sql=failing, wrong_sql=None)
    report = check_cases(
        (case,), database, known_tags=tags, variants=demo_variants[:1], minimums={}, min_wrong_sql=0
    )
    assert [(f.check, f.message.split(":")[0]) for f in report.failures] == [
        ("gold-executes", f"on variant database {demo_variants[0].name}")
    ]


def test_a_wrong_sql_that_is_equivalent_is_caught(suite, database, tags) -> None:
    case = planted(suite)
    # The same query written differently: an alias and a reformatting change nothing.
    same = case.gold_sql.replace("\n", " \n ")
    case = replace(case, wrong_sql=same)
    assert failures_of(case, database, tags) == [("simple-999", "wrong-discriminates")]


def test_duplicate_ids_and_questions_are_caught(suite, database, tags) -> None:
    first = planted(suite)
    same_id = replace(first, question="something else entirely")
    same_question = replace(first, id="simple-998", question="  A QUESTION nobody  else asks ")
    found = failures_of((first, same_id, same_question), database, tags)
    assert ("simple-999", "duplicate-id") in found
    assert ("simple-998", "duplicate-question") in found
    assert len(found) == 2


def test_suite_level_minimums_are_enforced(suite, database, tags) -> None:
    report = check_cases((planted(suite),), database, known_tags=tags)
    checks = sorted(f.check for f in report.failures if f.case_id is None)
    assert checks == ["category-minimum"] * len(CATEGORIES) + ["wrong-sql-minimum"]


def test_one_failing_case_does_not_stop_the_check(suite, database, tags) -> None:
    bad = planted(suite, gold_sql="SELECT (1")
    good = replace(planted(suite), id="simple-998", question="another question")
    assert failures_of((bad, good), database, tags) == [("simple-999", "gold-parses")]


# --- the command line --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_data_dir(database: Database) -> Path:
    """The data directory the database fixture built, so the command does not rebuild it."""
    return database.path.parent.parent


def run_cli(data_dir: Path, fixtures: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "WORKBENCH_DATA_DIR": str(data_dir),
        "WORKBENCH_FIXTURES_DIR": str(fixtures),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "workbench", "smoke", "check", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )


@pytest.fixture
def small_fixtures(tmp_path: Path) -> Path:
    """A fixtures directory holding the real tag list and the real simple cases only."""
    smoke = tmp_path / "fixtures" / "smoke"
    smoke.mkdir(parents=True)
    for name in ("tags.yaml", "simple.yaml"):
        (smoke / name).write_text((SMOKE_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    return smoke.parent


def test_smoke_check_json(cli_data_dir: Path, small_fixtures: Path, suite) -> None:
    out = run_cli(cli_data_dir, small_fixtures, "--json")
    data = json.loads(out.stdout)
    assert set(data) == {
        "workspace",
        "database",
        "cases",
        "by_category",
        "by_tag",
        "wrong_sql_cases",
        "databases",
        "failures",
        "lint",
        "seconds",
        "variant_build_s",
        "warnings",
    }
    assert data["warnings"] == []  # the demo keeps no example bank
    assert len(data["databases"]) == 4
    assert data["workspace"] == "demo" and data["database"].startswith("duckdb:///")
    simple = select_cases(suite, category="simple")
    assert data["cases"] == len(simple)
    assert data["by_category"] == {c: (len(simple) if c == "simple" else 0) for c in CATEGORIES}
    assert data["by_tag"]["simple"] == len(simple)
    # The simple cases themselves are sound; only the suite-wide minimums fail.
    assert {f["case"] for f in data["failures"]} == {None}
    assert {f["check"] for f in data["failures"]} == {"category-minimum", "wrong-sql-minimum"}
    assert out.returncode == 1


def test_smoke_check_text_names_each_failure(cli_data_dir: Path, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    (fixtures / "smoke").mkdir(parents=True)
    (fixtures / "smoke" / "tags.yaml").write_text(
        (SMOKE_DIR / "tags.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    bad = GOOD_CASE.replace("simple-001", "simple-002").replace("FROM labs", "FROM nowhere")
    (fixtures / "smoke" / "simple.yaml").write_text(GOOD_CASE + bad, encoding="utf-8")
    out = run_cli(cli_data_dir, fixtures)
    assert out.returncode == 1
    assert "2 cases, 0 with a wrong_sql" in out.stdout
    assert "simple-002 [gold-executes]" in out.stdout
    assert "simple-001 [" not in out.stdout
    assert "(suite) [category-minimum] messy has 0 cases; needs 80" in out.stdout


def test_smoke_check_reports_a_malformed_file(cli_data_dir: Path, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    (fixtures / "smoke").mkdir(parents=True)
    (fixtures / "smoke" / "tags.yaml").write_text("simple: Category. s\n", encoding="utf-8")
    (fixtures / "smoke" / "simple.yaml").write_text(GOOD_CASE + "  colour: red\n", encoding="utf-8")
    out = run_cli(cli_data_dir, fixtures, "--json")
    assert out.returncode == 1
    error = json.loads(out.stdout)
    assert error["kind"] == "CaseError"
    assert "unknown field 'colour'" in error["error"]


@dataclass
class FailingDatabase:
    """A database whose every query fails with ``error``; counts the queries asked."""

    error: Exception
    label: str = "postgresql://ro@db/lab"
    dialect: str = "postgres"
    timeout_s: float = 10.0
    row_cap: int = 100
    queries: int = 0

    def run(self, sql: str, *, dialect: str = "postgres"):
        self.queries += 1
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        DatabaseUnavailable("cannot reach the database at postgresql://ro@db/lab: refused"),
        ConfigError("the database at postgresql://ro@db/lab asks for a password"),
        ConfigError('database "lab" does not exist at postgresql://ro@db/lab: fix database.url'),
        SchemaPermissionDenied("PostgreSQL rejected the query: permission denied for schema lab"),
    ],
)
def test_a_failure_of_the_database_stops_the_check_once(suite, tags, error) -> None:
    database = FailingDatabase(error)
    with pytest.raises(type(error)) as caught:
        check_cases(suite[:15], database, known_tags=tags, minimums={}, min_wrong_sql=0)
    assert caught.value is error and database.queries == 1


def test_a_failing_query_stays_a_failure_of_its_case(suite, tags) -> None:
    database = FailingDatabase(SQLExecutionError('relation "labz" does not exist'))
    cases = suite[:15]
    report = check_cases(cases, database, known_tags=tags, minimums={}, min_wrong_sql=0)
    assert [(f.case_id, f.check) for f in report.failures] == [
        (c.id, "gold-executes") for c in cases
    ]


# --- the gold linter in the check ---------------------------------------------------------


def test_the_whole_suite_has_no_unjustified_gold_lint(report: CheckReport) -> None:
    assert [finding.line() for finding in report.unjustified] == []


def test_a_lint_finding_names_its_case_and_a_justification_silences_it(
    suite, database, tags
) -> None:
    gold = "SELECT test_name, loinc FROM tests"
    case = planted(suite, gold_sql=gold, wrong_sql=None)
    case = replace(case, question="List the tests sorted by LOINC code.", source="simple.yaml:7")
    [finding] = check_cases((case,), database, known_tags=tags, minimums={}, min_wrong_sql=0).lint
    assert (finding.case_id, finding.rule) == ("simple-999", "order-missing")
    assert finding.source == "simple.yaml:7"
    assert finding.justified is None

    why = "the question's order is the catalogue's own"
    kept = replace(case, justified=(("order-missing", why),))
    found = check_cases((kept,), database, known_tags=tags, minimums={}, min_wrong_sql=0)
    assert [f.justified for f in found.lint] == [why]
    assert found.unjustified == () and found.ok


def test_a_justification_of_an_unknown_rule_is_a_failure(suite, database, tags) -> None:
    case = replace(planted(suite), justified=(("order-mising", "typo"),))
    assert failures_of(case, database, tags) == [("simple-999", "lint-rule")]
