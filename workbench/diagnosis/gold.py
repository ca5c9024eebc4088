"""Linting a gold query's result: can this reference tell a right answer from a wrong one?

``smoke check`` already proves that each gold runs and that each ``wrong_sql`` is told apart
from it. A gold can pass both and still be unsound: public text-to-SQL sets ship golds whose
LIMIT cuts through ties, whose NULLs sort wherever the engine puts them, whose numbers sort as
text, or that return nothing at all, and a wrong gold produces false regressions for as long as
it stays. Each rule below looks at the gold's text and at its rows on every database the suite
is judged on:

- ``empty-everywhere``: no rows on any database. Any query that returns nothing "passes", so
  the case cannot tell a right pipeline from a wrong one (the comparator calls such a pair
  *undetermined*, never equivalent).
- ``order-missing``: the question asks for an order ("top", "highest", "sorted") but the gold's
  outermost query has no ORDER BY, so row order is not judged at all.
- ``nulls-in-sort-key``: a sort key holds NULL and the gold does not say NULLS FIRST or LAST;
  engines differ (PostgreSQL sorts NULLs first when descending, DuckDB last), and so do people.
- ``text-sorted-numbers``: a sort key holds numbers written as text of different lengths, so
  "10" sorts before "9".
- ``nondeterministic``: now(), current_date, random() and the like give another answer each day
  (or each run); a case pins its date with ``as_of``, so the gold writes that date as a literal.
- ``over-row-cap``: the gold returns more rows than the row cap; judging then streams both
  results, and a question whose answer is that large is rarely what a user asks.

A finding names the case's ``file:line``, why it matters and how to fix it. A case justifies a
finding it keeps on purpose in its own file (``lint: {rule: why}``); a justified finding is
listed with its reason and never fails ``smoke check --strict``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from workbench.errors import WorkbenchError
from workbench.sql import GoldResult
from workbench.sql.check import parse_sql
from workbench.sql.ordering import sort_keys

RULES = {
    "empty-everywhere": "the gold returns no rows on any database",
    "order-missing": "the question asks for an order the gold does not impose",
    "nulls-in-sort-key": "a sort key holds NULL with no NULLS FIRST or LAST",
    "text-sorted-numbers": "numbers sorted as text",
    "nondeterministic": "the gold's answer changes from day to day or run to run",
    "over-row-cap": "the gold returns more rows than the row cap",
}
"""Every rule, by the name a case file uses to justify it."""

ORDER_WORDS = re.compile(
    r"\b(top \d+|top (?:ten|five|three)|highest|lowest|largest|smallest|biggest|fewest|"
    r"sort(?:ed)?|rank(?:ed)?|ranking|ascending|descending|alphabetical(?:ly)?|"
    r"in (?:\w+ )?order|from (?:most|least|highest|lowest|best|worst) to)\b",
    re.IGNORECASE,
)
"""Words of a question that ask for its rows in an order. "Order(ed)" alone and "most" are left
out: in most domains they name things ("orders", "ordered by Dr Lee", "most significant")."""
PER_GROUP = re.compile(r"\b(each|every|per|within)\b", re.IGNORECASE)
"""A question that picks the top rows of each group asks for a selection, not an order."""

_EXPLICIT_NULLS = re.compile(r"\bNULLS\s+(FIRST|LAST)\b", re.IGNORECASE)
_NONDETERMINISTIC_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in ("CurrentDate", "CurrentTimestamp", "CurrentTime", "CurrentDatetime",
                 "Localtimestamp", "Localtime", "Rand", "Uuid")
    if hasattr(exp, name)  # the names sqlglot parses these functions into
)  # fmt: skip
_NONDETERMINISTIC_NAMES = frozenset(
    {
        "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday",
        "localtimestamp", "localtime", "today", "random", "gen_random_uuid", "uuid",
        "setseed", "get_current_time", "current_localtimestamp",
    }
)  # fmt: skip


@dataclass(frozen=True)
class GoldFinding:
    """One rule a case's gold breaks; ``justified`` is the case file's reason, when it has one."""

    case_id: str
    rule: str
    message: str
    source: str = ""
    justified: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "rule": self.rule,
            "message": self.message,
            "source": self.source,
            "justified": self.justified,
        }

    def line(self) -> str:
        where = f"{self.source}: " if self.source else ""
        head = f"{where}{self.case_id}: [{self.rule}] {self.message}"
        return head + (f" (justified: {self.justified})" if self.justified else "")


@dataclass(frozen=True)
class GoldRun:
    """The gold's result on one database the suite is judged on."""

    database: str
    gold: GoldResult


def lint_gold(
    question: str,
    gold_sql: str,
    runs: Sequence[GoldRun],
    *,
    as_of: date | None = None,
    empty_expected: bool = False,
    has_wrong_sql: bool = False,
) -> list[tuple[str, str]]:
    """Every rule ``gold_sql`` breaks, as ``(rule, message)``; ``runs`` holds its result on the
    main database first, then on each variant (a database where it failed is left out).

    A case that expects no rows (``empty_expected``) is sound only with a wrong reading that
    returns rows (``has_wrong_sql``; smoke check proves it is told apart): the empty answer is
    then a choice the pipeline made, not what any query would give."""
    try:
        tree = parse_sql(gold_sql)
    except WorkbenchError:
        return []  # smoke check reports a gold that does not parse
    findings: list[tuple[str, str]] = []
    findings += _nondeterministic(tree, as_of)
    if not runs:
        return findings
    if not (empty_expected and has_wrong_sql):
        findings += _empty_everywhere(runs, empty_expected)
    findings += _order_missing(question, runs[0].gold)
    findings += _over_row_cap(runs)
    for run in runs:
        keys = _key_values(gold_sql, run.gold)
        if keys is None:
            continue
        findings += _nulls_in_sort_key(gold_sql, keys, run.database)
        findings += _text_sorted_numbers(keys, run.database)
    return _first_per_rule(findings)


def _first_per_rule(findings: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """One finding per rule (the first database that shows it names it)."""
    seen: dict[str, str] = {}
    for rule, message in findings:
        seen.setdefault(rule, message)
    return list(seen.items())


def _empty_everywhere(runs: Sequence[GoldRun], empty_expected: bool) -> list[tuple[str, str]]:
    if any(run.gold.result.row_count for run in runs):
        return []
    where = "the main database" if len(runs) == 1 else f"all {len(runs)} databases"
    fix = (
        "add a wrong_sql, the likely misreading that returns rows, so the case proves the "
        "pipeline did not take it"
        if empty_expected
        else "choose filters that match on one database at least"
    )
    return [
        (
            "empty-everywhere",
            f"the gold returns no rows on {where}, so any query that returns nothing passes; {fix}",
        )
    ]


def _order_missing(question: str, gold: GoldResult) -> list[tuple[str, str]]:
    word = ORDER_WORDS.search(question)
    if word is None or gold.ordered or gold.result.row_count <= 1:
        return []
    if PER_GROUP.search(question) and "PARTITION BY" in gold.result.sql.upper():
        return []  # top N per group: the window function picks the rows
    return [
        (
            "order-missing",
            f"the question says {word.group(0)!r} but the gold has no ORDER BY, so the order of "
            f"its {gold.result.row_count} rows is not judged; add the ORDER BY the question asks for",
        )
    ]


def _over_row_cap(runs: Sequence[GoldRun]) -> list[tuple[str, str]]:
    for run in runs:
        result = run.gold.result
        if result.truncated and result.cut_by in (None, "rows"):
            return [
                (
                    "over-row-cap",
                    f"on {run.database} the gold returns more than the row cap "
                    f"({result.row_count:,} rows kept), so judging streams both results; "
                    "aggregate or narrow the question",
                )
            ]
    return []


def _nondeterministic(tree: exp.Expression, as_of: date | None) -> list[tuple[str, str]]:
    names = [type(node).__name__ for node in tree.find_all(*_NONDETERMINISTIC_NODES)]
    names += [
        node.name
        for node in tree.find_all(exp.Anonymous)
        if node.name.lower() in _NONDETERMINISTIC_NAMES
    ]
    if not names:
        return []
    literal = f"'{as_of.isoformat()}'" if as_of else "the case's as_of date"
    return [
        (
            "nondeterministic",
            f"the gold calls {_sql_name(names[0])}, whose value changes from day to day (or run "
            f"to run) while the case is asked on a pinned date; write {literal} as a literal",
        )
    ]


def _sql_name(node_name: str) -> str:
    spelled = {
        "CurrentDate": "current_date",
        "CurrentTimestamp": "current_timestamp",
        "CurrentTime": "current_time",
        "CurrentDatetime": "current_datetime",
        "Rand": "random()",
        "Localtimestamp": "localtimestamp",
        "Localtime": "localtime",
        "Uuid": "gen_random_uuid()",
    }
    return spelled.get(node_name, f"{node_name.lower()}()")


def _key_values(gold_sql: str, gold: GoldResult) -> list[tuple[Any, ...]] | None:
    """The ORDER BY key values of every gold row, when the gold is ordered and they are known."""
    if not gold.ordered or gold.result.row_count <= 1:
        return None
    if gold.keys is not None:
        return list(gold.keys)
    plan = sort_keys(gold_sql, gold.result.columns)
    if plan is None or plan.sql is not None:
        return None
    return [plan.of(row) for row in gold.result.rows]


def _nulls_in_sort_key(
    gold_sql: str, keys: Sequence[tuple[Any, ...]], database: str
) -> list[tuple[str, str]]:
    """A key with NULLs needs NULLS FIRST/LAST written out (one per such key, counted on the
    text: the parsed tree fills in the dialect's default, so it cannot tell)."""
    with_nulls = [i for i in range(len(keys[0])) if any(k[i] is None for k in keys)]
    if not with_nulls or len(_EXPLICIT_NULLS.findall(gold_sql)) >= len(with_nulls):
        return []
    which = ", ".join(f"#{i + 1}" for i in with_nulls)
    return [
        (
            "nulls-in-sort-key",
            f"on {database} ORDER BY key {which} holds NULL and the gold does not say where NULLs "
            "go (PostgreSQL puts them first when descending, DuckDB last); write NULLS FIRST or "
            "NULLS LAST, or filter the NULLs out",
        )
    ]


def _text_sorted_numbers(keys: Sequence[tuple[Any, ...]], database: str) -> list[tuple[str, str]]:
    for index in range(len(keys[0])):
        values = [k[index] for k in keys if k[index] is not None]
        if len(values) < 2 or not all(isinstance(v, str) for v in values):
            continue
        if any(_number(v) is None for v in values) or len({len(v.strip()) for v in values}) == 1:
            continue  # not all numbers, or all of one width (codes like '007' sort alike)
        if sorted(values) != sorted(values, key=_number):
            return [
                (
                    "text-sorted-numbers",
                    f"on {database} ORDER BY key #{index + 1} holds numbers written as text "
                    f"({values[0]!r}, {values[1]!r}, …), which sort as text ('10' before '9'); "
                    "cast the key to a number in the ORDER BY",
                )
            ]
    return []


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
