"""The smoke suite: gold cases that every verdict of the workbench is measured against.

Cases live as YAML in ``fixtures/smoke/`` (one file per category, each a list of
cases) next to ``tags.yaml``, the documented tag list. Loading validates each
case at the file boundary (pydantic, ``extra="forbid"``) and turns it into a
frozen ``SmokeCase``; a malformed file raises ``CaseError`` naming the file, the
line and the case id. ``workbench.smoke.check`` proves the suite against the
database.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import CaseError
from workbench.yamlfiles import item_lines, parse_yaml, read_text

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
"""The standard categories: a tag list that marks none of its own has these."""
CATEGORY_MARK = "category."
"""A tag whose meaning in ``tags.yaml`` starts with this (case aside) is a category."""
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
"""A case id: any slug (lowercase letters, digits, '.', '_', '-')."""

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
    more_wrong_sql: tuple[str, ...] = ()
    """Further wrong readings, when the YAML lists several under ``wrong_sql``."""
    note: str | None = None
    source: str = ""
    """Where the case was read from, as ``file:line`` (empty for cases built in code)."""
    justified: tuple[tuple[str, str], ...] = ()
    """Gold-lint rules this case is exempt from, each with why (the case file's ``lint``)."""

    @property
    def wrong_readings(self) -> tuple[str, ...]:
        """Every wrong reading the comparator must reject."""
        return ((self.wrong_sql,) if self.wrong_sql else ()) + self.more_wrong_sql

    def expectation_for(self, stage: str) -> StageExpectation | None:
        """The expectation on ``stage``'s output, if the case has one."""
        return next((e for e in self.expect if e.stage == stage), None)

    def justification(self, rule: str) -> str | None:
        """Why the case's gold is right despite gold-lint ``rule``, when its file says so."""
        return dict(self.justified).get(rule)

    @property
    def empty_expected(self) -> bool:
        return EMPTY_EXPECTED in self.tags


# --- the file boundary ------------------------------------------------------------------


class _ExpectModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)


class _CaseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=ID_PATTERN)
    question: str = Field(min_length=1)
    as_of: date | None = None
    gold_sql: str = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    expect: dict[str, _ExpectModel] = Field(default_factory=dict)
    pseudo: str | None = None
    wrong_sql: str | list[str] | None = None
    note: str | None = None
    lint: dict[str, str] = Field(default_factory=dict)
    """Gold-lint findings this case justifies: rule name -> why the gold is right anyway."""

    @field_validator("question", "gold_sql")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


def load_tags(directory: Path) -> dict[str, str]:
    """The documented tag list (``tags.yaml``): tag -> description."""
    path = Path(directory) / TAGS_FILE
    if not path.is_file():
        raise CaseError(f"{path}: the tag list is missing; it maps each tag to its meaning")
    text = read_text(path, error=CaseError, what="tag list")
    data = parse_yaml(text, path=path, error=CaseError)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise CaseError(f"{path}: must map each tag (a string) to a non-empty description")
    marked = [t for t, meaning in data.items() if meaning.strip().lower().startswith(CATEGORY_MARK)]
    missing = [c for c in CATEGORIES if c not in data]
    if not marked and missing:
        raise CaseError(
            f"{path}: no categories: mark the tags that are categories by starting their "
            f"meaning with 'Category.' (or list the standard ones: add {', '.join(missing)})"
        )
    return dict(data)


def tag_categories(tags: Mapping[str, str]) -> tuple[str, ...]:
    """The categories a tag list declares: the tags whose meaning starts with 'Category.',
    in the file's order; a list that marks none has the standard ones."""
    marked = tuple(
        t for t, meaning in tags.items() if meaning.strip().lower().startswith(CATEGORY_MARK)
    )
    return marked or CATEGORIES


def suite_categories(directory: Path) -> tuple[str, ...]:
    """The categories of the suite in ``directory`` (from its ``tags.yaml`` when it has one)."""
    path = Path(directory) / TAGS_FILE
    return tag_categories(load_tags(directory)) if path.is_file() else CATEGORIES


def load_case_file(
    path: Path, as_of: date = DEFAULT_AS_OF, categories: Sequence[str] = CATEGORIES
) -> tuple[SmokeCase, ...]:
    """Read one YAML file holding a list of cases; ``as_of`` for a case that names none,
    ``categories`` the tags of which each case carries exactly one."""
    path = Path(path)
    text = read_text(path, error=CaseError, what="case file")
    data = parse_yaml(text, path=path, error=CaseError)
    if data is None:
        return ()
    if not isinstance(data, list):
        raise CaseError(f"{path}: must be a YAML list of cases (each item starting with '- id:')")
    lines = item_lines(text)
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
        found = [t for t in model.tags if t in categories]
        if len(found) != 1:
            raise CaseError(
                f"{where}: {label}: tags: must hold exactly one category tag (one of "
                f"{', '.join(categories)}); found {', '.join(found) or 'none'}"
            )
        cases.append(_to_case(model, source=where, as_of=as_of, category=found[0]))
    return tuple(cases)


def load_cases(directory: Path, as_of: date = DEFAULT_AS_OF) -> tuple[SmokeCase, ...]:
    """Every case of every ``*.yaml`` file in ``directory`` (except the tag list), by file name.

    Args:
        as_of: the date a case without its own ``as_of`` is asked on: the workspace's
            (``settings.as_of``).

    Raises:
        CaseError: a file is malformed, or two cases share an id (results are stored by case
            id, so one would overwrite the other).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CaseError(f"{directory}: no such directory of smoke cases")
    key = (str(directory.resolve()), as_of, _signature(directory))
    if key not in _LOADED:
        _LOADED.clear()  # one suite at a time: an edited file is a new key anyway
        _LOADED[key] = _read_cases(directory, as_of)
    return _LOADED[key]


_LOADED: dict[tuple[str, date, tuple[tuple[str, int, int], ...]], tuple[SmokeCase, ...]] = {}
"""The last suite read, by folder, as-of date and its files' names, sizes and change times: a
run reads its suite several times (selection, plan, re-asks, blame), and parsing the demo's
183 cases costs about 0.15 s each time (0.7 s before libyaml)."""


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    stats = ((p.name, p.stat()) for p in sorted(directory.glob("*.yaml")))
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


def _read_cases(directory: Path, as_of: date) -> tuple[SmokeCase, ...]:
    cases: list[SmokeCase] = []
    seen: dict[str, SmokeCase] = {}
    categories = suite_categories(directory)
    for path in sorted(directory.glob("*.yaml")):
        if path.name == TAGS_FILE:
            continue
        for case in load_case_file(path, as_of, categories):
            if case.id in seen:
                raise CaseError(
                    f"{case.source}: case id {case.id!r} is already used at "
                    f"{seen[case.id].source}; give each case its own id"
                )
            seen[case.id] = case
            cases.append(case)
    return tuple(cases)


def smoke_dir(fixtures_dir: Path) -> Path:
    """Where the smoke cases live under the fixtures directory."""
    return Path(fixtures_dir) / "smoke"


def _case_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"case {raw['id']!r}"
    return f"case #{index + 1} (no id)"


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "case"
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    return f"{loc}: {err['msg']}"


def _to_case(model: _CaseModel, *, source: str, as_of: date, category: str) -> SmokeCase:
    listed = [model.wrong_sql] if isinstance(model.wrong_sql, str) else model.wrong_sql or []
    wrong = [sql.strip() for sql in listed if sql.strip()]
    return SmokeCase(
        id=model.id,
        question=model.question.strip(),
        as_of=model.as_of or as_of,
        gold_sql=model.gold_sql.strip(),
        tags=tuple(model.tags),
        category=category,
        expect=tuple(
            StageExpectation(stage, tuple(e.contains), tuple(e.not_contains))
            for stage, e in model.expect.items()
        ),
        pseudo=model.pseudo.strip() if model.pseudo else None,
        wrong_sql=wrong[0] if wrong else None,
        more_wrong_sql=tuple(wrong[1:]),
        note=model.note.strip() if model.note else None,
        source=source,
        justified=tuple((rule, why.strip()) for rule, why in model.lint.items()),
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


def stratified_sample(cases: Iterable[SmokeCase], n: int) -> tuple[SmokeCase, ...]:
    """``n`` cases spread over the categories in proportion to their size, in suite order.

    Every category present gets at least one case when ``n`` allows; within a category
    the cases are taken evenly spaced through the file. The same suite and ``n`` always
    give the same cases, so two runs with the same limit stay comparable.
    """
    suite = tuple(cases)
    if n >= len(suite):
        return suite
    if n <= 0:
        return ()
    groups: dict[str, list[SmokeCase]] = {}
    for case in suite:
        groups.setdefault(case.category, []).append(case)
    quotas = _quotas({c: len(g) for c, g in groups.items()}, n)
    chosen = set()
    for category, group in groups.items():
        k = quotas[category]
        chosen |= {group[int((i + 0.5) * len(group) / k)].id for i in range(k)}
    return tuple(c for c in suite if c.id in chosen)


def _quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """``n`` split over the categories by largest remainder, one each first when it reaches."""
    floor = 1 if n >= len(sizes) else 0
    quotas = dict.fromkeys(sizes, floor)
    left, total = n - floor * len(sizes), sum(sizes.values())
    shares = {c: left * size / total for c, size in sizes.items()}
    for c in sizes:
        quotas[c] += min(int(shares[c]), sizes[c] - quotas[c])
    order = sorted(sizes, key=lambda c: (-(shares[c] - int(shares[c])), -sizes[c], c))
    while sum(quotas.values()) < n:
        for c in order:
            if sum(quotas.values()) < n and quotas[c] < sizes[c]:
                quotas[c] += 1
    return quotas


def case_digest(case: SmokeCase) -> str:
    """A hash of what decides a case's verdict: question, date, gold SQL, expectations."""
    what = [case.question, case.as_of.isoformat(), case.gold_sql, [
        [e.stage, list(e.contains), list(e.not_contains)] for e in case.expect
    ]]  # fmt: skip
    return hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:16]


def count_by_category(
    cases: Iterable[SmokeCase], categories: Sequence[str] = CATEGORIES
) -> dict[str, int]:
    """Cases per category, every one of ``categories`` listed (then any other seen)."""
    counts = Counter(c.category for c in cases)
    return {c: counts.get(c, 0) for c in (*categories, *sorted(set(counts) - set(categories)))}


def count_by_tag(cases: Iterable[SmokeCase]) -> dict[str, int]:
    counts = Counter(t for c in cases for t in c.tags)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
