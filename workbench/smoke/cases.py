"""The smoke suite: gold cases that every verdict of the workbench is measured against.

Cases live as YAML in ``fixtures/smoke/`` (one file per category, each a list of
cases) next to ``tags.yaml``, the documented tag list. Loading validates each
case at the file boundary (pydantic, ``extra="forbid"``) and turns it into a
frozen ``SmokeCase``; a malformed file raises ``CaseError`` naming the file, the
line and the case id. ``check_cases`` then proves the suite against the real
database: a case that fails a check is recorded and the check goes on, so one
run lists every problem at once.

Why the checks: a gold query that returns nothing cannot tell a right pipeline
from a wrong one, and a ``wrong_sql`` the comparator calls equivalent shows the
data cannot tell the two readings apart. Both would make a green smoke run
meaningless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import CaseError, SQLParseError, SQLRefused, WorkbenchError

if TYPE_CHECKING:
    from workbench.sql.execute import QueryResult

StageId = Literal[
    "date_normalization",
    "noise_removal",
    "query_normalizer",
    "reference_normalizer",
    "misc_cleanup",
    "sql_generation",
    "narrative",
]
STAGE_IDS: tuple[str, ...] = get_args(StageId)

Category = Literal["simple", "medium", "complex", "messy", "edge"]
CATEGORIES: tuple[str, ...] = get_args(Category)

CATEGORY_MINIMUMS: Mapping[str, int] = {
    "simple": 20,
    "medium": 20,
    "complex": 25,
    "messy": 80,
    "edge": 18,
}
MIN_WRONG_SQL = 40
"""At least this many cases carry a ``wrong_sql`` the comparator must reject."""

DEFAULT_AS_OF = date(2026, 3, 31)
"""The last day of the demo data: the date a case is asked on unless it says otherwise."""

EMPTY_EXPECTED = "empty-expected"
TAGS_FILE = "tags.yaml"


# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageExpectation:
    """Strings one stage's output must and must not contain (case-insensitive)."""

    stage: str
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmokeCase:
    """One gold case: a question as a user types it and the SQL it should become."""

    id: str
    question: str
    as_of: date
    gold_sql: str
    tags: tuple[str, ...]
    category: str
    expect: tuple[StageExpectation, ...] = ()
    pseudo: str | None = None
    wrong_sql: str | None = None
    note: str | None = None
    source: str = ""
    """Where the case was read from, as ``file:line`` (empty for cases built in code)."""

    def expectation_for(self, stage: str) -> StageExpectation | None:
        """The expectation on ``stage``'s output, if the case has one."""
        return next((e for e in self.expect if e.stage == stage), None)

    @property
    def empty_expected(self) -> bool:
        return EMPTY_EXPECTED in self.tags


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


# --- the file boundary ------------------------------------------------------------------


class _ExpectModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)


class _CaseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z]+-\d{3}$")
    question: str = Field(min_length=1)
    as_of: date = DEFAULT_AS_OF
    gold_sql: str = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    expect: dict[StageId, _ExpectModel] = Field(default_factory=dict)
    pseudo: str | None = None
    wrong_sql: str | None = None
    note: str | None = None

    @field_validator("question", "gold_sql")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("tags")
    @classmethod
    def _one_category(cls, value: list[str]) -> list[str]:
        categories = [t for t in value if t in CATEGORIES]
        if len(categories) != 1:
            raise ValueError(
                f"must hold exactly one category tag (one of {', '.join(CATEGORIES)}); "
                f"found {categories or 'none'}"
            )
        return value


def load_tags(directory: Path) -> dict[str, str]:
    """The documented tag list (``tags.yaml``): tag -> description."""
    path = Path(directory) / TAGS_FILE
    if not path.is_file():
        raise CaseError(f"{path}: the tag list is missing; it maps each tag to its meaning")
    data = _read_yaml(path)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise CaseError(f"{path}: must map each tag (a string) to a non-empty description")
    missing = [c for c in CATEGORIES if c not in data]
    if missing:
        raise CaseError(f"{path}: the categories are tags too; add {', '.join(missing)}")
    return dict(data)


def load_case_file(path: Path) -> tuple[SmokeCase, ...]:
    """Read one YAML file holding a list of cases."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = _read_yaml(path, text)
    if data is None:
        return ()
    if not isinstance(data, list):
        raise CaseError(f"{path}: must be a YAML list of cases (each item starting with '- id:')")
    lines = _item_lines(text)
    cases = []
    for index, raw in enumerate(data):
        line = lines[index] if index < len(lines) else None
        where = f"{path}:{line}" if line else str(path)
        label = _case_label(raw, index)
        if not isinstance(raw, dict):
            raise CaseError(
                f"{where}: {label} must be a mapping of fields, not {type(raw).__name__}"
            )
        try:
            model = _CaseModel.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(_describe(err) for err in exc.errors())
            raise CaseError(f"{where}: {label}: {problems}") from exc
        cases.append(_to_case(model, source=where))
    return tuple(cases)


def load_cases(directory: Path) -> tuple[SmokeCase, ...]:
    """Every case of every ``*.yaml`` file in ``directory`` (except the tag list), by file name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CaseError(f"{directory}: no such directory of smoke cases")
    cases: list[SmokeCase] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name != TAGS_FILE:
            cases.extend(load_case_file(path))
    return tuple(cases)


def smoke_dir(fixtures_dir: Path) -> Path:
    """Where the smoke cases live under the fixtures directory."""
    return Path(fixtures_dir) / "smoke"


class _CaseLoader(yaml.SafeLoader):
    """A safe loader that leaves dates as text, so that pydantic names a bad one."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path, text: str | None = None) -> Any:
    try:
        return yaml.load(  # noqa: S506 - a SafeLoader subclass
            text if text is not None else path.read_text(encoding="utf-8"), Loader=_CaseLoader
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CaseError(f"{where}: not valid YAML: {problem}") from exc


def _item_lines(text: str) -> list[int]:
    """1-based line of each item of the top-level YAML list (for error messages)."""
    node = yaml.compose(text)
    if isinstance(node, yaml.SequenceNode):
        return [item.start_mark.line + 1 for item in node.value]
    return []


def _case_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"case {raw['id']!r}"
    return f"case #{index + 1} (no id)"


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "case"
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    if err["type"] == "literal_error" and err["loc"] and err["loc"][0] == "expect":
        return f"expect key {err['input']!r} is not a stage id (one of {', '.join(STAGE_IDS)})"
    return f"{loc}: {err['msg']}"


def _to_case(model: _CaseModel, *, source: str) -> SmokeCase:
    category = next(t for t in model.tags if t in CATEGORIES)
    return SmokeCase(
        id=model.id,
        question=model.question.strip(),
        as_of=model.as_of,
        gold_sql=model.gold_sql.strip(),
        tags=tuple(model.tags),
        category=category,
        expect=tuple(
            StageExpectation(stage, tuple(e.contains), tuple(e.not_contains))
            for stage, e in model.expect.items()
        ),
        pseudo=model.pseudo.strip() if model.pseudo else None,
        wrong_sql=model.wrong_sql.strip() if model.wrong_sql else None,
        note=model.note.strip() if model.note else None,
        source=source,
    )


# --- selecting --------------------------------------------------------------------------


def select_cases(
    cases: Iterable[SmokeCase],
    *,
    tags: Iterable[str] = (),
    category: str | None = None,
    ids: Iterable[str] = (),
) -> tuple[SmokeCase, ...]:
    """The cases carrying every tag in ``tags``, of ``category``, among ``ids`` (when given)."""
    wanted_tags = set(tags)
    wanted_ids = set(ids)
    return tuple(
        c
        for c in cases
        if wanted_tags <= set(c.tags)
        and (category is None or c.category == category)
        and (not wanted_ids or c.id in wanted_ids)
    )


def count_by_category(cases: Iterable[SmokeCase]) -> dict[str, int]:
    counts = Counter(c.category for c in cases)
    return {c: counts.get(c, 0) for c in CATEGORIES}


def count_by_tag(cases: Iterable[SmokeCase]) -> dict[str, int]:
    counts = Counter(t for c in cases for t in c.tags)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --- checking ---------------------------------------------------------------------------


def check_cases(
    cases: Iterable[SmokeCase],
    database: Path,
    *,
    known_tags: Iterable[str],
    minimums: Mapping[str, int] = CATEGORY_MINIMUMS,
    min_wrong_sql: int = MIN_WRONG_SQL,
    timeout_s: float = 10.0,
    row_cap: int = 10_000,
) -> CheckReport:
    """Prove the suite against ``database``; every failure is recorded, none stops the check.

    Args:
        cases: the suite (usually ``load_cases(smoke_dir(...))``).
        database: the demo DuckDB file the gold queries run against.
        known_tags: the documented tag list (``load_tags(...)``).
        minimums: cases needed per category; suite-level failures when short.
        min_wrong_sql: cases needed that carry a ``wrong_sql``.
    """
    cases = tuple(cases)
    known = set(known_tags)
    failures: list[CaseFailure] = []
    failures += _check_uniqueness(cases)
    for case in cases:
        failures += _check_case_fields(case, known)
        gold, gold_failures = _check_gold(case, database, timeout_s=timeout_s, row_cap=row_cap)
        failures += gold_failures
        if gold is not None:
            failures += _check_wrong(case, gold, database, timeout_s=timeout_s, row_cap=row_cap)
            failures += _check_limit_ties(
                case, gold, database, timeout_s=timeout_s, row_cap=row_cap
            )
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
    case: SmokeCase, database: Path, *, timeout_s: float, row_cap: int
) -> tuple[QueryResult | None, list[CaseFailure]]:
    """Run the gold query; its result (None when it failed) and what is wrong with it."""
    from workbench.sql.execute import run_query

    def failed(check: str, message: str) -> tuple[None, list[CaseFailure]]:
        return None, [CaseFailure(case.id, check, message)]

    # run_query parses and applies the safety rules before anything executes.
    try:
        result = run_query(case.gold_sql, database, timeout_s=timeout_s, row_cap=row_cap)
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
            f"the gold returns more than {row_cap} rows, so results cannot be compared; narrow it",
        )
    if case.empty_expected and rows:
        return failed("gold-rows", f"tagged {EMPTY_EXPECTED} but the gold returns {rows} rows")
    if not case.empty_expected and not rows:
        return failed(
            "gold-rows",
            f"the gold returns no rows; tag it {EMPTY_EXPECTED} or choose filters that match",
        )
    return result, []


def _check_wrong(
    case: SmokeCase, gold: QueryResult, database: Path, *, timeout_s: float, row_cap: int
) -> list[CaseFailure]:
    """The wrong reading must run and the comparator must tell it from the gold."""
    if not case.wrong_sql:
        return []
    from workbench.sql.accuracy import compare_results, gold_is_ordered
    from workbench.sql.execute import run_query

    try:
        wrong = run_query(case.wrong_sql, database, timeout_s=timeout_s, row_cap=row_cap)
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
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
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
        variants.append(copy.sql(dialect="duckdb"))
    return variants[0], variants[1]


def _check_limit_ties(
    case: SmokeCase, gold: QueryResult, database: Path, *, timeout_s: float, row_cap: int
) -> list[CaseFailure]:
    """A LIMIT that cuts through a tie makes the gold's rows arbitrary: a right answer
    could then fail (or a wrong one pass) depending on the engine's whim."""
    variants = tie_broken_variants(case.gold_sql, len(gold.columns))
    if variants is None:
        return []
    from workbench.sql.execute import run_query

    try:
        first, second = (
            run_query(sql, database, timeout_s=timeout_s, row_cap=row_cap) for sql in variants
        )
    except WorkbenchError:
        return []  # the gold itself ran; a rewrite DuckDB refuses proves nothing either way
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
